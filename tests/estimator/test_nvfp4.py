"""NVFP4 weights (compressed-tensors nvfp4-pack-quantized, ModelOpt NVFP4) and vLLM's quantized KV
layouts (nvfp4, int8_per_token_head), against hand arithmetic and published start-up logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from common.errors import ConfigError, InputError
from estimator.config import load_model_spec
from estimator.engines import vllm
from estimator.estimate import estimate
from estimator.gpus import lookup_gpu
from estimator.grammar import parse_query
from estimator.kv import head_token_bytes, kv_bytes_per_token
from estimator.query import Query
from estimator.weights import ignored_components, weight_bytes, weight_format_name
from tests.helpers import messages

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CAL_CONFIGS = FIXTURES / "calibration2" / "configs"
GiB = 1 << 30

# A Llama-shaped toy: one layer, hidden 4096, 32 heads / 8 KV heads x 128, MLP 14336, vocab 32000.
TOY: dict[str, Any] = {
    "model_type": "llama",
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 1,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "vocab_size": 32000,
    "max_position_embeddings": 8192,
    "torch_dtype": "bfloat16",
    "tie_word_embeddings": False,
}

CT_NVFP4 = {
    "quant_method": "compressed-tensors",
    "format": "nvfp4-pack-quantized",
    "config_groups": {
        "group_0": {
            "targets": ["Linear"],
            "weights": {"num_bits": 4, "type": "float", "strategy": "tensor_group", "group_size": 16},
            "input_activations": {"num_bits": 4, "type": "float", "strategy": "tensor_group", "group_size": 16},
        }
    },
    "ignore": ["lm_head"],
}


def _toy(quantization: dict[str, Any]) -> Any:
    return load_model_spec({**TOY, "quantization_config": quantization})


def _nvfp4_matrix(out_f: int, in_f: int, global_scales: int = 2) -> int:
    # FP4 values two per byte + one FP8 (1 B) scale per 16 inputs of each row + fp32 global scales.
    return out_f * in_f // 2 + out_f * (in_f // 16) + 4 * global_scales


def test_compressed_tensors_nvfp4_bytes_by_hand() -> None:
    spec = _toy(CT_NVFP4)
    assert spec.quantization.format == "nvfp4" and spec.quantization.tensor_scales == 2
    # q 4096x4096, k and v 1024x4096, o 4096x4096, gate and up 14336x4096, down 4096x14336.
    quantized = (
        _nvfp4_matrix(4096, 4096) * 2
        + _nvfp4_matrix(1024, 4096) * 2
        + _nvfp4_matrix(14336, 4096) * 2
        + _nvfp4_matrix(4096, 14336)
    )
    # q: 8,388,608 + 1,048,576 + 8 = 9,437,192; k/v: 2,097,152 + 262,144 + 8 = 2,359,304;
    # gate/up: 29,360,128 + 3,670,016 + 8 = 33,030,152; down: the same 33,030,152.
    assert quantized == 9_437_192 * 2 + 2_359_304 * 2 + 33_030_152 * 3
    # bf16: embedding and lm_head 32000 x 4096 each, two RMSNorm vectors of 4096 and the final norm.
    dense = (32000 * 4096 * 2 + 3 * 4096) * 2
    assert weight_bytes(spec) == quantized + dense
    assert weight_format_name(spec) == "nvfp4 (compressed-tensors)"


def test_w4a16_nvfp4_stores_one_global_scale_per_matrix() -> None:
    groups = {"group_0": {**CT_NVFP4["config_groups"]["group_0"]}}  # type: ignore[index]
    del groups["group_0"]["input_activations"]
    spec = _toy({**CT_NVFP4, "config_groups": groups})
    assert spec.quantization.tensor_scales == 1
    # seven quantized matrices, 4 bytes fewer each
    assert weight_bytes(_toy(CT_NVFP4)) - weight_bytes(spec) == 7 * 4


def test_modelopt_nvfp4_config_top_level_and_nested() -> None:
    top = _toy({"quant_method": "modelopt", "quant_algo": "NVFP4", "group_size": 16, "exclude_modules": ["lm_head"]})
    nested = _toy({"quant_method": "modelopt", "quantization": {"quant_algo": "NVFP4", "exclude_modules": ["lm_head"]}})
    assert top.quantization.method == nested.quantization.method == "modelopt"
    assert weight_bytes(top) == weight_bytes(nested) == weight_bytes(_toy(CT_NVFP4))
    assert weight_format_name(top) == "nvfp4 (modelopt)"
    # config.json as ModelOpt writes it now: "ignore" at the top, beside config_groups.
    current = _toy({"quant_method": "modelopt", "quant_algo": "NVFP4", "ignore": ["lm_head", "self_attn"]})
    assert current.quantization.skipped_modules == ("lm_head", "self_attn")
    assert ignored_components(current.quantization.skipped_modules, "modelopt") == {"attention"}
    # A router entry leaves the MLP's gate_proj quantized.
    assert ignored_components(("model.layers.5.mlp.gate",), "modelopt") == frozenset()
    with pytest.raises(Exception, match="quant_algo 'FP8'"):
        _toy({"quant_method": "modelopt", "quant_algo": "FP8"})


def test_ignore_lists_keep_kinds_of_matrix_unquantized() -> None:
    # llm-compressor's Qwen3.6 recipe (examples/quantization_w4a4_fp4/qwen3_6_example.py).
    recipe = (
        "re:.*lm_head",
        "re:visual.*",
        "re:model.visual.*",
        "re:.*mlp.gate$",
        "re:.*embed_tokens$",
        "re:.*shared_expert_gate$",
        "re:.*linear_attn.*",
    )
    assert ignored_components(recipe, "compressed-tensors") == {"other"}
    # compressed-tensors writes resolved names; one layer's name stands for its kind.
    explicit = ("model.layers.7.self_attn.o_proj", "model.layers.3.mlp.shared_expert.down_proj")
    assert ignored_components(explicit, "compressed-tensors") == {"attention", "shared_experts"}
    # ModelOpt exclude_modules are shell patterns; compressed-tensors plain entries are not.
    assert ignored_components(("model.layers.*.self_attn*",), "modelopt") == {"attention"}
    assert ignored_components(("model.layers.*.self_attn*",), "compressed-tensors") == frozenset()
    # Excluding the attention of the toy: its four projections stay bf16.
    spec = _toy({**CT_NVFP4, "ignore": ["lm_head", "re:.*self_attn.*"]})
    attention = 2 * (4096 * 4096 * 2 + 1024 * 4096 * 2)
    nvfp4_attention = _nvfp4_matrix(4096, 4096) * 2 + _nvfp4_matrix(1024, 4096) * 2
    assert weight_bytes(spec) - weight_bytes(_toy(CT_NVFP4)) == attention - nvfp4_attention


def test_an_ignore_entry_that_is_no_regular_expression_is_a_config_error() -> None:
    # vLLM matches "re:" entries with re.match, which raises on "re:(": no start, so no guess either.
    with pytest.raises(ConfigError, match="not a regular expression"):
        ignored_components(("re:(",), "compressed-tensors")


QWEN36_NVFP4 = load_model_spec(json.loads((CAL_CONFIGS / "qwen3_6_35b_a3b_nvfp4.json").read_text()))


def test_qwen36_35b_a3b_nvfp4_weights_against_the_v020_logs() -> None:
    # RedHatAI/Qwen3.6-35B-A3B-NVFP4 (calibration2 n035, n049, n050 on v0.20.0: "Model loading took
    # 21.86 GiB", with CUTLASS, FlashInfer CUTLASS and Marlin MoE backends alike). NVFP4 (0.5625 B per
    # element + 8 B of global scales per matrix): attention 40 layers' worth of q/k/v/o = 272,629,760
    # elements in 40 matrices, routed experts 40 x 256 x 3 x 2048 x 512 = 32,212,254,720 in 30,720,
    # shared experts 40 x 3 x 2048 x 512 = 125,829,120 in 120. Everything else bf16: the config's
    # 35,114,261,360 parameters less those 32,610,713,600.
    quantized = 32_610_713_600 * 9 // 16 + (40 + 30_720 + 120) * 8
    dense = (35_114_261_360 - 32_610_713_600) * 2
    assert QWEN36_NVFP4.params.total == 35_114_261_360
    assert weight_bytes(QWEN36_NVFP4) == quantized + dense == 23_350_868_960  # 21.747 GiB
    # vLLM loads these tensors as stored (Blackwell: scales swizzled into [round_up(rows, 128),
    # round_up(in / 16, 4)], no padding at these widths; Marlin: repacked, same sizes), plus its
    # rotary table: within 1% of the logged 21.86 GiB, below it.
    query = Query(engine="vllm", vllm="0.20")
    loaded = vllm.loaded_weight_bytes(QWEN36_NVFP4, query, lookup_gpu("rtx-5090"), weight_bytes(QWEN36_NVFP4))
    assert loaded >= weight_bytes(QWEN36_NVFP4)
    assert 21.86 * 0.99 < loaded / GiB < 21.86


def test_kv_head_bytes_by_hand() -> None:
    # nvfp4: K and V each 128 / 2 = 64 B of FP4 + 128 / 16 = 8 FP8 scales -> 144 B per head and token.
    assert head_token_bytes("nvfp4", 128, 128) == 144
    # int8_per_token_head: 2 x 256 int8 + an fp32 scale for K and one for V -> 520 B.
    assert head_token_bytes("int8_per_token_head", 256, 256) == 520
    assert head_token_bytes("fp8", 256, 256) == 512
    llama = load_model_spec(json.loads((FIXTURES / "configs" / "meta-llama__Llama-3.1-8B.json").read_text()))
    # 32 layers x 8 KV heads x 144 B.
    assert kv_bytes_per_token(llama, "nvfp4") == 32 * 8 * 144


QWEN_27B = load_model_spec(json.loads((CAL_CONFIGS / "qwen3_5_27b.json").read_text()))


def test_int8_per_token_head_qwen36_27b_tp2_log() -> None:
    # noonghunna/club-3090#602 (calibration2 n033, v0.24.0, TP 2, MTP x 3, prefix caching):
    # attention 2 heads per rank x (2 x 256 + 8) = 1,040 B per token and layer; GDN state per rank:
    # conv (2 x 16 x 128 + 48 x 128) / 2 = 5,120 channels x (3 + 3) x 2 B = 61,440 + SSM 24 x 128 x
    # 128 x 4 B = 1,572,864 -> 1,634,304 B; 1,634,304 / 1,040 = 1,571.4 -> 1,584 tokens (16-aligned),
    # page 1,584 x 1,040 = 1,647,360 B ("mamba page padding 0.80%" in the thread).
    query = Query(
        engine="vllm",
        vllm="0.24",
        kv="int8_per_token_head",
        gpus=2,
        seq_len=262_144,
        mtp=3,
        prefix_caching=True,
        weight_format="fp8",
    )
    layout, _ = vllm.kv_layout(QWEN_27B, query)
    assert layout.block_size == 1584
    assert layout.types[0].page_bytes == 1584 * 1040
    # 16 + 1 (MTP) attention layers per group, 48 GDN layers in 3 groups of 17: 4 groups. 5.23 GiB /
    # (17 x 1,647,360) = 200.5 -> 200 blocks; a request needs cdiv(262144, 1584) = 166 attention
    # blocks + 3 x (2 + 3) state pages = 181: 200 / 181 = 1.10x, int(1.1050 x 262,144) = 289,661.
    _, tokens, concurrency = vllm.kv_capacity(QWEN_27B, query, int(5.23 * GiB), batched_tokens=8192)
    assert f"{concurrency:.2f}" == "1.10"
    assert tokens == 289_661 == int(200 / 181 * 262_144)


def test_nvfp4_kv_qwen38_27b_log() -> None:
    # vllm-project/vllm#57475 (calibration2 n010, 0.29.1rc1 build, TP 1, prefix caching): attention
    # 4 heads x 2 x (128 + 16) = 1,152 B per token and layer; GDN state: conv 10,240 x
    # 3 x 2 B = 61,440 + SSM 48 x 128 x 128 x 4 B = 3,145,728 -> 3,207,168 B = 2,784 x 1,152 exactly.
    query = Query(engine="vllm", vllm="0.29", kv="nvfp4", seq_len=124_000, prefix_caching=True, max_num_seqs=1)
    layout, _ = vllm.kv_layout(QWEN_27B, query)
    assert layout.block_size == 2784 and layout.types[0].page_bytes == 3_207_168
    # 2.97 GiB / (16 x 3,207,168) = 62.1 -> 62 blocks; a request: cdiv(124000, 2784) = 45 attention
    # blocks + 3 GDN groups x 2 "align" pages (no prefill-checkpoint page for GDN before 0.33) = 51.
    _, tokens, _ = vllm.kv_capacity(QWEN_27B, query, int(2.97 * GiB), batched_tokens=2048)
    assert tokens == 150_745 == int(62 / 51 * 124_000)


@pytest.mark.parametrize(
    ("words", "why"),
    [
        (["vllm=0.19", "kv=nvfp4"], "vLLM 0.19 has no nvfp4 KV cache"),
        (["vllm=0.19", "kv=int8_per_token_head"], "vLLM 0.19 has no int8_per_token_head KV cache"),
        (["vllm=0.20", "kv=nvfp4"], "does not implement it yet"),
        (["engine=transformers", "kv=nvfp4"], "transformers has no nvfp4 KV cache"),
        (["engine=transformers", "kv=int8_per_token_head"], "transformers has no int8_per_token_head"),
    ],
)
def test_releases_and_engines_refuse_what_they_lack(words: list[str], why: str) -> None:
    query, _ = parse_query(["m", "engine=vllm", *words] if "engine=transformers" not in words else ["m", *words])
    with pytest.raises(InputError, match=why):
        estimate(QWEN_27B, query, model_id="m")


@pytest.mark.parametrize(
    ("words", "why"),
    [
        (["vllm=0.29", "kv=nvfp4", "gpu=h100"], "sm100-family GPUs"),
        (["vllm=0.31", "kv=nvfp4", "gpu=rtx-5090"], "sm100-family GPUs"),
        (["vllm=0.33", "kv=nvfp4", "gpu=t4"], "sm80, sm90, sm100 and sm120"),
    ],
)
def test_a_gpu_that_does_not_run_the_kv_dtype_is_a_verdict(words: list[str], why: str) -> None:
    # The release has the dtype and vram sizes its pages; vLLM on this GPU refuses to start it: an
    # answer (exit 0) whose verdict says so, as for a TP size the heads do not divide.
    query, _ = parse_query(["m", "engine=vllm", "s=8k", *words])
    est = estimate(QWEN_27B, query, model_id="m")
    assert est.fit is not None and not est.fit.fits
    assert est.fit.engine_refuses is not None and why in est.fit.engine_refuses
    assert est.fit.engine_refuses.startswith(f"vLLM will not start with kv=nvfp4: vLLM {query.vllm}")
    assert isinstance(est.engine_report, vllm.VllmReport) and not est.engine_report.starts
    assert [n.code for n in est.warnings].count("engine_refuses") == 1


@pytest.mark.parametrize(
    "words",
    [
        ["vllm=0.20", "kv=int8_per_token_head", "gpu=rtx-3090"],
        ["vllm=0.29", "kv=nvfp4", "gpu=b200"],
        ["vllm=0.32", "kv=nvfp4", "gpu=rtx-5090"],
        ["vllm=0.33", "kv=nvfp4", "gpu=h100"],
        ["vllm=0.29", "kv=nvfp4"],
    ],
)
def test_releases_take_their_quantized_kv(words: list[str]) -> None:
    query, _ = parse_query(["m", "engine=vllm", "s=8k", *words])
    est = estimate(QWEN_27B, query, model_id="m")
    assert est.details.kv_dtype == query.kv


def test_transformers_refuses_modelopt_checkpoints() -> None:
    spec = _toy({"quant_method": "modelopt", "quant_algo": "NVFP4", "ignore": ["lm_head"]})
    est = estimate(spec, Query(), model_id="m")
    assert any(m.startswith("transformers has no ModelOpt quantizer") for m in messages(est))
    est = estimate(spec, Query(gpu="b200"), model_id="m")
    assert not est.fit.fits and est.fit.engine_refuses.startswith("transformers has no ModelOpt quantizer")
    # vLLM loads it.
    assert estimate(spec, Query(engine="vllm", gpu="b200"), model_id="m").fit.engine_refuses is None


def test_nvfp4_checkpoint_headers_are_the_stored_bytes_without_the_mtp_layer() -> None:
    # A one-layer NVFP4 toy as compressed-tensors stores it (U8 [out, in / 2], F8_E4M3 [out, in / 16],
    # F32 global scales), plus a Qwen3.5-style "mtp." layer that only speculative decoding loads.
    from estimator.spec import SafetensorsInfo, TensorInfo

    def packed(out_f: int, in_f: int) -> dict[str, TensorInfo]:
        return {
            "weight_packed": TensorInfo(dtype="U8", shape=(out_f, in_f // 2), nbytes=out_f * in_f // 2),
            "weight_scale": TensorInfo(dtype="F8_E4M3", shape=(out_f, in_f // 16), nbytes=out_f * in_f // 16),
            "weight_global_scale": TensorInfo(dtype="F32", shape=(1,), nbytes=4),
            "input_global_scale": TensorInfo(dtype="F32", shape=(1,), nbytes=4),
        }

    tensors = {f"model.layers.0.self_attn.q_proj.{k}": v for k, v in packed(4096, 4096).items()} | {
        "model.embed_tokens.weight": TensorInfo(dtype="BF16", shape=(32000, 4096), nbytes=32000 * 4096 * 2),
        "mtp.layers.0.mlp.down_proj.weight": TensorInfo(dtype="BF16", shape=(4096, 14336), nbytes=4096 * 14336 * 2),
        "mtp.fc.weight": TensorInfo(dtype="BF16", shape=(4096, 8192), nbytes=4096 * 8192 * 2),
    }
    spec = load_model_spec(
        {**TOY, "quantization_config": CT_NVFP4},
        safetensors=SafetensorsInfo(parameters={"BF16": 1, "U8": 1}, tensors=tensors),
    )
    # q_proj: 8,388,608 + 1,048,576 + 8; the embedding 262,144,000; the mtp tensors left out.
    assert spec.checkpoint_bytes == 9_437_192 + 262_144_000


def test_vllm_refuses_nvfp4_weights_below_compute_capability_75() -> None:
    spec = _toy(CT_NVFP4)
    est = estimate(spec, Query(engine="vllm", gpu="v100-32gb"), model_id="m")
    assert not est.fit.fits
    assert est.fit.engine_refuses.endswith(
        f"NVFP4 kernels need compute capability 7.5 or newer, and the {est.fit.gpu_name} is 7.0"
    )
    # T4 (7.5) loads it (Marlin / emulation kernels).
    assert estimate(spec, Query(engine="vllm", gpu="t4"), model_id="m").fit.engine_refuses is None
