"""Measure what HF transformers ``generate`` really allocates, on an NVIDIA GPU.

For each model in the plan, the script builds the model from its ``config.json`` (the fixtures
under ``tests/fixtures/configs``) with random bf16 weights directly on the GPU (no download),
then runs ``generate`` over a grid of sequence lengths, batch sizes and attention
implementations (``sdpa`` = fused, ``eager`` = materialised scores) and records, per case:

- ``weights_bytes``: ``torch.cuda.memory_allocated()`` after the build;
- ``max_allocated_bytes``: ``torch.cuda.max_memory_allocated()`` over the whole ``generate``;
- ``max_reserved_bytes``: the caching allocator's peak reservation;
- ``cuda_used_bytes``: what the device reports as used (``total - free`` from ``cudaMemGetInfo``),
  which includes the CUDA context that torch does not count;
- ``kv_cache_bytes``: the bytes the returned ``DynamicCache`` holds at the end (unique storages).

Sequence length ``s`` is prompt + generated tokens (the estimator's ``s=``): the prompt has
``s - new_tokens`` random ids and ``generate`` adds exactly ``new_tokens``.

Results are written after every case (so a time-out still leaves them) as a JSON list in the
calibration format of ``tests/fixtures/calibration/measurements.json``, to ``$OUT`` when set.

Everything that needs torch is imported inside functions: planning, config loading and JSON
writing run (and are tested) on machines without torch or a GPU.

Usage::

    python3 bench/measure_transformers.py                            # whole plan, ~7 min
    python3 bench/measure_transformers.py --dry-run                 # print the plan only
    python3 bench/measure_transformers.py --models Qwen/Qwen3-0.6B --budget-s 60
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO_ROOT / "tests" / "fixtures" / "configs"
SOURCE = "bench/measure_transformers.py"

# New tokens per generate: enough to see DynamicCache growth by torch.cat during decode, few
# enough that the prefill dominates the time.
DEFAULT_NEW_TOKENS = 8

# Attention implementations: sdpa is the fused path (fa=on), eager materialises the scores.
ATTN_IMPLS = ("sdpa", "eager")

# Cases skipped without running when their eager score tensors alone would exceed this share of
# the free memory (the softmax holds ~10 bytes per score element, see the engine profile).
EAGER_SCORE_BYTES_PER_ELEMENT = 10
EAGER_MAX_SHARE_OF_FREE = 0.8


@dataclasses.dataclass(frozen=True)
class ModelPlan:
    """One model of the plan: its fixture config and its grid."""

    model: str  # Hub id, for the JSON
    config_file: str  # file name under tests/fixtures/configs
    sdpa_grid: tuple[tuple[int, int], ...]  # (s, b), most important first
    eager_grid: tuple[tuple[int, int], ...]


@dataclasses.dataclass(frozen=True)
class Case:
    model: str
    config_file: str
    attn: str
    seq_len: int  # prompt + new tokens
    batch: int
    new_tokens: int

    @property
    def prompt_len(self) -> int:
        return self.seq_len - self.new_tokens

    @property
    def case_id(self) -> str:
        slug = self.model.replace("/", "__")
        return f"tf-{slug}-{self.attn}-s{self.seq_len}-b{self.batch}"


# sdpa: long sequences and batches (the KV and MLP terms); eager: short sequences (s^2 scores).
_SDPA_SMALL = ((1024, 1), (8192, 1), (32768, 1), (4096, 8), (1024, 32), (16384, 4))
_SDPA_LARGE = ((1024, 1), (8192, 1), (32768, 1), (4096, 8), (16384, 4))
_EAGER_SMALL = ((1024, 1), (4096, 1), (2048, 4), (8192, 1), (16384, 1))
_EAGER_LARGE = ((1024, 1), (4096, 1), (2048, 4), (8192, 1))

# Ordered by priority (the budget cuts from the end): small dense first, then the rest of the
# size ladder, sliding-window families, the 14B, and the MoE last.
DEFAULT_PLAN: tuple[ModelPlan, ...] = (
    ModelPlan("Qwen/Qwen3-0.6B", "Qwen__Qwen3-0.6B.json", _SDPA_SMALL, _EAGER_SMALL),
    ModelPlan("meta-llama/Llama-3.2-1B", "meta-llama__Llama-3.2-1B.json", _SDPA_SMALL, _EAGER_SMALL),
    ModelPlan("Qwen/Qwen3-8B", "Qwen__Qwen3-8B.json", _SDPA_LARGE, _EAGER_LARGE),
    ModelPlan("google/gemma-3-1b-it", "google__gemma-3-1b-it.json", _SDPA_SMALL, _EAGER_SMALL),
    ModelPlan("meta-llama/Llama-3.2-3B", "meta-llama__Llama-3.2-3B.json", _SDPA_LARGE, _EAGER_LARGE),
    ModelPlan("Qwen/Qwen3-4B", "Qwen__Qwen3-4B.json", _SDPA_LARGE, _EAGER_LARGE),
    ModelPlan("google/gemma-2-9b-it", "google__gemma-2-9b-it.json", _SDPA_LARGE, _EAGER_LARGE),
    ModelPlan("microsoft/phi-4", "microsoft__phi-4.json", _SDPA_LARGE, _EAGER_LARGE),
    ModelPlan("Qwen/Qwen3-30B-A3B", "Qwen__Qwen3-30B-A3B.json", _SDPA_LARGE, ((1024, 1), (4096, 1))),
)


def load_config_dict(config_file: str, config_dir: Path = CONFIG_DIR) -> dict[str, Any]:
    """The fixture ``config.json`` as a dict (raises FileNotFoundError / ValueError)."""
    path = config_dir / config_file
    with path.open() as f:
        data = json.load(f)
    if not isinstance(data, dict) or "model_type" not in data:
        raise ValueError(f"{path} is not a model config.json (no model_type)")
    return data


def text_config_dict(config: dict[str, Any]) -> dict[str, Any]:
    """The decoder's config: the nested ``text_config`` of multimodal models, else the config."""
    nested = config.get("text_config")
    return nested if isinstance(nested, dict) else config


