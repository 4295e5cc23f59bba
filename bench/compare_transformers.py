"""Predicted vs measured for the results of ``measure_transformers.py`` (runs here, no GPU).

For every case in a results JSON it loads the fixture config, runs the estimator's weights, KV
cache and transformers profile for the case's s, b and attention, and prints the terms side by
side with what the GPU measured:

- weights: ``weight_bytes`` vs ``weights_bytes`` (memory allocated after the build);
- KV: ``kv_cache_bytes`` for s - 1 tokens (the last generated token is never fed back) vs the
  bytes the returned cache holds;
- allocated peak: weights + KV(s) + activations vs ``max_allocated_bytes``;
- device total: the estimate's total vs ``cuda_used_bytes``;

then the overhead the runs show (CUDA context, allocator reserve) next to the profile's
constants. Usage::

    python -m bench.compare_transformers bench/results/transformers-h200.json [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from estimator.config import load_model_spec
from estimator.engines import transformers as tf
from estimator.kv import kv_cache_bytes
from estimator.query import Query
from estimator.weights import weight_bytes

REPO_ROOT = Path(__file__).resolve().parent.parent
GiB = 2**30


def compare_case(record: dict[str, Any], repo_root: Path = REPO_ROOT) -> dict[str, Any] | None:
    """Predicted and measured terms for one measured case (None for OOM or failed cases)."""
    m = record["measured"]
    if m.get("oom") or m.get("error") or "max_allocated_bytes" not in m:
        return None
    spec = load_model_spec(json.loads((repo_root / record["config_file"]).read_text()))
    s, b = record["s"], record["b"]
    query = Query(seq_len=s, batch=b, flash_attention=record["attn"] != "eager")
    weights = weight_bytes(spec)
    kv = kv_cache_bytes(spec, seq_len=s, batch=b, kv_dtype=spec.torch_dtype)
    kv_end = kv_cache_bytes(spec, seq_len=s - 1, batch=b, kv_dtype=spec.torch_dtype)
    terms = tf.transformers_terms(spec, query, weights_bytes=weights, kv_cache_bytes=kv)
    allocated = weights + kv + terms.activations
    total = allocated + terms.overhead
    measured_act = m["max_allocated_bytes"] - m["weights_bytes"] - m["kv_cache_bytes"]
    return {
        "id": record["id"],
        "model": record["model"],
        "attn": record["attn"],
        "s": s,
        "b": b,
        "where": terms.activation_where,
        "weights": (weights, m["weights_bytes"]),
        "kv_end": (kv_end, m["kv_cache_bytes"]),
        "activations": (terms.activations, measured_act),
        "allocated": (allocated, m["max_allocated_bytes"]),
        "total": (total, m["cuda_used_bytes"]),
        "reserve": m["max_reserved_bytes"] - m["max_allocated_bytes"],
        "context": m.get("cuda_context_bytes"),
    }


def _err(pair: tuple[int, int]) -> float:
    predicted, measured = pair
    return predicted / measured - 1 if measured else float("nan")


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Errors of the allocated peak and the total, and the overheads the runs show."""
    alloc = [abs(_err(r["allocated"])) for r in rows]
    total = [abs(_err(r["total"])) for r in rows]
    contexts = [r["context"] for r in rows if r["context"]]
    return {
        "cases": len(rows),
        "allocated_max_abs_err": max(alloc, default=0.0),
        "allocated_within_10pct": sum(e <= 0.10 for e in alloc),
        "total_max_abs_err": max(total, default=0.0),
        "total_within_10pct": sum(e <= 0.10 for e in total),
        "median_cuda_context_bytes": int(statistics.median(contexts)) if contexts else None,
        "median_reserve_bytes": int(statistics.median(r["reserve"] for r in rows)) if rows else None,
        "profile_cuda_context_bytes": tf.CUDA_CONTEXT_BYTES,
    }


def _row_text(r: dict[str, Any]) -> str:
    def g(pair: tuple[int, int]) -> str:
        return f"{pair[0] / GiB:7.2f} {pair[1] / GiB:7.2f} {100 * _err(pair):+6.1f}%"

    return (f"{r['model'][:22]:22s} {r['attn']:5s} s={r['s']:<6d} b={r['b']:<3d} | W {g(r['weights'])} | "
            f"KV {g(r['kv_end'])} | act {g(r['activations'])} | alloc {g(r['allocated'])} | "
            f"total {g(r['total'])} | {r['where']}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="+", type=Path)
    p.add_argument("--json", action="store_true", help="print rows and summary as JSON")
    args = p.parse_args(argv)
    rows = []
    for path in args.results:
        for record in json.loads(path.read_text()):
            row = compare_case(record)
            if row is not None:
                rows.append(row)
    summary = summarize(rows)
    if args.json:
        print(json.dumps({"rows": rows, "summary": summary}, indent=1))
        return 0
    print("GiB: predicted measured error")
    for r in rows:
        print(_row_text(r))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
