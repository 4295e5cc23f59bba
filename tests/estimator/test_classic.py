"""method=classic reproduces the original calculator's six lines to the digit."""

from estimator.classic import classic, classic_lines

# phi-4: L=40, h=5120, a=40, g=10 (interface.md), n=14.7, p=16, s=16384, b=1.
PHI4 = dict(hidden=5120, heads=40, kv_heads=10, layers=40)


def test_phi4_six_lines_exactly() -> None:
    result = classic(n_billions=14.7, bits=16, seq_len=16384, batch=1, flash_attention=True, kv_cache=True, **PHI4)
    # model = 14.7 * 16 / 8 = 29.4
    # vanilla = (32*16384*5120 + 4*40*16384^2) * 2 / 1e9 = (2,684,354,560 + 42,949,672,960) * 2 / 1e9 = 91.268...
    # gqa = (28*16384*5120 + (2*10/40)*16384*5120 + 4*10*16384^2) * 2 / 1e9
    #     = (2,348,810,240 + 41,943,040 + 10,737,418,240) * 2 / 1e9 = 26.256...
    # flash = (32*16384*5120 + 4*128*16384) * 2 / 1e9 = (2,684,354,560 + 8,388,608) * 2 / 1e9 = 5.385...
    # kv = 2*40*16384*(5120/10)*2 / 1e9 = 1.342...
    # total = 29.4 + 1.34 + 5.39 = 36.13
    assert classic_lines(result, gqa=True) == [
        "Memory consumption of the model: 29.4 GB",
        "Memory consumption of vanilla inference: 91.27 GB",
        "Memory consumption of inference with GQA: 26.26 GB",
        "Memory consumption of inference with FlashAttention: 5.39 GB",
        "Memory consumption of the KV cache (with GQA): 1.34 GB",
        "Total Memory consumption (given the selected configuration): 36.13 GB",
    ]


def test_total_follows_fa_and_gqa_choice() -> None:
    eager = classic(n_billions=14.7, bits=16, seq_len=16384, batch=1, flash_attention=False, kv_cache=True, **PHI4)
    # fa=off with GQA: model + kv + gqa = 29.4 + 1.34 + 26.26
    assert eager.total_gb == round(29.4 + 1.34 + 26.26, 2)
    no_kv = classic(n_billions=14.7, bits=16, seq_len=16384, batch=1, flash_attention=True, kv_cache=False, **PHI4)
    assert no_kv.kv_cache_gb == 0.0
    assert no_kv.total_gb == round(29.4 + 5.39, 2)


def test_mha_model_has_no_gqa_term_and_full_kv() -> None:
    # A model with g == a (no GQA): KV = 2*L*s*b*h*2/1e9; L=32, h=4096, s=4096, b=1 -> 2.147... -> 2.15
    result = classic(
        n_billions=7.0,
        bits=16,
        seq_len=4096,
        batch=1,
        hidden=4096,
        heads=32,
        kv_heads=32,
        layers=32,
        flash_attention=False,
        kv_cache=True,
    )
    assert result.gqa_gb is None
    assert result.kv_cache_gb == 2.15
    # vanilla = (32*4096*1*4096 + 4*32*4096^2*1) * 2 / 1e9 = (536,870,912 + 2,147,483,648) * 2 / 1e9 = 5.37
    assert result.vanilla_gb == 5.37
    assert result.total_gb == round(14.0 + 2.15 + 5.37, 2)


def test_a_quantized_checkpoint_is_classic_sized_at_its_own_bits() -> None:
    # Qwen3-8B's AWQ config says bits 4; the same config as an 8-bit GPTQ says 8. The classic model term
    # is n x p / 8: with n = the checkpoint's parameter count (in billions), 4 bits give n/2 GB, 8 bits n GB.
    import json
    from pathlib import Path

    from estimator.config import load_model_spec
    from estimator.estimate import estimate
    from estimator.query import Query

    cfg = json.loads((Path(__file__).parents[1] / "fixtures" / "configs" / "Qwen__Qwen3-8B-AWQ.json").read_text())
    models = []
    for method, bits in (("awq", 4), ("gptq", 8)):
        cfg["quantization_config"] = {"quant_method": method, "bits": bits, "group_size": 128}
        spec = load_model_spec(cfg)
        assert spec.quantization.weight_bits == bits
        est = estimate(spec, Query(model="m", seq_len=1024, method="classic"), model_id="m")
        assert est.classic is not None and est.classic.model_gb is not None
        n = est.classic.model_gb * 8 / bits
        models.append((est.classic.model_gb, round(n, 1)))
    (four, n4), (eight, n8) = models
    assert n4 == n8 and abs(eight - 2 * four) <= 0.02, models


def test_a_large_ratio_reads_as_a_whole_number_with_separators() -> None:
    # "its activation term is 1542115188.0x too large": past 100 the tenth says nothing and the digits
    # need grouping. s x b = 2^44 tokens makes the classic single-layer activation term (32 s b h x 2 bytes,
    # h = 4096: about 4.6e18 bytes) billions of times vLLM's peak, which does not grow with s x b.
    import json
    import re
    from pathlib import Path

    from estimator.config import load_model_spec
    from estimator.estimate import estimate
    from estimator.query import Query

    cfg = json.loads((Path(__file__).resolve().parents[1] / "fixtures/configs/Qwen__Qwen3-8B.json").read_text())
    est = estimate(load_model_spec(cfg), Query(seq_len=16 * 2**20, batch=2**20, engine="vllm"), model_id="q")
    (note,) = [w.message for w in est.warnings if w.code == "classic_formula"]
    assert re.search(r"its activation term is \d{1,3}(,\d{3}){3,}x too large", note), note
    assert "its KV cache term is 2.0x too small" in note  # a small ratio keeps its tenth
