"""vLLM's tensor-parallel check: every dimension its layers divide by the TP size, with the
expected sizes worked out by hand from each config (not read back from vram)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from estimator.config import load_model_spec
from estimator.engines import vllm
from estimator.query import Query
from estimator.spec import ModelSpec

ROOT = Path(__file__).resolve().parents[2]
CALIBRATION = ROOT / "tests/fixtures/calibration2/configs"
ORACLE = ROOT / "tests/fixtures/oracle/configs"


def _spec(path: Path, **changes: object) -> ModelSpec:
    return load_model_spec({**json.loads(path.read_text()), **changes})


QWEN27 = _spec(CALIBRATION / "qwen3_5_27b.json")


def _starts(spec: ModelSpec, gpus: int, **kw: object) -> str | None:
    return vllm.startup_refusal(spec, Query(engine="vllm", gpus=gpus, **kw))


def test_qwen3_5_27b_mlp_width_refuses_12_and_24() -> None:
    # 24 heads / 12 = 2 and the 4 KV heads are replicated (12 / 4 = 3), but the MLP's
    # intermediate_size 17,408 = 2^10 x 17: 17,408 = 12 x 1,450 + 8 = 24 x 725 + 8.
    assert vllm.tp_refusal(QWEN27, 12) == "the model's intermediate_size 17,408 does not divide by 12"
    assert vllm.tp_refusal(QWEN27, 24) == "the model's intermediate_size 17,408 does not divide by 24"
    # 24 heads = 16 + 8: the heads refuse 16 first.
    assert vllm.tp_refusal(QWEN27, 16) == "the model's 24 attention heads do not divide by 16"
    # Divisors of 24 heads: 1, 2, 3, 4, 6, 8, 12, 24; the 4 KV heads rule out 3 and 6 (neither
    # divides the other), 17,408 rules out 3, 6, 12 and 24; the 16 GDN key heads agree.
    assert vllm.ENGINE.tp_sizes(QWEN27, 64) == (1, 2, 4, 8)
    assert _starts(QWEN27, 12) == (
        "vLLM will not start with gpus=12: the model's intermediate_size 17,408 does not divide by 12; "
        "it accepts gpus=8"
    )
    # Past the heads, only the largest accepted size below is offered (was "gpus=12 or gpus=24").
    assert vllm.nearest_tp_sizes(QWEN27, 16) == (8,)


def test_gated_deltanet_heads_divide() -> None:
    # Qwen3.5-27B with an MLP width of 3 x 2^12 = 12,288 (divides by 12): the 16 linear-attention
    # key heads (16 = 12 + 4) refuse 12 next; its 48 value heads would take it (48 = 4 x 12).
    config = json.loads((CALIBRATION / "qwen3_5_27b.json").read_text())
    wide = load_model_spec({**config, "text_config": {**config["text_config"], "intermediate_size": 12_288}})
    assert vllm.tp_refusal(wide, 12) == "the model's 16 linear-attention key heads do not divide by 12"
    # 32 value heads and 16 key heads (Qwen3-Next): 8 and 16 divide both; 32 = 16 x 2 is refused
    # by the 16 attention heads before the mixer.
    nxt = _spec(ORACLE / "qwen3_next.json")
    assert vllm.tp_refusal(nxt, 16) is None
    assert vllm.tp_refusal(nxt, 32) == "the model's 16 attention heads do not divide by 32"


def test_mamba2_groups_divide_or_are_one() -> None:
    # Pure Mamba-2: 128 heads, n_groups 8. 16 divides the heads (128 = 16 x 8) but not the 8 groups;
    # MambaMixer2 accepts groups that do not divide only when there is one (replicated on each rank).
    mamba = _spec(ORACLE / "mamba2.json")
    assert vllm.tp_refusal(mamba, 8) is None
    assert vllm.tp_refusal(mamba, 16) == "the model's 8 Mamba groups (n_groups) do not divide by 16"
    one_group = _spec(ORACLE / "mamba2.json", n_groups=1)
    assert vllm.tp_refusal(one_group, 16) is None
    # 128 heads = 3 x 42 + 2: refused whatever the groups.
    assert vllm.tp_refusal(one_group, 3) == "the model's 128 attention heads do not divide by 3"
    heads96 = _spec(ORACLE / "mamba2.json", n_groups=1, num_heads=96)
    assert vllm.tp_refusal(heads96, 64) == "the model's 96 attention heads do not divide by 64"


def test_nemotron_h_hybrid_moe_expert_width() -> None:
    # Nemotron-H (Mamba-2 hybrid with MoE): 32 heads, 8 KV heads, 128 Mamba heads in 8 groups, dense
    # MLP 21,504 = 16 x 1,344, but routed and shared experts 7,688 = 16 x 480 + 8: 16 is refused.
    nemotron = _spec(ORACLE / "nemotron_h.json")
    assert vllm.tp_refusal(nemotron, 8) is None  # 7,688 = 8 x 961
    assert vllm.tp_refusal(nemotron, 16) == "the model's expert intermediate size 7,688 does not divide by 16"
    # 12 Mamba heads in 2 groups: 4 divides the 32 attention heads, the 8 KV heads, the experts
    # (7,688 = 4 x 1,922) and the 12 Mamba heads (4 x 3); the 2 groups neither divide by 4 nor are one.
    narrow = _spec(ORACLE / "nemotron_h.json", mamba_num_heads=12, mamba_head_dim=64, n_groups=2)
    assert vllm.tp_refusal(narrow, 4) == "the model's 2 Mamba groups (n_groups) do not divide by 4"
    assert vllm.tp_refusal(narrow, 2) is None


def test_granite_hybrid_single_group_replicates() -> None:
    # Granite-4 hybrid: 32 heads, 32 KV heads, experts 11,008 = 32 x 344, shared 1,024, 128 Mamba
    # heads and one group: TP 32 passes every check, 64 exceeds the 32 attention heads.
    granite = _spec(ORACLE / "granitemoehybrid.json")
    assert vllm.tp_refusal(granite, 32) is None
    assert vllm.tp_refusal(granite, 64) == "the model's 32 attention heads do not divide by 64"


def test_moe_expert_width() -> None:
    # MiniMax-M2: 48 heads, 8 KV heads, experts 1,536 = 2^9 x 3. 12 divides the heads but neither
    # divides nor is divided by the 8 KV heads; 24 and 48 are multiples of 8 (KV replicated) and
    # divide 1,536 (64 and 32). A width of 1,544 = 24 x 64 + 8 refuses 24.
    minimax = _spec(CALIBRATION / "minimax_m2.json")
    assert vllm.tp_refusal(minimax, 12) == "the model's 8 KV heads and 12 GPUs do not divide one another"
    assert vllm.ENGINE.tp_sizes(minimax, 64) == (1, 2, 4, 8, 16, 24, 48)
    odd = _spec(CALIBRATION / "minimax_m2.json", intermediate_size=1_544)
    assert vllm.tp_refusal(odd, 24) == "the model's expert intermediate size 1,544 does not divide by 24"
    assert vllm.tp_refusal(odd, 8) is None  # 1,544 = 8 x 193


def test_mla_splits_heads_not_the_latent() -> None:
    # DeepSeek-V3: 128 heads, one cached latent (no KV heads to split), dense MLP 18,432, experts
    # and shared expert 2,048. 128 divides all three (128, 144, 16); 256 exceeds the heads.
    dsv3 = _spec(ORACLE / "deepseek_v3.json")
    assert vllm.tp_refusal(dsv3, 128) is None
    assert vllm.tp_refusal(dsv3, 256) == "the model's 128 attention heads do not divide by 256"
    # DeepSeek-V2 (16 heads): dense 10,944 = 2^6 x 171, experts 1,408 = 2^7 x 11, shared 2,816:
    # TP 16 passes; a dense width of 10,952 = 16 x 684 + 8 refuses it.
    v2 = _spec(ORACLE / "deepseek_v2.json")
    assert vllm.tp_refusal(v2, 16) is None
    odd = _spec(ORACLE / "deepseek_v2.json", intermediate_size=10_952)
    assert vllm.tp_refusal(odd, 16) == "the model's intermediate_size 10,952 does not divide by 16"


def test_kimi_linear_kda_heads() -> None:
    # Kimi-Linear: 32 attention heads and 32 KDA heads; 24 KDA heads refuse 16 (24 = 16 + 8).
    kimi = _spec(ORACLE / "kimi_linear.json")
    assert vllm.tp_refusal(kimi, 32) is None
    narrow = _spec(ORACLE / "kimi_linear.json", linear_num_heads=24)
    assert vllm.tp_refusal(narrow, 16) == "the model's 24 KDA heads do not divide by 16"
    assert vllm.tp_refusal(narrow, 8) is None


def test_qwen_vision_tower_divides_unless_text_only() -> None:
    # Qwen3.5-27B's vision tower (Qwen3-VL's): 16 heads, MLP 4,304 = 16 x 269. With 32 attention
    # heads, 8 KV heads and a 16,384-wide MLP the text model takes 32; the tower's 16 heads do not.
    config = json.loads((CALIBRATION / "qwen3_5_27b.json").read_text())
    text = load_model_spec({**config, "text_config": {**config["text_config"], "intermediate_size": 16_384}})
    spec = text.model_copy(update={"num_attention_heads": 32, "num_kv_heads": 8})
    layers = tuple(
        layer.model_copy(update={"mixer_heads": 64, "mixer_groups": 32}) if layer.mixer else layer
        for layer in spec.layers
    )
    spec = spec.model_copy(update={"layers": layers})
    assert vllm.tp_refusal(spec, 32) == "the vision tower's 16 heads do not divide by 32"
    assert vllm.tp_refusal(spec, 32, vision=False) is None
    assert _starts(spec, 32, mm_limit=0) is None
    assert "the vision tower's 16 heads" in (_starts(spec, 32) or "")


SUGGESTED = [
    *sorted((CALIBRATION).glob("*.json")),
    *(
        ORACLE / f"{name}.json"
        for name in (
            "qwen3_next",
            "nemotron_h",
            "granitemoehybrid",
            "falcon_h1",
            "bamba",
            "mamba2",
            "zamba2",
            "kimi_linear",
            "deepseek_v2",
            "deepseek_v3",
            "mistral4",
        )
    ),
]


@pytest.mark.parametrize("path", SUGGESTED, ids=lambda p: p.stem)
def test_every_suggested_size_is_accepted(path: Path) -> None:
    spec = _spec(path)
    for gpus in range(2, 65):
        for n in vllm.nearest_tp_sizes(spec, gpus):
            assert vllm.tp_refusal(spec, n) is None, (gpus, n)
    for n in vllm.ENGINE.tp_sizes(spec, 256):
        assert vllm.tp_refusal(spec, n) is None, n


# Block-FP8 checkpoints: ``weight_block_size`` [128, 128] (Qwen3-30B-A3B-FP8's and DeepSeek-V3's
# quantization_config).
FP8_BLOCKS = {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8", "weight_block_size": [128, 128]}
QWEN3_MOE_FP8 = _spec(ROOT / "tests/fixtures/configs/Qwen__Qwen3-30B-A3B.json", quantization_config=FP8_BLOCKS)
DEEPSEEK_V3_FP8 = _spec(ROOT / "tests/fixtures/configs/deepseek-ai__DeepSeek-V3.json")


def _at(release: str, gpus: int = 1) -> Query:
    return Query(engine="vllm", vllm=release, gpus=gpus)


def test_fp8_expert_blocks_refuse_narrow_shards_up_to_028() -> None:
    # Qwen3-30B-A3B: 32 heads, 4 KV heads, experts 768 wide, hidden 2,048, no dense or shared MLP;
    # o_proj's input 32 x 128 = 4,096. Divisible sizes: 1, 2, 4, 8, 16, 32 (KV replicated past 4).
    # Per GPU the experts are 384 / 192 / 96 / 48 / 24 wide at TP 2 / 4 / 8 / 16 / 32, and only 384
    # = 3 x 128 is whole blocks. Up to 0.28 Fp8MoEMethod raises for the rest.
    for release in ("0.25", "0.28"):
        assert vllm.ENGINE.tp_sizes(QWEN3_MOE_FP8, 64, _at(release)) == (1, 2)
        assert vllm.tp_refusal(QWEN3_MOE_FP8, 4, profile=vllm.version_profile(_at(release))[0]) == (
            "the model's expert intermediate size 768 over 4 GPUs (192 each) is not a multiple of its "
            "128x128 FP8 weight blocks"
        )
        assert vllm.startup_refusal(QWEN3_MOE_FP8, _at(release, 8)) == (
            "vLLM will not start with gpus=8: the model's expert intermediate size 768 over 8 GPUs (96 each) "
            "is not a multiple of its 128x128 FP8 weight blocks; it accepts gpus=2"
        )
    # From 0.29 the scales are refined to gcd(128, 128, width, 2,048) when that is 32 or more:
    # 192 -> 64, 96 -> 32 start; 48 -> 16 and 24 -> 8 do not.
    for release in ("0.29", "0.32", "0.33"):
        assert vllm.ENGINE.tp_sizes(QWEN3_MOE_FP8, 64, _at(release)) == (1, 2, 4, 8)
        assert vllm.startup_refusal(QWEN3_MOE_FP8, _at(release, 8)) is None
        assert vllm.startup_refusal(QWEN3_MOE_FP8, _at(release, 16)) == (
            "vLLM will not start with gpus=16: the model's expert intermediate size 768 over 16 GPUs (48 each) "
            "is not a multiple of its 128x128 FP8 weight blocks, nor of a refined block of 32 or more "
            "(the largest that fits is 16); it accepts gpus=8"
        )
    # bf16 weights have no blocks: every divisible size up to the 32 heads.
    bf16 = _spec(ROOT / "tests/fixtures/configs/Qwen__Qwen3-30B-A3B.json")
    assert vllm.ENGINE.tp_sizes(bf16, 64, _at("0.28")) == (1, 2, 4, 8, 16, 32)


def test_fp8_compressed_tensors_experts_are_never_refined() -> None:
    # compressed-tensors' FP8 MoE method keeps the strict check at 0.33 (validate_fp8_block_shape_moe).
    ct = {
        "quant_method": "compressed-tensors",
        "format": "float-quantized",
        "config_groups": {
            "group_0": {
                "targets": ["Linear"],
                "weights": {"num_bits": 8, "type": "float", "strategy": "block", "block_structure": [128, 128]},
                "input_activations": {"num_bits": 8, "type": "float", "strategy": "group", "group_size": 128},
            }
        },
        "ignore": ["lm_head"],
    }
    spec = _spec(ROOT / "tests/fixtures/configs/Qwen__Qwen3-30B-A3B.json", quantization_config=ct)
    assert spec.quantization.method == "compressed-tensors" and spec.quantization.block_size == (128, 128)
    assert vllm.ENGINE.tp_sizes(spec, 64, _at("0.33")) == (1, 2)


def test_fp8_row_blocks_refuse_at_every_release() -> None:
    # DeepSeek-V3 (block FP8): dense MLP 18,432 in the first 3 layers, shared expert 2,048, experts
    # 2,048, MLA o_proj input 128 x 128 = 16,384. At TP 32 the dense down projection's input is
    # 18,432 / 32 = 576 = 4 x 128 + 64 per GPU: validate_fp8_block_shape raises at every release,
    # whatever the experts do (2,048 / 32 = 64 would be refined to 64 from 0.29). At TP 16:
    # 1,152 = 9 x 128, 128, 128 and 1,024: accepted.
    for release in ("0.25", "0.28", "0.33"):
        assert vllm.ENGINE.tp_sizes(DEEPSEEK_V3_FP8, 256, _at(release)) == (1, 2, 4, 8, 16)
        assert vllm.startup_refusal(DEEPSEEK_V3_FP8, _at(release, 32)) == (
            "vLLM will not start with gpus=32: the model's intermediate_size 18,432 over 32 GPUs (576 each) "
            "is not a multiple of its 128x128 FP8 weight blocks; it accepts gpus=16"
        )
    # With a dense width of 16,384 (512 per GPU at TP 32) the shared expert's 64 refuses next.
    wide = _spec(ROOT / "tests/fixtures/configs/deepseek-ai__DeepSeek-V3.json", intermediate_size=16_384)
    assert vllm.tp_refusal(wide, 32) == (
        "the model's shared-expert intermediate size 2,048 over 32 GPUs (64 each) is not a multiple of its "
        "128x128 FP8 weight blocks"
    )
    # With two shared experts (4,096: 128 per GPU) only the routed experts' 64 remain: refused up to
    # 0.28, refined to 64 x 64 blocks from 0.29 (gcd(128, 128, 64, 7,168) = 64).
    two = _spec(
        ROOT / "tests/fixtures/configs/deepseek-ai__DeepSeek-V3.json", intermediate_size=16_384, n_shared_experts=2
    )
    assert vllm.tp_refusal(two, 32, profile=vllm.version_profile(_at("0.28"))[0]) == (
        "the model's expert intermediate size 2,048 over 32 GPUs (64 each) is not a multiple of its "
        "128x128 FP8 weight blocks"
    )
    assert vllm.tp_refusal(two, 32, profile=vllm.version_profile(_at("0.29"))[0]) is None


def test_dsv4_shared_expert_pads_its_blocks_from_024() -> None:
    # DeepSeek-V4-Flash: shared expert 2,048 (64 per GPU at TP 32), routed experts MXFP4 (no blocks).
    # Its DeepseekV4MLP rounds the width up to whole 128-blocks per GPU from 0.24, not at 0.23.
    dsv4 = _spec(CALIBRATION / "deepseek_v4_flash.json")
    assert vllm.ENGINE.tp_sizes(dsv4, 64, _at("0.24")) == (1, 2, 4, 8, 16, 32, 64)
    assert vllm.tp_refusal(dsv4, 32, profile=vllm.version_profile(_at("0.23"))[0]) == (
        "the model's shared-expert intermediate size 2,048 over 32 GPUs (64 each) is not a multiple of its "
        "128x128 FP8 weight blocks"
    )


def test_fp8_blocks_go_with_a_cast_of_the_weights() -> None:
    # dtype=bf16 / p=32 serve DeepSeek-V3 cast from the checkpoint: no FP8 blocks, so the sizes are
    # those its widths divide by (128 heads, 18,432 = 2^11 x 9, 2,048), TP 32 included.
    for cast in ({"weight_format": "bf16"}, {"bits": 32}):
        query = Query(engine="vllm", vllm="0.28", **cast)
        assert vllm.ENGINE.tp_sizes(DEEPSEEK_V3_FP8, 256, query) == (1, 2, 4, 8, 16, 32, 64, 128)
        assert vllm.startup_refusal(DEEPSEEK_V3_FP8, Query(engine="vllm", vllm="0.28", gpus=32, **cast)) is None
