"""Run the vLLM engine on the calibration2 start-up logs (vLLM 0.20-0.33), one table per release.

    python tools/calibrate_versions.py            # plain text
    python tools/calibrate_versions.py --markdown # the README's tables
    python tools/calibrate_versions.py --json

For every vLLM case of ``tests/fixtures/calibration2/cases.json`` the script either sizes it or
says why it cannot (no config for the model, the GPU's total not known, a build that is not a
release). A case is sized two ways where it can be:

* **from the logged pool**: the logged "Available KV cache memory" goes through the engine's block
  layout (pages, groups, hybrid state pages) of the case's release; the "GPU KV cache size" tokens,
  the maximum concurrency and the start-up check (one max_model_len request fits, else vLLM's error
  and estimated maximum length) are compared with the log. This checks everything after the budget.
  The logged pool is rounded to 0.01 GiB, so the token counts at both ends of that rounding are
  computed; a logged count between them is an error of 0 (else the error is to the nearer end).
The whole pool (weights, activation peak, CUDA graphs) is not compared here: the calibration2 logs
rarely give the GPU's total, the utilization and a checkpoint whose weights we can size together
(the whole-pool check is the v0.19 set's, ``python -m tools.calibrate``).

Configs: ``tests/fixtures/configs`` (published), or ``tests/fixtures/calibration2/configs`` (the
transformers class defaults of a type, used only where they are the logged model's shape; each use
says so in ``CONFIGS`` below).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from estimator.config import load_model_spec  # noqa: E402
from estimator.engines import vllm  # noqa: E402
from estimator.gpus import lookup_gpu  # noqa: E402
from estimator.query import Query  # noqa: E402
from estimator.spec import ModelSpec  # noqa: E402

CASES = ROOT / "tests" / "fixtures" / "calibration2" / "cases.json"
PUBLISHED = ROOT / "tests" / "fixtures" / "configs"
DEFAULTS = ROOT / "tests" / "fixtures" / "calibration2" / "configs"
GiB = 1 << 30

# Case id -> (config file, why it is this model's shape, query overrides the log implies).
CONFIGS: dict[str, tuple[Path, str, dict[str, Any]]] = {
    # Qwen3.6-35B-A3B has Qwen3.5-35B-A3B's architecture, which is Qwen3_5MoeConfig's default: 40
    # layers (every 4th full attention, 2 KV heads x 256), GDN 16 key / 32 value heads x 128.
    "n001": (DEFAULTS / "qwen3_5_moe.json", "Qwen3_5MoeConfig defaults = Qwen3.5/3.6-35B-A3B", {}),
    "n002": (DEFAULTS / "qwen3_5_moe.json", "Qwen3_5MoeConfig defaults = Qwen3.5/3.6-35B-A3B", {}),
    "n035": (DEFAULTS / "qwen3_5_moe.json", "Qwen3_5MoeConfig defaults = Qwen3.5/3.6-35B-A3B", {}),
    "n047": (DEFAULTS / "qwen3_5_moe.json", "Qwen3_5MoeConfig defaults = Qwen3.5/3.6-35B-A3B", {}),
    "n048": (DEFAULTS / "qwen3_5_moe.json", "Qwen3_5MoeConfig defaults = Qwen3.5/3.6-35B-A3B", {}),
    "n049": (DEFAULTS / "qwen3_5_moe.json", "Qwen3_5MoeConfig defaults = Qwen3.5/3.6-35B-A3B", {}),
    "n050": (DEFAULTS / "qwen3_5_moe.json", "Qwen3_5MoeConfig defaults = Qwen3.5/3.6-35B-A3B", {}),
    # Qwen2.5-7B-Instruct-AWQ: the base model's published config, weights as AWQ.
    "n037": (PUBLISHED / "Qwen__Qwen2.5-7B.json", "Qwen2.5-7B published config, AWQ weights", {"weight_format": "awq"}),
    "n045": (PUBLISHED / "meta-llama__Llama-3.1-8B.json", "Llama-3.1-8B published config", {}),
    # The failed start quotes 36.0 GiB for 262,144 tokens: 144 KiB per token, the text stack of
    # Qwen3-VL-8B, which is Qwen3-8B's (36 layers x 8 KV heads x 128).
    "n042": (PUBLISHED / "Qwen__Qwen3-8B.json", "Qwen3-8B = Qwen3-VL-8B's text stack (144 KiB/token)", {}),
    # Qwen3.6-27B keeps Qwen3.5-27B's shape (64 layers, every 4th full attention with 4 KV heads x
    # 256; GDN 16 key / 48 value heads x 128), a config copied from public sources (see SOURCES.md).
    # The club-3090 composes run MTP with 3 speculative tokens (flags_evidence in the case).
    **{
        case: (DEFAULTS / "qwen3_5_27b.json", "Qwen3.5-27B published shape = Qwen3.6-27B", {})
        for case in ("n017", "n018", "n019", "n021", "n022", "n034", "n039", "n040", "n046")
    },
    # GLM-5.2 has GLM-5.3's shape (78 MLA layers; indexers on layers 0-2 and every 4th from 6 to 74,
    # 21 of 78, the rest share them); the log's "Using standard fp8 KV cache format" is the
    # Blackwell (sm100) sparse-MLA path, so the case is sized as on a B200.
    "n044": (DEFAULTS / "glm5_3.json", "GLM-5.3 published config = GLM-5.2 shape; sm100 fp8 layout", {"gpu": "b200"}),
    # MiniMax-M2.7 keeps MiniMax-M2's shape (MiniMaxM2Config defaults: 62 layers, 8 KV heads x 128).
    "n016": (DEFAULTS / "minimax_m2.json", "MiniMaxM2Config defaults = MiniMax-M2 shape", {}),
    "n015": (DEFAULTS / "minimax_m2.json", "MiniMaxM2Config defaults = MiniMax-M2 shape", {}),
}

# Cases of a model whose config is here, but whose log leaves out a setting that changes the pool's
# layout: sizing them would test a guess of that setting.
FLAGS_UNKNOWN: dict[str, str] = {
    **{
        case: "Qwen3.6/3.8-27B: the KV dtype or the speculative config is cut from the excerpt"
        for case in ("n030", "n031", "n032")
    },
    "n010": "an nvfp4 KV cache, which vram does not model",
    "n011": "an nvfp4 KV cache, which vram does not model",
    "n029": "Qwen3.6-27B: the KV dtype and prefix caching are not in the excerpt, nor whether it started",
    "n033": "an int8_per_token_head KV cache, which vram does not model",
}


@dataclass
class Row:
    id: str
    version: str  # as logged
    profile: str | None  # the release the engine follows for it
    model: str
    gpu: str
    tp: int
    max_model_len: int | None
    logged_pool_gib: float | None
    logged_tokens: int | None
    logged_concurrency: float | None
    logged_start: str  # "started" / "failed"
    tokens_from_pool: int | None = None
    # The token counts at the two ends of the logged pool's rounding (format_gib: 2 decimals).
    tokens_range: tuple[int, int] | None = None
    concurrency_from_pool: float | None = None
    start_from_pool: str | None = None
    estimated_max_len: int | None = None
    logged_estimated_max_len: int | None = None
    needed_gib: float | None = None
    logged_needed_gib: float | None = None
    skipped: str | None = None
    config_note: str = ""

    @property
    def tokens_error(self) -> float | None:
        if self.tokens_from_pool is None or not self.logged_tokens:
            return None
        if self.tokens_range is not None:
            low, high = self.tokens_range
            if low <= self.logged_tokens <= high:
                return 0.0  # the log's own pool, within its rounding, gives the logged count
            nearest = low if self.logged_tokens < low else high
            return nearest / self.logged_tokens - 1
        return self.tokens_from_pool / self.logged_tokens - 1

    @property
    def verdict_right(self) -> bool | None:
        if self.start_from_pool is None:
            return None
        return self.start_from_pool == self.logged_start


def _number(text: str | None, pattern: str) -> float | None:
    if not text:
        return None
    match = re.search(pattern, text)
    return float(match.group(1).replace(",", "")) if match else None


def _release(version: str) -> str | None:
    """The minor release of a logged version; None for builds not tied to one ("not printed")."""
    match = re.match(r"^\s*v?(\d+)\.(\d+)", version)
    if match:
        return f"{int(match.group(1))}.{int(match.group(2))}"
    bound = re.match(r"^\s*(?:vllm\s*)?<=\s*(\d+)\.(\d+)", version)
    return f"{int(bound.group(1))}.{int(bound.group(2))}" if bound else None


# The "GPU KV cache size" line as int(max concurrency x max_model_len) shipped in the 0.20.2 patch
# release, not only in 0.21.0 (vllm_profiles follows minor releases): the v0.20.2 log of n048 and the
# 0.20.2rc1 nightlies (n019, n021, n022) print it; v0.20.0 (n035, n047) prints the block count.
_CONCURRENCY_TOKENS_FROM_PATCH = {(0, 20): 2}


def _token_line(version: str, profile_report: str) -> str:
    """The token-line formula of the logged build: its minor release's, unless a patch of that
    release already carries the next one's."""
    match = re.match(r"^\s*v?(\d+)\.(\d+)\.(\d+)", version)
    if match:
        first = _CONCURRENCY_TOKENS_FROM_PATCH.get((int(match.group(1)), int(match.group(2))))
        if first is not None and int(match.group(3)) >= first:
            return "concurrency"
    return profile_report