def plan_cases(
    plan: Sequence[ModelPlan],
    *,
    new_tokens: int = DEFAULT_NEW_TOKENS,
    attn_impls: Iterable[str] = ATTN_IMPLS,
    models: Iterable[str] | None = None,
    max_seq_len: int | None = None,
) -> list[Case]:
    """The ordered list of cases: per model, the sdpa grid then the eager grid.

    ``models`` keeps only those ids; ``max_seq_len`` drops longer cases; a grid point shorter
    than ``new_tokens + 1`` is invalid (the prompt must hold at least one token).
    """
    impls = tuple(attn_impls)
    for impl in impls:
        if impl not in ATTN_IMPLS:
            raise ValueError(f"unknown attention implementation {impl!r}; use one of {ATTN_IMPLS}")
    wanted = None if models is None else set(models)
    cases: list[Case] = []
    for mp in plan:
        if wanted is not None and mp.model not in wanted:
            continue
        for impl in impls:
            grid = mp.sdpa_grid if impl == "sdpa" else mp.eager_grid
            for s, b in grid:
                if s <= new_tokens:
                    raise ValueError(f"{mp.model}: s={s} leaves no prompt for {new_tokens} new tokens")
                if max_seq_len is not None and s > max_seq_len:
                    continue
                cases.append(Case(mp.model, mp.config_file, impl, s, b, new_tokens))
    return cases


def eager_score_bytes(config: dict[str, Any], seq_len: int, batch: int) -> int:
    """Bytes of the eager softmax's score tensors for one layer (prompt x prompt per head)."""
    heads = int(text_config_dict(config).get("num_attention_heads") or 0)
    return EAGER_SCORE_BYTES_PER_ELEMENT * batch * heads * seq_len * seq_len


def dominated_by_oom(case: Case, oom: Iterable[Case]) -> bool:
    """True when a case at most as large (same model and attention) already ran out of memory."""
    return any(
        o.model == case.model and o.attn == case.attn and o.seq_len <= case.seq_len and o.batch <= case.batch
        for o in oom
    )


