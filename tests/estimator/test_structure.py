"""The checkpoint's tensors confirm (or correct) each layer's cache geometry; no verdict on a guess."""

from __future__ import annotations

from estimator.config import load_model_spec
from estimator.estimate import estimate
from estimator.kv import kv_bytes_per_token
from estimator.query import Query
from estimator.spec import SafetensorsInfo, TensorInfo

TINY = {
    "model_type": "llama",
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "intermediate_size": 128,
    "vocab_size": 100,
    "torch_dtype": "bfloat16",
}


def _t(*shape: int, dtype: str = "BF16") -> TensorInfo:
    n = 1
    for d in shape:
        n *= d
    return TensorInfo(dtype=dtype, shape=shape, nbytes=2 * n)


def _llama_tensors(layers: int, kv_out: int, h: int = 64, inter: int = 128, vocab: int = 100) -> dict[str, TensorInfo]:
    out = {"model.embed_tokens.weight": _t(vocab, h), "lm_head.weight": _t(vocab, h), "model.norm.weight": _t(h)}
    for i in range(layers):
        p = f"model.layers.{i}."
        out |= {
            p + "self_attn.q_proj.weight": _t(h, h),
            p + "self_attn.k_proj.weight": _t(kv_out, h),
            p + "self_attn.v_proj.weight": _t(kv_out, h),
            p + "self_attn.o_proj.weight": _t(h, h),
            p + "mlp.gate_proj.weight": _t(inter, h),
            p + "mlp.up_proj.weight": _t(inter, h),
            p + "mlp.down_proj.weight": _t(h, inter),
            p + "input_layernorm.weight": _t(h),
            p + "post_attention_layernorm.weight": _t(h),
        }
    return out


def _info(tensors: dict[str, TensorInfo]) -> SafetensorsInfo:
    count = sum(t.nbytes // 2 for t in tensors.values())
    return SafetensorsInfo(parameters={"BF16": count}, tensors=tensors)


def test_checkpoint_agreeing_with_the_config_changes_nothing() -> None:
    s = load_model_spec(TINY, safetensors=_info(_llama_tensors(2, kv_out=2 * 16)))
    assert not s.unread and not any("cache geometry" in w for w in s.warnings)
    # 2 layers x 2 KV heads x (16 + 16) x 2 bytes
    assert kv_bytes_per_token(s, "bf16") == 2 * 2 * 32 * 2


def test_checkpoint_disagreeing_with_the_config_wins_with_a_warning() -> None:
    # The config says 2 KV heads of 16; the tensors hold 4 (k_proj out = 64).
    s = load_model_spec(TINY, safetensors=_info(_llama_tensors(2, kv_out=4 * 16)))
    assert any("different cache geometry" in w for w in s.warnings)
    assert kv_bytes_per_token(s, "bf16") == 2 * 4 * 32 * 2


def test_unknown_type_without_a_checkpoint_gets_no_verdict() -> None:
    s = load_model_spec({**TINY, "model_type": "brand_new_lm"})
    assert s.unread and "upgrade" in s.unread[0]
    est = estimate(s, Query(seq_len=1024, gpu="h100-80gb"), model_id="local/brand-new")
    assert est.fit is None and est.engine_report is None and est.refused
    data = est.to_json()
    assert data["fit"] is None and data["refusal"]["code"] == "structure_unread"
    from bot import report

    line = report.verdict(est)
    assert "not a verdict" in line and "fits" not in line


def test_unknown_type_with_every_layer_in_the_checkpoint_is_read_from_it() -> None:
    s = load_model_spec({**TINY, "model_type": "brand_new_lm"}, safetensors=_info(_llama_tensors(2, kv_out=32)))
    assert not s.unread
    assert s.params_source == "safetensors"
    assert kv_bytes_per_token(s, "bf16") == 2 * 2 * 32 * 2
    est = estimate(s, Query(seq_len=1024, gpu="h100-80gb"), model_id="local/brand-new")
    assert est.fit is not None and not est.refused


def test_mla_latent_and_indexer_key_from_the_tensors() -> None:
    from estimator.structure import observe

    h = 64
    tensors = {
        "model.layers.0.self_attn.kv_a_proj_with_mqa.weight": _t(512 + 64, h),
        "model.layers.0.self_attn.kv_a_layernorm.weight": _t(512),
        "model.layers.0.self_attn.indexer.wk.weight": _t(128, h),
        "model.layers.1.mixer.conv1d.weight": _t(8192, 1, 4),
        "model.layers.2.self_attn.qkv_proj.weight": _t(64 + 2 * 32, h),
    }
    seen = observe(tensors, hidden=h, q_width=64)
    assert (seen[0].kind, seen[0].latent, seen[0].rope, seen[0].index) == ("mla", 512, 64, 128)
    assert (seen[1].kind, seen[1].conv_channels, seen[1].conv_kernel) == ("state", 8192, 4)
    assert (seen[2].kind, seen[2].key, seen[2].value) == ("attention", 32, 32)