def _gpu(case: dict[str, Any]) -> str | None:
    text = (case.get("gpu_model") or "").lower()
    for key in ("h200", "h100", "a100-80gb", "rtx-5090", "rtx-4090", "rtx-3090", "b200", "h20"):
        name = key.replace("-", " ").replace("rtx ", "rtx ")
        if name.split()[-1] in text.replace("geforce ", ""):
            return key
    return None


def _speculative(case: dict[str, Any]) -> tuple[int, str | None]:
    """(MTP speculative tokens, why the case cannot be sized) from the case's speculative_config."""
    config = case.get("speculative_config")
    if not config:
        return 0, None
    if config.get("method") == "mtp":
        return int(config["num_speculative_tokens"]), None
    return 0, f"a {config.get('method')} draft model's weights and KV are not modelled"


def _query(case: dict[str, Any], release: str, overrides: dict[str, Any]) -> Query:
    kv = (case.get("kv_cache_dtype") or "auto").lower()
    flags = case.get("other_flags") or {}
    prefix = flags.get("enable_prefix_caching")
    return Query(
        mtp=_speculative(case)[0] or None,
        engine="vllm",
        vllm=release,
        seq_len=case.get("max_model_len") or 8192,
        gpus=case.get("tensor_parallel_size") or 1,
        kv="fp8" if kv.startswith("fp8") else "auto",
        util=case.get("gpu_memory_utilization"),
        max_num_batched_tokens=case.get("max_num_batched_tokens"),
        max_num_seqs=case.get("max_num_seqs"),
        prefix_caching=prefix if isinstance(prefix, bool) else None,
        **overrides,
    )