def case_record(
    case: Case,
    *,
    gpu_name: str,
    gpu_total_bytes: int,
    engine_version: str,
    measured: dict[str, Any],
) -> dict[str, Any]:
    """One case in the calibration format (the keys of measurements.json's transformers cases)."""
    return {
        "id": case.case_id,
        "source": f"{SOURCE} on {gpu_name}",
        "engine": "transformers",
        "engine_version": engine_version,
        "model": case.model,
        "config_file": f"tests/fixtures/configs/{case.config_file}",
        "gpu": gpu_name,
        "gpu_total_gib": round(gpu_total_bytes / 2**30, 2),
        "gpu_total_bytes": gpu_total_bytes,
        "dtype": "bfloat16",
        "quant": None,
        "kv_cache_dtype": None,
        "tp": 1,
        "pp": 1,
        "max_model_len": None,
        "max_num_batched_tokens": None,
        "max_num_seqs": None,
        "gpu_memory_utilization": None,
        "s": case.seq_len,
        "b": case.batch,
        "attn": case.attn,
        "prompt_tokens": case.prompt_len,
        "new_tokens": case.new_tokens,
        "measured": measured,
        "notes": (
            "random bf16 weights built with from_config on the GPU; generate(do_sample=False, "
            f"min_new_tokens=max_new_tokens={case.new_tokens}) on random ids; s = prompt + new tokens; "
            "peaks from torch.cuda.max_memory_allocated / max_memory_reserved after reset_peak_memory_stats; "
            "cuda_used_bytes = total - free (cudaMemGetInfo) right after generate, before empty_cache"
        ),
        "workload": f"batch {case.batch}; prompt {case.prompt_len} tokens; generate {case.new_tokens} tokens",
    }


def write_results(records: list[dict[str, Any]], path: Path) -> None:
    """Write the list atomically (a kill mid-write leaves the previous file intact)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w") as f:
        json.dump(records, f, indent=1, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)


def output_path(arg: str | None, gpu_slug: str) -> Path:
    """``--out`` if given, else ``$OUT/transformers-<gpu>.json``, else bench/results/."""
    if arg:
        return Path(arg)
    base = Path(os.environ["OUT"]) if os.environ.get("OUT") else REPO_ROOT / "bench" / "results"
    return base / f"transformers-{gpu_slug}.json"


def gpu_slug(name: str) -> str:
    keep = [c.lower() if c.isalnum() else "-" for c in name.replace("NVIDIA ", "")]
    return "-".join(p for p in "".join(keep).split("-") if p)


def log(msg: str) -> None:
    print(msg, flush=True)


# ---------------------------------------------------------------------------------------------
# GPU side (torch and transformers imported lazily)


def build_model(config: dict[str, Any], device: str = "cuda") -> Any:
    """The causal LM for ``config``, random bf16 weights, built directly on the GPU.

    ``device="cpu"`` exists for smoke tests of the transformers API on machines without a GPU.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = AutoConfig.for_model(**config)
    text_cfg = cfg.get_text_config() if "text_config" in config else cfg
    try:
        from transformers.initialization import no_init_weights
    except ImportError:  # older layouts
        from transformers.modeling_utils import no_init_weights  # type: ignore[no-redef]

    torch.manual_seed(0)
    with torch.device(device), no_init_weights():
        model = AutoModelForCausalLM.from_config(text_cfg, dtype=torch.bfloat16, attn_implementation="sdpa")
    # Skipped init leaves whatever bytes the allocator had: fill with small normals so no NaN
    # reaches the router or the sampler (memory does not depend on the values).
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.02)
    # transformers 5.x ties lm_head to the embedding inside ``init_weights`` (post_init), and
    # ``no_init_weights`` replaces that whole method: a config that says tie_word_embeddings
    # comes out UNTIED, one vocab x hidden matrix more than the real checkpoint loads (the H200
    # run of 2026-11-26 has it: Qwen3-0.6B 751,632,384 params = 596,049,920 + 151,936 x 1,024).
    # ``tie_weights()`` re-reads the config (recompute_mapping=True) and ties them, as
    # from_pretrained does; the fill above already ran, the tied matrix keeps the embedding's.
    model.tie_weights()
    model.eval()
    gen = model.generation_config
    gen.pad_token_id = 0
    # Measure the DynamicCache that plain generate builds (what the profile models): a config's
    # cache_implementation (gemma-3 ships "hybrid", a static cache) would preallocate instead.
    gen.cache_implementation = None
    # Some configs say "use_cache": false (the Qwen3-4B fixture): generate would then recompute
    # the whole sequence every step with no cache at all. Measure the cached path.
    gen.use_cache = True
    return model


def embeddings_tied(model: Any) -> bool:
    """True when the output projection is the input embedding's very tensor (one matrix)."""
    out, inp = model.get_output_embeddings(), model.get_input_embeddings()
    if out is None or inp is None:
        return False
    return out.weight.untyped_storage().data_ptr() == inp.weight.untyped_storage().data_ptr()


