"""Architectures sized by estimator.special, against the transformers oracle and by hand.

The oracle (tests/fixtures/oracle/transformers-5.25.json) holds the meta-device parameter count and
the cache a real forward left for each type's default config; the hand arithmetic below re-derives
a part of each model from its config's widths, independently of the builders.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from estimator.config import load_model_spec
from estimator.kv import kv_bytes_per_token, kv_cache_bytes, state_bytes_per_sequence

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "oracle" / "transformers-5.25.json"

pytestmark = pytest.mark.skipif(not FIXTURE.exists(), reason="the oracle fixture is not in this checkout")


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


def _coverage() -> Any:
    spec = importlib.util.spec_from_file_location("coverage_tool", ROOT / "tools" / "coverage.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["coverage_tool"] = module
    spec.loader.exec_module(module)
    return module


def _config(doc: dict[str, Any], model_type: str) -> dict[str, Any]:
    return json.loads((FIXTURE.parent / doc["types"][model_type]["config_file"]).read_text())


EXACT = [
    "mamba",
    "falcon_mamba",
    "gemma3n_text",
    "mistral_large4",
    "mllama",
    "deepseek_v4",
    "zamba",
    "zamba2",
    "inkling_text",
]


@pytest.mark.parametrize("model_type", EXACT)
def test_exact_against_the_oracle(model_type: str, doc: dict[str, Any]) -> None:
    row = _coverage().compare(model_type, doc["types"][model_type], FIXTURE.parent, doc)
    assert row.verdict == "exact", f"{model_type}: {row.verdict}: {row.why}"


def test_mamba_by_hand(doc: dict[str, Any]) -> None:
    cfg = _config(doc, "mamba")
    h, inner, n = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    d_state, kernel, rank, vocab = cfg["state_size"], cfg["conv_kernel"], cfg["time_step_rank"], cfg["vocab_size"]
    mixer = (
        h * 2 * inner  # in_proj (no bias)
        + inner * kernel
        + inner  # depthwise conv1d and its bias
        + inner * (rank + 2 * d_state)  # x_proj
        + rank * inner
        + inner  # dt_proj with bias
        + inner * d_state
        + inner  # A_log, D
        + inner * h  # out_proj
    )
    spec = load_model_spec(cfg)
    assert spec.params.total == vocab * h + n * (mixer + h) + h  # tied lm_head, one norm per layer, final norm
    assert spec.num_attention_heads == 0 and kv_bytes_per_token(spec, "bf16") == 0
    # transformers: a conv window of conv_kernel columns in bf16 and the SSM state in fp32, per layer.
    assert state_bytes_per_sequence(spec) == n * (inner * kernel * 2 + inner * d_state * 4)
    assert kv_cache_bytes(spec, seq_len=100_000, batch=2, kv_dtype="bf16") == 2 * state_bytes_per_sequence(spec)


def test_gemma3n_text_by_hand(doc: dict[str, Any]) -> None:
    cfg = _config(doc, "gemma3n_text")
    h, n, shared = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_kv_shared_layers"]
    heads, kv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    alt, rank, w = cfg["altup_num_inputs"], cfg["laurel_rank"], cfg["hidden_size_per_layer_input"]
    owners = n - shared
    attention = n * (2 * h * heads * hd + hd) + owners * (2 * h * kv * hd + hd)  # q/o + q_norm; k/v + k_norm
    mlp = sum(3 * h * width for width in cfg["intermediate_size"])
    altup = n * (h + alt * alt + alt**3 + h * alt + h) + 2 * (alt - 1) * h * h
    laurel = n * (2 * h * rank + h)
    per_layer = cfg["vocab_size_per_layer_input"] * n * w + h * n * w + w + n * (2 * h * w + h)
    norms = n * 4 * h + h
    spec = load_model_spec(cfg)
    expected = cfg["vocab_size"] * h + attention + mlp + altup + laurel + per_layer + norms
    assert spec.params.total == expected
    # The last num_kv_shared_layers layers read an earlier layer's cache and keep none of their own.
    assert [layer.kind for layer in spec.layers[owners:]] == ["none"] * shared
    assert kv_bytes_per_token(spec, "bf16") == owners * 2 * kv * hd * 2


def test_mistral_large4_cache_by_hand(doc: dict[str, Any]) -> None:
    cfg = _config(doc, "mistral_large4")
    text = cfg["text_config"]
    rank, rope, index = text["kv_lora_rank"], text["qk_rope_head_dim"], text["index_head_dim"]
    rope_layers = sum(text["no_rope_layers"])  # 1: the layer uses RoPE
    plain = text["num_hidden_layers"] - rope_layers
    spec = load_model_spec(cfg)
    # Every layer caches the latent and the indexer key; only RoPE layers add the rope key.
    expected = rope_layers * (rank + rope + index) * 2 + plain * (rank + index) * 2
    assert kv_bytes_per_token(spec, "bf16") == expected


def test_mistral_large4_shared_latents_and_indexers(doc: dict[str, Any]) -> None:
    cfg = _config(doc, "mistral_large4")
    text = dict(cfg["text_config"])
    n, h = text["num_hidden_layers"], text["hidden_size"]
    rank, rope, index = text["kv_lora_rank"], text["qk_rope_head_dim"], text["index_head_dim"]
    base = load_model_spec(cfg)
    # Layer 1 reads layer 0's latent but keeps its own indexer; layer 2 reads layer 0's latent and
    # layer 1's top-k (no indexer at all). Layers 0-2 all use RoPE in this config.
    assert text["no_rope_layers"][:3] == [1, 1, 1]
    text["kv_source_layers"] = [0, 0, 0, *range(3, n)]
    text["indexer_types"] = ["full", "full", "shared", *["full"] * (n - 3)]
    spec = load_model_spec({**cfg, "text_config": text})
    assert [layer.kind for layer in spec.layers[:3]] == ["mla", "mla", "none"]
    dropped_cache = (rank + rope) * 2 + (rank + rope + index) * 2
    assert kv_bytes_per_token(base, "bf16") - kv_bytes_per_token(spec, "bf16") == dropped_cache
    i_heads = text["index_n_heads"]
    indexer = h * i_heads * index + h * index + 2 * index + h * i_heads + 2 * h + 2 * i_heads
    kv_a = h * (rank + rope) + rank  # kv_a_proj_with_mqa and kv_a_layernorm
    assert base.params.total - spec.params.total == 2 * kv_a + indexer


def test_mllama_by_hand(doc: dict[str, Any]) -> None:
    cfg = _config(doc, "mllama")
    text, vc = cfg["text_config"], cfg["vision_config"]
    h, heads, kv = text["hidden_size"], text["num_attention_heads"], text["num_key_value_heads"]
    hd, n, cross = h // heads, text["num_hidden_layers"], len(text["cross_attention_layers"])
    spec = load_model_spec(cfg)
    # Text-only: the cross-attention layers cache nothing; the self-attention layers cache k and v.
    assert kv_bytes_per_token(spec, "bf16") == (n - cross) * 2 * kv * hd * 2
    # One global vision layer: biased fc1/fc2, bias-free attention, two LayerNorms, two gates.
    hv, inter = vc["hidden_size"], vc["intermediate_size"]
    global_layer = 4 * hv * hv + 2 * hv * inter + inter + hv + 4 * hv + 2
    local_layer = global_layer - 2
    tower = vc["num_hidden_layers"] * local_layer + vc["num_global_layers"] * global_layer
    assert spec.params.vision > tower
    assert spec.vision is not None and spec.vision.num_layers == vc["num_hidden_layers"] + vc["num_global_layers"]
    # The images' cross-attention keys and values are named, not silently dropped.
    tokens = vc["max_num_tiles"] * ((vc["image_size"] // vc["patch_size"]) ** 2 + 1)
    assert any(f"{tokens:,} image tokens" in w for w in spec.warnings)


def test_deepseek_v4_layer_caches_match_the_oracle_tensors(doc: dict[str, Any]) -> None:
    spec = load_model_spec(_config(doc, "deepseek_v4"))
    for group in doc["types"]["deepseek_v4"]["cache"]["layer_groups"]:
        layer = spec.layers[group["layers"][0]]
        assert all(spec.layers[i] == layer for i in group["layers"])
        one = spec.model_copy(update={"layers": (layer,)})
        for length, expected in group["bytes_at"].items():
            assert kv_cache_bytes(one, seq_len=int(length), batch=1, kv_dtype="bf16") == expected


def test_deepseek_v4_cache_by_hand_mid_window(doc: dict[str, Any]) -> None:
    cfg = _config(doc, "deepseek_v4")
    hd, idx, window = cfg["head_dim"], cfg["index_head_dim"], cfg["sliding_window"]
    csa, hca = (
        cfg["compress_rates"]["compressed_sparse_attention"],
        cfg["compress_rates"]["heavily_compressed_attention"],
    )
    spec = load_model_spec(cfg)
    length = 1001  # neither rate divides it: the unfinished windows sit in the buffers
    sliding = (window - 1) * hd * 2  # keys are the values: one tensor, the last window - 1 tokens
    hca_bytes = sliding + (length // hca) * hd * 2 + (length % hca) * 2 * hd * 2
    csa_bytes = (
        sliding
        + (length // csa) * (hd + idx) * 2  # compressor and indexer entries
        + (length % csa) * 2 * (2 * hd + 2 * idx) * 2  # buffered kv and gate, two series each
        + csa * (hd + idx) * (2 + 4)  # the overlap: kv in bf16, gates in fp32
    )
    types = cfg["layer_types"]
    expected = types.count("heavily_compressed_attention") * hca_bytes
    expected += types.count("compressed_sparse_attention") * csa_bytes
    assert kv_cache_bytes(spec, seq_len=length, batch=1, kv_dtype="bf16") == expected


@pytest.mark.parametrize(
    ("model_type", "why"),
    [
        # Not in the model registry of vLLM 0.34, the default release, nor of 0.33
        # (model_executor/models/registry.py@v0.34.0 lists Mllama among the removed architectures).
        ("mllama", r"vLLM 0\.34 does not serve mllama"),
        ("rwkv", r"vLLM 0\.34 does not serve rwkv"),
        ("xlstm", r"vLLM 0\.34 does not serve xlstm"),
        ("inkling2_text", r"vLLM 0\.34 does not serve inkling2_text"),
        ("zaya", "ZAYA"),
    ],
)
def test_caches_vllm_lays_out_unmodelled_are_refused_for_vllm(model_type: str, why: str, doc: dict[str, Any]) -> None:
    from common.errors import VramError
    from estimator.estimate import estimate
    from estimator.query import Query

    spec = load_model_spec(_config(doc, model_type))
    assert estimate(spec, Query(engine="transformers", gpu="h100", gpus=8), model_id=model_type).memory.kv_cache > 0
    with pytest.raises(VramError, match=why):
        estimate(spec, Query(engine="vllm", gpu="h100", gpus=8), model_id=model_type)


def test_zamba2_shared_blocks_by_hand(doc: dict[str, Any]) -> None:
    cfg = _config(doc, "zamba2")
    h, inter, rank = cfg["hidden_size"], cfg["intermediate_size"], cfg["adapter_rank"]
    heads, hd = cfg["num_attention_heads"], cfg["attention_head_dim"]
    hybrids = cfg["layers_block_type"].count("hybrid")
    assert cfg["num_mem_blocks"] == 1 and not cfg["use_shared_attention_adapter"]
    base = load_model_spec(cfg)
    # A second shared block: q/k/v over the doubled width, o_proj, gated MLP, its two norms. Attention
    # adapters: three LoRA pairs (2h -> rank -> 2h) for each use of a block, whichever block serves it.
    block = 3 * (2 * h) * heads * hd + heads * hd * h + 3 * h * inter + 2 * h + h
    adapters = hybrids * 3 * 2 * (2 * h * rank)
    more = load_model_spec({**cfg, "num_mem_blocks": 2, "use_shared_attention_adapter": True})
    assert more.params.total - base.params.total == block + adapters
    # Hybrid layers cache keys and values beside their Mamba-2 state; the others only the state.
    kv = cfg["num_key_value_heads"]
    assert kv_bytes_per_token(base, "bf16") == hybrids * 2 * kv * hd * 2


def test_inkling_text_states_by_hand(doc: dict[str, Any]) -> None:
    cfg = _config(doc, "inkling_text")
    h, kernel = cfg["hidden_size"], cfg["conv_kernel_size"]
    spec = load_model_spec(cfg)
    fixed = 0
    for kind in cfg["layer_types"]:
        prefix = "swa_" if kind == "hybrid_sliding" else ""
        channels = 2 * cfg[f"{prefix}num_key_value_heads"] * cfg[f"{prefix}head_dim"] + 2 * h
        fixed += channels * kernel * 4  # four short convolutions per layer, their windows kept in fp32
    assert state_bytes_per_sequence(spec) == fixed
    sliding = spec.layers[cfg["layer_types"].index("hybrid_sliding")]
    assert sliding.window == cfg["sliding_window_size"]


def test_inkling2_loop_keeps_a_cache_per_pass(doc: dict[str, Any]) -> None:
    cfg = _config(doc, "inkling2_loop_text")
    start, end, passes = cfg["loop_layer_index_start"], cfg["loop_layer_index_end"], cfg["loop_num_passes"]
    types = cfg["layer_types"]
    per_token = 0
    for i, kind in enumerate(types):
        prefix = "swa_" if kind == "hybrid_sliding" else ""
        runs = passes if start <= i < end else 1
        per_token += runs * 2 * cfg[f"{prefix}num_key_value_heads"] * cfg[f"{prefix}head_dim"] * 2
    spec = load_model_spec(cfg)
    # At 64 tokens no sliding window is full yet: every layer's keys and values grow with the sequence.
    assert (
        kv_cache_bytes(spec, seq_len=64, batch=1, kv_dtype="bf16")
        - kv_cache_bytes(spec, seq_len=32, batch=1, kv_dtype="bf16")
        == 32 * per_token
    )
    # The loop's own weights: four message gates per looped layer (2h -> rank, rank -> h twice), the queries.
    h, rank = cfg["hidden_size"], cfg["loop_gate_rank"]
    unlooped = load_model_spec({**cfg, "loop_num_passes": 1})
    assert spec.params.total - unlooped.params.total == (end - start) * (4 * (2 * h * rank + 2 * rank * h) + 4 * h)


def test_inkling2_vision_block_by_hand(doc: dict[str, Any]) -> None:
    cfg = _config(doc, "inkling2")
    vc = cfg["vision_config"]
    spec = load_model_spec(cfg)
    more = load_model_spec({**cfg, "vision_config": {**vc, "num_hidden_layers": vc["num_hidden_layers"] + 1}})
    hv, inter = vc["hidden_size"], vc["intermediate_size"]
    # One block: biased q/k/v/out, biased fc1/fc2, two LayerNorms (weight and bias), two layer scales.
    block = 4 * (hv * hv + hv) + (hv * inter + inter) + (inter * hv + hv) + 2 * 2 * hv + 2 * hv
    assert more.params.vision - spec.params.vision == block


def test_rwkv_state_by_hand(doc: dict[str, Any]) -> None:
    cfg = _config(doc, "rwkv")
    h, n = cfg["hidden_size"], cfg["num_hidden_layers"]
    spec = load_model_spec(cfg)
    # Five [hidden] vectors per layer: two token shifts in bf16, the WKV numerator, denominator and max in fp32.
    assert state_bytes_per_sequence(spec) == n * (2 * h * 2 + 3 * h * 4)
    assert kv_bytes_per_token(spec, "bf16") == 0


def test_ernie4_5_vl_two_expert_sets_by_hand(doc: dict[str, Any]) -> None:
    cfg = _config(doc, "ernie4_5_vl_moe")
    text = cfg["text_config"]
    h, experts = text["hidden_size"], text["moe_num_experts"]
    text_inter, vision_inter = text["moe_intermediate_size"]
    n_moe = text["mlp_layer_types"].count("sparse")
    spec = load_model_spec(cfg)
    # Both expert sets are weights (gate, up, down each); each set has a router and a correction bias.
    assert spec.params.routed_experts == n_moe * experts * 3 * h * (text_inter + vision_inter)
    assert spec.params.router == n_moe * 2 * (experts * h + experts)
    assert spec.params.shared_experts == n_moe * 3 * h * text_inter * text["moe_num_shared_experts"]


def test_zaya_state_by_hand(doc: dict[str, Any]) -> None:
    cfg = _config(doc, "zaya")
    heads, kv, hd, n = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"], cfg["num_hidden_layers"]
    window = (cfg["cca_time0"] - 1) + (cfg["cca_time1"] - 1)
    spec = load_model_spec(cfg)
    # Per layer: the q/k conv window (q and k channels) and the previous token's delayed value half, both bf16.
    assert state_bytes_per_sequence(spec) == n * ((heads + kv) * hd * window * 2 + kv * hd // 2 * 2)
    assert kv_bytes_per_token(spec, "bf16") == n * 2 * kv * hd * 2


def test_mllama_checkpoint_cross_attention_is_not_a_text_cache(doc: dict[str, Any]) -> None:
    from estimator.spec import SafetensorsInfo, TensorInfo

    cfg = _config(doc, "mllama")
    text = cfg["text_config"]
    h, kv, hd = text["hidden_size"], text["num_key_value_heads"], text["hidden_size"] // text["num_attention_heads"]
    tensors = {}
    for i in range(text["num_hidden_layers"]):
        block = "cross_attn" if i in text["cross_attention_layers"] else "self_attn"
        for proj in ("k_proj", "v_proj"):
            name = f"language_model.model.layers.{i}.{block}.{proj}.weight"
            tensors[name] = TensorInfo(dtype="BF16", shape=(kv * hd, h), nbytes=kv * hd * h * 2)
    st = SafetensorsInfo(parameters={"BF16": sum(t.nbytes for t in tensors.values()) // 2}, tensors=tensors)
    spec = load_model_spec(cfg, safetensors=st)
    assert [layer.kind for layer in spec.layers] == [layer.kind for layer in load_model_spec(cfg).layers]
    assert not any("different cache geometry" in w for w in spec.warnings)


@pytest.mark.slow
def test_deepseek_v4_legacy_per_layer_ratios(doc: dict[str, Any]) -> None:
    """Hub configs give compress_ratios (0 / 4 / 128 per layer) and num_hash_layers; transformers'
    config class turns them into the layer types, and the sizing is the same."""
    cfg = _config(doc, "deepseek_v4")
    ratio = {"sliding_attention": 0, "compressed_sparse_attention": 4, "heavily_compressed_attention": 128}
    legacy = {k: v for k, v in cfg.items() if k not in ("layer_types", "compress_rates", "mlp_layer_types")}
    legacy["compress_ratios"] = [ratio[t] for t in cfg["layer_types"]]
    legacy["num_hash_layers"] = cfg["mlp_layer_types"].count("hash_moe")
    base, spec = load_model_spec(cfg), load_model_spec(legacy)
    assert spec.params.total == base.params.total and spec.layers == base.layers


def test_unlimited_ocr_sam_block_by_hand(doc: dict[str, Any]) -> None:
    cfg = _config(doc, "unlimited_ocr")
    sam = cfg["vision_config"]["sam_config"]
    hs, mlp, head_dim = sam["hidden_size"], sam["mlp_dim"], sam["hidden_size"] // sam["num_attention_heads"]
    spec = load_model_spec(cfg)
    # One more windowed SAM block: two LayerNorms, biased qkv and proj, relative positions over the
    # window (2 x (2w - 1) x head_dim), a biased two-layer MLP.
    w = sam["window_size"]
    block = 4 * hs + hs * 3 * hs + 3 * hs + hs * hs + hs + 2 * (2 * w - 1) * head_dim + 2 * hs * mlp + mlp + hs
    more = {**sam, "num_hidden_layers": sam["num_hidden_layers"] + 1}
    bigger = load_model_spec({**cfg, "vision_config": {**cfg["vision_config"], "sam_config": more}})
    assert bigger.params.vision - spec.params.vision == block
    assert any("upper bound" in w for w in spec.warnings)


def test_a_decoder_with_no_attention_heads_is_refused() -> None:
    # Only attention-free families (Mamba, RWKV) go without a head count; a Llama with 0 heads is a
    # broken config, refused with its field named (it once reached the classic formula's g / a).
    from common.errors import ConfigError

    root = Path(__file__).resolve().parents[1]
    config = json.loads((root / "fixtures" / "configs" / "meta-llama__Llama-3.1-8B.json").read_text())
    with pytest.raises(ConfigError, match="num_attention_heads"):
        load_model_spec({**config, "head_dim": 128, "num_attention_heads": 0})