def _failed_start(case: dict[str, Any]) -> tuple[float, float, int] | None:
    """(needed GiB, available GiB, estimated max length) of a logged fit-check failure."""
    for line in case["measured"].get("raw_lines") or []:
        match = re.search(r"\(?([\d.]+) GiB KV cache is needed.*?memory \(([\d.]+) GiB\)\..*?length is (\d+)", line)
        if match:
            return float(match.group(1)), float(match.group(2)), int(match.group(3))
    return None


def size_case(case: dict[str, Any]) -> Row:
    m = case["measured"]
    failure = _failed_start(case)
    row = Row(
        id=case["id"],
        version=case["version"],
        profile=None,
        model=str(case.get("model_id"))[:60],
        gpu=str(case.get("gpu_model"))[:30],
        tp=case.get("tensor_parallel_size") or 1,
        max_model_len=case.get("max_model_len"),
        logged_pool_gib=_number(m.get("available_kv_cache_memory"), r"([\d.]+) GiB"),
        logged_tokens=int(t) if (t := _number(m.get("gpu_kv_cache_size"), r"size: ([\d,]+) tokens")) else None,
        logged_concurrency=_number(m.get("max_concurrency"), r": ([\d.]+)x"),
        logged_start="failed" if failure else "started",
    )
    release = _release(case["version"])
    if (why := _speculative(case)[1]) is not None:
        row.skipped = why
        return row
    if case["id"] in FLAGS_UNKNOWN:
        row.skipped = FLAGS_UNKNOWN[case["id"]]
        return row
    if case["id"] not in CONFIGS:
        row.skipped = "no config of the logged model (2026 models without a published config, or not named)"
        return row
    if release is None:
        row.skipped = "the vLLM release is not known"
        return row
    path, note, overrides = CONFIGS[case["id"]]
    row.config_note = note
    spec = load_model_spec(json.loads(path.read_text()))
    query = _query(case, release, overrides)
    profile, _ = vllm.version_profile(query)
    row.profile = profile.version
    gpu_key = _gpu(case)
    batched, _ = vllm.batch_defaults(query, lookup_gpu(gpu_key) if gpu_key else None)
    if failure:
        needed, available, estimated = failure
        row.logged_pool_gib = available
        row.logged_estimated_max_len = estimated
        row.logged_needed_gib = needed
        _check_from_pool(row, spec, query, int(available * GiB), batched)
        return row
    if row.logged_pool_gib is None:
        row.skipped = "the log shows no KV pool"
        row.profile = None
        return row
    pool = int(row.logged_pool_gib * GiB)
    line = _token_line(case["version"], profile.kv_tokens_report)
    if line != profile.kv_tokens_report:
        row.config_note += "; 0.20.2+: the token line is int(concurrency x max_model_len)"

    def tokens_at(pool_bytes: int) -> tuple[int, float]:
        _, tokens, concurrency = vllm.kv_capacity(spec, query, pool_bytes, batched_tokens=batched)
        return (int(concurrency * query.seq_len) if line != profile.kv_tokens_report else tokens), concurrency

    tokens, concurrency = tokens_at(pool)
    half = GiB // 200  # "X.XX GiB": the pool is within half a hundredth of a GiB of the printed value
    row.tokens_range = (tokens_at(pool - half)[0], tokens_at(pool + half - 1)[0])
    row.tokens_from_pool, row.concurrency_from_pool = tokens, round(concurrency, 2)
    _check_from_pool(row, spec, query, pool, batched)
    return row