def cache_bytes(cache: Any) -> int:
    """Bytes held by a DynamicCache's key/value tensors (unique storages, so views count once)."""
    seen: dict[int, int] = {}
    layers = getattr(cache, "layers", None)
    tensors: list[Any] = []
    if layers is not None:
        for layer in layers:
            for name in ("keys", "values"):
                t = getattr(layer, name, None)
                if t is not None:
                    tensors.append(t)
    for t in tensors:
        st = t.untyped_storage()
        seen[st.data_ptr()] = st.nbytes()
    return sum(seen.values())


def run_case(model: Any, case: Case, vocab_size: int, device: str = "cuda") -> dict[str, Any]:
    """Run one generate and return the measured figures (raises torch.OutOfMemoryError).

    On ``device="cpu"`` (smoke tests) the CUDA memory figures are left out.
    """
    import torch

    cuda = device == "cuda"
    torch.manual_seed(1)
    input_ids = torch.randint(0, vocab_size, (case.batch, case.prompt_len), device=device)
    attention_mask = torch.ones_like(input_ids)
    gc.collect()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    base_allocated = torch.cuda.memory_allocated() if cuda else 0
    t0 = time.perf_counter()
    out = model.generate(
        input_ids=input_ids,
        attention_mask=attention_mask,
        max_new_tokens=case.new_tokens,
        min_new_tokens=case.new_tokens,
        do_sample=False,
        return_dict_in_generate=True,
    )
    if cuda:
        torch.cuda.synchronize()
    wall = time.perf_counter() - t0
    measured: dict[str, Any] = {
        "kv_cache_bytes": cache_bytes(out.past_key_values),
        "generated_tokens": int(out.sequences.shape[1] - case.prompt_len),
        "wall_s": round(wall, 3),
    }
    if cuda:
        free, total = torch.cuda.mem_get_info()
        stats = torch.cuda.memory_stats()
        measured.update(
            {
                # What the allocator's reserve is made of (peaks since the reset): freed pieces of
                # split blocks that later requests could not use, and how many segments it held.
                "inactive_split_peak_bytes": stats.get("inactive_split_bytes.all.peak"),
                "segments_peak": stats.get("segment.all.peak"),
            }
        )
        measured.update(
            {
                "base_allocated_bytes": base_allocated,
                "max_allocated_bytes": torch.cuda.max_memory_allocated(),
                "max_reserved_bytes": torch.cuda.max_memory_reserved(),
                "reserved_bytes_after": torch.cuda.memory_reserved(),
                "cuda_used_bytes": total - free,
            }
        )
    del out, input_ids, attention_mask
    return measured


def engine_version() -> str:
    import torch
    import transformers

    return f"transformers {transformers.__version__}, torch {torch.__version__}"


