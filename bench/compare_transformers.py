"""Predicted vs measured for the results of ``measure_transformers.py`` (runs here, no GPU).

For every case in a results JSON it loads the fixture config, runs ``estimator.estimate.estimate``
(engine transformers) for the case's s, b and attention, and prints the terms side by side with
what the GPU measured:

- weights: the estimate's weights *of the model as built* vs ``weights_bytes`` (memory allocated
  after the build). The H200 run of 2026-11-26 built tied-embedding models UNTIED (transformers
  5.x ties inside ``init_weights``, which the script's ``no_init_weights`` skipped; fixed since):
  their recorded parameter count is the checkpoint's plus one vocab x hidden matrix. A real
  checkpoint load ties them, so the estimator is right for users and the bench is the odd one:
  to compare like with like, :func:`untied_lm_head_bytes` adds that matrix back, detected from
  the recorded ``params`` (or ``tied_embeddings``, recorded since the fix);
- KV: ``kv_cache_bytes`` for s - 1 tokens (the last generated token is never fed back) vs the
  bytes the returned cache holds;
- allocated peak: weights + KV(s) + activations vs ``max_allocated_bytes``;
- device total: the estimate's total vs ``cuda_used_bytes``;

then per model the worst errors, the overheads the runs show (CUDA context = used - reserved,
allocator reserve = max reserved - max allocated) and, with ``--fit``, the reserve constants
fitted to the runs (minimax on the totals) with their leave-one-model-out error. Usage::

    python -m bench.compare_transformers bench/results/transformers-h200.json [--json] [--fit]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from estimator.config import load_model_spec
from estimator.engines import transformers as tf
from estimator.estimate import estimate
from estimator.kv import kv_cache_bytes
from estimator.query import Query
from estimator.spec import DTYPE_BYTES, ModelSpec

REPO_ROOT = Path(__file__).resolve().parent.parent
GiB = 2**30
MiB = 2**20


def untied_lm_head_bytes(spec: ModelSpec, measured: dict[str, Any]) -> int:
    """Bytes the GPU build holds beyond the checkpoint: an untied copy of a tied lm_head, else 0.

    Raises ValueError when the recorded parameter count is neither the spec's nor the spec's plus
    one vocab x hidden matrix (then the comparison would not be like with like).
    """
    params = measured.get("params")
    embedding = spec.vocab_size * spec.hidden_size
    if params is None or params == spec.params.total:
        return 0
    if spec.tie_word_embeddings and params == spec.params.total + embedding and not measured.get("tied_embeddings"):
        return embedding * DTYPE_BYTES[spec.torch_dtype]
    raise ValueError(f"built model has {params:,} parameters; the spec says {spec.params.total:,}")


def predict_case(record: dict[str, Any], repo_root: Path = REPO_ROOT) -> dict[str, Any]:
    """The estimate for one measured case, with the weights of the model as built."""
    spec = load_model_spec(json.loads((repo_root / record["config_file"]).read_text()))
    query = Query(
        seq_len=record["s"], batch=record["b"], flash_attention=record["attn"] != "eager", engine="transformers"
    )
    est = estimate(spec, query, model_id=record["model"])
    extra = untied_lm_head_bytes(spec, record["measured"])
    mem = est.memory
    return {
        "spec": spec,
        "query": query,
        "lm_head_extra": extra,
        "weights": mem.weights + extra,
        "kv": mem.kv_cache,
        "activations": mem.activations,
        "overhead": mem.overhead,
        "allocated": mem.weights + extra + mem.kv_cache + mem.activations,
        "total": mem.total + extra,
        "where": est.details.activation_peak_where,
    }


def measured_ok(record: dict[str, Any]) -> bool:
    m = record["measured"]
    return not (m.get("oom") or m.get("error")) and "max_allocated_bytes" in m


def compare_case(record: dict[str, Any], repo_root: Path = REPO_ROOT) -> dict[str, Any] | None:
    """Predicted and measured terms for one measured case (None for OOM or failed cases)."""
    if not measured_ok(record):
        return None
    m = record["measured"]
    p = predict_case(record, repo_root)
    spec, query = p["spec"], p["query"]
    s, b = record["s"], record["b"]
    kv_end = kv_cache_bytes(spec, seq_len=s - 1, batch=b, kv_dtype=spec.torch_dtype)
    measured_act = m["max_allocated_bytes"] - m["weights_bytes"] - m["kv_cache_bytes"]
    return {
        "id": record["id"],
        "model": record["model"],
        "attn": record["attn"],
        "s": s,
        "b": b,
        "where": p["where"],
        "lm_head_extra": p["lm_head_extra"],
        "weights": (p["weights"], m["weights_bytes"]),
        "kv_end": (kv_end, m["kv_cache_bytes"]),
        "activations": (p["activations"], measured_act),
        "allocated": (p["allocated"], m["max_allocated_bytes"]),
        "total": (p["total"], m["cuda_used_bytes"]),
        "overhead": (p["overhead"], m["cuda_used_bytes"] - m["max_allocated_bytes"]),
        # What the device holds beyond torch's reservation once kernels and cuBLAS are loaded.
        "context": m["cuda_used_bytes"] - m["reserved_bytes_after"],
        "reserve": m["max_reserved_bytes"] - m["max_allocated_bytes"],
        "score_elements": tf.eager_score_elements(spec, query),
        "score_bytes": (
            tf.eager_score_elements(spec, query) * tf.EAGER_SCORE_BYTES[spec.torch_dtype]
            if p["where"] == "attention scores"
            else 0
        ),
    }


def _err(pair: Sequence[int]) -> float:
    predicted, measured = pair
    return predicted / measured - 1 if measured else float("nan")


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Errors of the allocated peak and the total, and the overheads the runs show."""
    alloc = [abs(_err(r["allocated"])) for r in rows]
    total = [abs(_err(r["total"])) for r in rows]
    return {
        "cases": len(rows),
        "allocated_max_abs_err": max(alloc, default=0.0),
        "allocated_within_10pct": sum(e <= 0.10 for e in alloc),
        "total_max_abs_err": max(total, default=0.0),
        "total_within_10pct": sum(e <= 0.10 for e in total),
        "median_cuda_context_bytes": int(statistics.median(r["context"] for r in rows)) if rows else None,
        "median_reserve_bytes": int(statistics.median(r["reserve"] for r in rows)) if rows else None,
        "profile_cuda_context_bytes": tf.CUDA_CONTEXT_BYTES,
    }


