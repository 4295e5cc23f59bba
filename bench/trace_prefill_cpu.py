"""Check the transformers profile's prefill formulas op by op, on CPU (no GPU needed).

Builds a fixture model with its real widths but only a few layers (random bf16 weights, on CPU),
runs one prefill forward (``DynamicCache``, ``logits_to_keep=1``, what ``generate`` does first)
under torch's ``MemTracker`` (a dispatch mode that sees every tensor the ops allocate and free),
and compares the peak above the weights with what the estimator predicts for the same shrunken
model: its KV cache (sliding layers included, which hold the whole prompt during prefill) plus
the profile's activations (less the GPU-only cuBLAS workspace).

Needs torch and transformers (>= 5) beside the estimator's own dependencies::

    python -m bench.trace_prefill_cpu Qwen__Qwen3-0.6B.json --layers 2 -s 2048 -b 1 --attn sdpa

Results of this check are quoted in ``estimator/engines/transformers.py`` and bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from bench.measure_transformers import build_model, load_config_dict, text_config_dict
from estimator.config import load_model_spec
from estimator.engines import transformers as tf
from estimator.kv import kv_cache_bytes
from estimator.query import Query


def shrink(config: dict[str, Any], layers: int) -> dict[str, Any]:
    """The config with only ``layers`` decoder layers (widths untouched)."""
    text = dict(text_config_dict(config))
    text["num_hidden_layers"] = layers
    if isinstance(text.get("layer_types"), list):
        text["layer_types"] = text["layer_types"][:layers]
    return {**config, "text_config": text} if "text_config" in config else text


def predicted_over_weights(config: dict[str, Any], s: int, b: int, attn: str) -> tuple[int, str]:
    """KV cache + activations the estimator predicts for one prefill (no GPU workspace)."""
    spec = load_model_spec(config)
    query = Query(seq_len=s, batch=b, flash_attention=attn != "eager")
    kv = kv_cache_bytes(spec, seq_len=s, batch=b, kv_dtype=spec.torch_dtype)
    terms = tf.transformers_terms(spec, query, weights_bytes=0, kv_cache_bytes=kv)
    return kv + terms.activations - tf.WORKSPACE_BYTES, terms.activation_where


def traced_over_weights(config: dict[str, Any], s: int, b: int, attn: str) -> int:
    """Peak tensor bytes above the weights during one prefill forward, traced on CPU."""
    import torch
    from torch.distributed._tools.mem_tracker import MemTracker
    from transformers import DynamicCache

    model = build_model(config, device="cpu")
    if attn != "sdpa":
        model.set_attn_implementation(attn)
    weights = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
    vocab = int(text_config_dict(config)["vocab_size"])
    ids = torch.randint(0, vocab, (b, s))
    tracker = MemTracker()
    tracker.track_external(model)
    with tracker, torch.no_grad():
        model(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            past_key_values=DynamicCache(config=model.config),
            use_cache=True,
            logits_to_keep=1,
        )
    peak = sum(stats.get("Total", 0) for stats in tracker.get_tracker_snapshot("peak").values())
    return peak - weights


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("config_file", help="file name under tests/fixtures/configs")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("-s", type=int, default=1024)
    p.add_argument("-b", type=int, default=1)
    p.add_argument("--attn", choices=("sdpa", "eager"), default="sdpa")
    args = p.parse_args(argv)
    config = shrink(load_config_dict(args.config_file), args.layers)
    predicted, where = predicted_over_weights(config, args.s, args.b, args.attn)
    traced = traced_over_weights(config, args.s, args.b, args.attn)
    print(
        json.dumps(
            {
                "config": args.config_file,
                "layers": args.layers,
                "s": args.s,
                "b": args.b,
                "attn": args.attn,
                "where": where,
                "predicted_bytes": predicted,
                "traced_bytes": traced,
                "error": round(predicted / traced - 1, 4),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