def run(args: argparse.Namespace) -> int:
    plan = plan_cases(
        DEFAULT_PLAN,
        new_tokens=args.new_tokens,
        attn_impls=args.attn,
        models=args.models,
        max_seq_len=args.max_seq_len,
    )
    if args.dry_run:
        for c in plan:
            log(f"{c.case_id}  prompt={c.prompt_len} new={c.new_tokens}")
        log(f"{len(plan)} cases")
        return 0

    import torch

    t_start = time.perf_counter()
    deadline = t_start + args.budget_s
    if not torch.cuda.is_available():
        log("no CUDA device: nothing to measure")
        return 1
    torch.cuda.init()
    props = torch.cuda.get_device_properties(0)
    gpu_name = props.name
    free0, total = torch.cuda.mem_get_info()
    version = engine_version()
    out_path = output_path(args.out, gpu_slug(gpu_name))
    log(f"{gpu_name}: total {total / 2**30:.2f} GiB, used before any model {(total - free0) / 2**30:.2f} GiB")
    log(f"{version}; {len(plan)} cases planned; budget {args.budget_s:.0f} s; results -> {out_path}")

    records: list[dict[str, Any]] = []
    skipped: list[str] = []
    oom: list[Case] = []
    by_model: dict[str, list[Case]] = {}
    for c in plan:
        by_model.setdefault(c.model, []).append(c)

    for model_id, cases in by_model.items():
        if time.perf_counter() > deadline:
            skipped.extend(c.case_id for c in cases)
            continue
        try:
            config = load_config_dict(cases[0].config_file)
        except (OSError, ValueError) as e:
            log(f"SKIP {model_id}: {e}")
            skipped.extend(c.case_id for c in cases)
            continue
        text = text_config_dict(config)
        vocab = int(text.get("vocab_size") or 0) or 32000
        t0 = time.perf_counter()
        gc.collect()
        torch.cuda.empty_cache()
        context_used = total - torch.cuda.mem_get_info()[0] - torch.cuda.memory_reserved()
        try:
            model = build_model(config)
        except Exception as e:  # a family this transformers cannot build: record and go on
            log(f"SKIP {model_id}: build failed: {type(e).__name__}: {e}")
            skipped.extend(c.case_id for c in cases)
            gc.collect()
            torch.cuda.empty_cache()
            continue
        torch.cuda.synchronize()
        weights = torch.cuda.memory_allocated()
        n_params = sum(p.numel() for p in model.parameters())
        tied = embeddings_tied(model)
        log(
            f"== {model_id}: built in {time.perf_counter() - t0:.1f} s, {n_params:,} params, "
            f"weights {weights / 2**30:.2f} GiB, embeddings {'tied' if tied else 'untied'}"
        )
        # Share the remaining budget fairly among the models still to come.
        models_left = len(by_model) - list(by_model).index(model_id)
        model_deadline = min(deadline, time.perf_counter() + (deadline - time.perf_counter()) / models_left)
        current_attn = "sdpa"
        for case in cases:
            if time.perf_counter() > model_deadline:
                skipped.append(case.case_id)
                continue
            if dominated_by_oom(case, oom):
                skipped.append(case.case_id)
                log(f"skip {case.case_id}: a smaller case ran out of memory")
                continue
            if case.attn == "eager":
                free_now = torch.cuda.mem_get_info()[0]
                need = eager_score_bytes(config, case.prompt_len, case.batch)
                if need > EAGER_MAX_SHARE_OF_FREE * free_now:
                    skipped.append(case.case_id)
                    log(f"skip {case.case_id}: eager scores {need / 2**30:.1f} GiB > free share")
                    continue
            if case.attn != current_attn:
                model.set_attn_implementation(case.attn)
                current_attn = case.attn
            measured: dict[str, Any] = {
                "weights_bytes": weights,
                "cuda_context_bytes": context_used,
                "params": n_params,
                "tied_embeddings": tied,
            }
            try:
                measured.update(run_case(model, case, vocab))
                measured["oom"] = False
                peak = measured["max_allocated_bytes"]
                log(
                    f"{case.case_id}: peak {peak / 2**30:.2f} GiB (over weights "
                    f"{(peak - weights) / 2**30:.2f}), reserved {measured['max_reserved_bytes'] / 2**30:.2f}, "
                    f"used {measured['cuda_used_bytes'] / 2**30:.2f}, kv {measured['kv_cache_bytes'] / 2**30:.3f}, "
                    f"{measured['wall_s']:.1f} s"
                )
            except torch.OutOfMemoryError as e:
                oom.append(case)
                measured.update({"oom": True, "error": str(e).splitlines()[0][:300]})
                log(f"{case.case_id}: OOM")
            except Exception as e:  # record and continue: one bad case must not lose the rest
                measured.update({"oom": False, "error": f"{type(e).__name__}: {str(e)[:300]}"})
                log(f"{case.case_id}: ERROR {type(e).__name__}: {e}")
            gc.collect()
            torch.cuda.empty_cache()
            records.append(
                case_record(case, gpu_name=gpu_name, gpu_total_bytes=total, engine_version=version, measured=measured)
            )
            write_results(records, out_path)
        del model
        gc.collect()
        torch.cuda.empty_cache()

    write_results(records, out_path)
    log(
        f"done in {time.perf_counter() - t_start:.0f} s: {len(records)} cases written, "
        f"{len(skipped)} skipped{': ' + ', '.join(skipped) if skipped else ''}"
    )
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--budget-s",
        type=float,
        default=380.0,
        help="wall-clock budget including model builds; later cases are skipped (default 380)",
    )
    p.add_argument("--models", nargs="*", default=None, help="only these model ids")
    p.add_argument("--attn", nargs="*", default=list(ATTN_IMPLS), choices=ATTN_IMPLS)
    p.add_argument("--new-tokens", type=int, default=DEFAULT_NEW_TOKENS)
    p.add_argument("--max-seq-len", type=int, default=None, help="drop grid points longer than this")
    p.add_argument("--out", default=None, help="output JSON path (default $OUT/transformers-<gpu>.json)")
    p.add_argument("--dry-run", action="store_true", help="print the plan and exit (no torch needed)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