def _check_from_pool(row: Row, spec: ModelSpec, query: Query, pool: int, batched: int) -> None:
    check = vllm.start_check(spec, query, pool, batched_tokens=batched)
    row.start_from_pool = "started" if check.fits else "failed"
    row.needed_gib = round(check.needed_bytes / GiB, 2)
    row.estimated_max_len = None if check.fits else check.estimated_max_model_len


def run() -> list[Row]:
    cases = [c for c in json.loads(CASES.read_text()) if c.get("engine") == "vllm"]
    return [size_case(c) for c in cases]


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:+.1f}%"


def summary(rows: list[Row]) -> dict[str, dict[str, Any]]:
    """Per release: KV-token errors (from the logged pool), and the start/fail verdicts."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.profile is None:
            continue
        entry = out.setdefault(row.profile, {"cases": 0, "errors": [], "verdicts": 0, "verdicts_right": 0})
        entry["cases"] += 1
        if row.tokens_error is not None:
            entry["errors"].append(abs(row.tokens_error))
        if row.verdict_right is not None:
            entry["verdicts"] += 1
            entry["verdicts_right"] += int(row.verdict_right)
    for entry in out.values():
        errors = sorted(entry.pop("errors"))
        entry["kv_tokens_checked"] = len(errors)
        if errors:
            entry["median"] = statistics.median(errors)
            entry["p90"] = errors[min(len(errors) - 1, round(0.9 * (len(errors) - 1)))]
            entry["max"] = errors[-1]
    return dict(sorted(out.items(), key=lambda kv: tuple(int(p) for p in kv[0].split("."))))


def markdown(rows: list[Row]) -> str:
    lines: list[str] = []
    for version, entry in summary(rows).items():
        lines += [
            f"#### vLLM {version}",
            "",
            "| case | model | GPU x TP | max_model_len | KV tokens (from logged pool) / logged | "
            "max concurrency | start / logged |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in rows:
            if row.profile != version:
                continue
            tokens = (
                f"{row.tokens_from_pool:,} / {row.logged_tokens:,} ({_pct(row.tokens_error)})"
                if row.tokens_from_pool is not None and row.logged_tokens
                else ""
            )
            if tokens and row.tokens_range is not None and row.tokens_range[0] != row.tokens_range[1]:
                tokens += f"; {row.tokens_range[0]:,}-{row.tokens_range[1]:,} over the pool's rounding"
            conc = (
                f"{row.concurrency_from_pool:.2f} / {row.logged_concurrency:.2f}"
                if row.concurrency_from_pool is not None and row.logged_concurrency is not None
                else ""
            )
            start = f"{row.start_from_pool} / {row.logged_start}"
            if row.estimated_max_len is not None:
                start += (
                    f": needs {row.needed_gib} GiB (logged {row.logged_needed_gib}) of "
                    f"{row.logged_pool_gib} GiB; estimated max length {row.estimated_max_len:,} "
                    f"(logged {row.logged_estimated_max_len:,})"
                )
            lines.append(
                f"| {row.id} ({row.version.split(' (')[0]}) | {row.model} | {row.gpu} x {row.tp} | "
                f"{row.max_model_len or ''} | {tokens} | {conc} | {start} |"
            )
        stats = (
            f"KV tokens |error| median {entry['median'] * 100:.2f}%, p90 {entry['p90'] * 100:.2f}%, "
            f"max {entry['max'] * 100:.2f}% on {entry['kv_tokens_checked']} case(s)"
            if entry["kv_tokens_checked"]
            else "no KV-token line to compare"
        )
        lines += ["", f"{stats}; start/fail verdict right on {entry['verdicts_right']} of {entry['verdicts']}.", ""]
    skipped = [row for row in rows if row.skipped]
    reasons: dict[str, list[str]] = {}
    for row in skipped:
        reasons.setdefault(row.skipped or "", []).append(row.id)
    lines += [
        f"Not sized: {len(skipped)} of {len(rows)} vLLM cases. "
        + "; ".join(f"{reason}: {', '.join(ids)}" for reason, ids in reasons.items())
        + "."
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = run()
    if args.json:
        print(json.dumps({"rows": [asdict(r) for r in rows], "summary": summary(rows)}, indent=1))
    else:
        print(markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