def per_model(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per model (in first-seen order): cases, worst signed errors of the allocated peak and total."""
    out = []
    for model, group in itertools.groupby(rows, key=lambda r: r["model"]):
        g = list(group)
        worst_alloc = max((_err(r["allocated"]) for r in g), key=abs)
        worst_total = max((_err(r["total"]) for r in g), key=abs)
        out.append(
            {
                "model": model,
                "cases": len(g),
                "attn": sorted({r["attn"] for r in g}),
                "weights_gib": g[0]["weights"][0] / GiB,
                "lm_head_extra_gib": g[0]["lm_head_extra"] / GiB,
                "measured_total_gib": (min(r["total"][1] for r in g) / GiB, max(r["total"][1] for r in g) / GiB),
                "allocated_max_err": worst_alloc,
                "total_max_err": worst_total,
            }
        )
    return out


# --- the reserve fit ------------------------------------------------------------------------------

FLOORS_MIB = tuple(range(0, 161, 8))
FRACTIONS = tuple(i / 100 for i in range(0, 81))
EAGER_BYTES_PER_SCORE = tuple(i / 4 for i in range(0, 25))  # 0 to 6 bytes per score element


def _total_with(r: dict[str, Any], context: int, floor: int, fraction: float, per_score: float) -> int:
    allocated = r["allocated"][0]
    other = max(r["activations"][0] - r["score_bytes"], 0)
    return allocated + context + floor + int(fraction * other) + int(per_score * r["score_elements"])


def total_errors(
    rows: Iterable[dict[str, Any]], context: int, floor: int, fraction: float, per_score: float
) -> list[float]:
    return [_total_with(r, context, floor, fraction, per_score) / r["total"][1] - 1 for r in rows]


def fit_reserve(rows: list[dict[str, Any]], context: int) -> dict[str, Any]:
    """Floor, transient fraction and eager bytes per score element minimising the worst |total error|.

    The context is not fitted: it is measured directly (device used minus torch reserved).
    """
    best: tuple[float, int, float, float] | None = None
    for floor_mib, fraction, per_score in itertools.product(FLOORS_MIB, FRACTIONS, EAGER_BYTES_PER_SCORE):
        worst = max(abs(e) for e in total_errors(rows, context, floor_mib * MiB, fraction, per_score))
        if best is None or worst < best[0]:
            best = (worst, floor_mib * MiB, fraction, per_score)
    assert best is not None
    return {"max_abs_err": best[0], "floor_bytes": best[1], "fraction": best[2], "bytes_per_score": best[3]}


def leave_one_model_out(rows: list[dict[str, Any]], context: int) -> list[dict[str, Any]]:
    """Fit on every model but one, then the held-out model's worst |total error|."""
    out = []
    for model in dict.fromkeys(r["model"] for r in rows):
        train = [r for r in rows if r["model"] != model]
        test = [r for r in rows if r["model"] == model]
        fit = fit_reserve(train, context)
        errs = total_errors(test, context, fit["floor_bytes"], fit["fraction"], fit["bytes_per_score"])
        out.append({"held_out": model, **fit, "held_out_max_abs_err": max(abs(e) for e in errs)})
    return out


def _row_text(r: dict[str, Any]) -> str:
    def g(pair: Sequence[int]) -> str:
        return f"{pair[0] / GiB:7.2f} {pair[1] / GiB:7.2f} {100 * _err(pair):+6.1f}%"

    return (
        f"{r['model'][:22]:22s} {r['attn']:5s} s={r['s']:<6d} b={r['b']:<3d} | W {g(r['weights'])} | "
        f"KV {g(r['kv_end'])} | act {g(r['activations'])} | alloc {g(r['allocated'])} | "
        f"total {g(r['total'])} | {r['where']}"
    )


def load_rows(paths: Iterable[Path]) -> list[dict[str, Any]]:
    rows = []
    for path in paths:
        for record in json.loads(Path(path).read_text()):
            row = compare_case(record)
            if row is not None:
                rows.append(row)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="+", type=Path)
    p.add_argument("--json", action="store_true", help="print rows and summary as JSON")
    p.add_argument("--fit", action="store_true", help="fit the reserve constants, with leave-one-model-out")
    args = p.parse_args(argv)
    rows = load_rows(args.results)
    summary = summarize(rows)
    models = per_model(rows)
    fit = lomo = None
    if args.fit:
        context = summary["median_cuda_context_bytes"] or 0
        fit = fit_reserve(rows, context)
        lomo = leave_one_model_out(rows, context)
    if args.json:
        print(
            json.dumps(
                {"rows": rows, "summary": summary, "per_model": models, "fit": fit, "leave_one_model_out": lomo},
                indent=1,
            )
        )
        return 0
    print("GiB: predicted measured error (weights: the model as built, see --help)")
    for r in rows:
        print(_row_text(r))
    print("\nmodel                          cases  alloc max err  total max err  measured total GiB")
    for m in models:
        lo, hi = m["measured_total_gib"]
        print(
            f"{m['model']:30s} {m['cases']:5d}  {100 * m['allocated_max_err']:+12.1f}%  "
            f"{100 * m['total_max_err']:+12.1f}%  {lo:.1f}-{hi:.1f}"
        )
    print(json.dumps(summary, indent=1))
    if fit is not None and lomo is not None:
        print(
            f"\nreserve fit (context {summary['median_cuda_context_bytes'] / MiB:.0f} MiB measured): floor "
            f"{fit['floor_bytes'] / MiB:.0f} MiB, fraction {fit['fraction']:.2f}, eager "
            f"{fit['bytes_per_score']:.2f} B/score; worst |total error| {100 * fit['max_abs_err']:.1f}%"
        )
        for x in lomo:
            print(
                f"  without {x['held_out']:28s} floor {x['floor_bytes'] / MiB:3.0f} MiB, fraction "
                f"{x['fraction']:.2f}, eager {x['bytes_per_score']:.2f} B/score -> held out "
                f"{100 * x['held_out_max_abs_err']:.1f}%"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
