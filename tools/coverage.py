"""Compare vram with the transformers oracle for every model type, and write the README's table.

Not installed. ``python tools/coverage.py`` prints the table; ``--write`` replaces the section
between the coverage markers in README.md. tests/estimator/test_oracle.py fails when the README's
section differs from what this prints (run it again after changing the families or the fixture).

Each causal-LM and image-text type of the fixture (tests/fixtures/oracle/transformers-5.25.json,
written by bench/oracle_transformers.py) is one of:

- exact: vram's parameters within 0.5% of the meta-device count, and its cache bytes per token and
  fixed bytes per sequence equal to the ones the real forward left (at the oracle's two lengths);
- refused: vram names what it cannot read and gives no verdict (the sentence is shown);
- params: parameters exact, but the oracle's forward failed, so the cache is not checked;
- differs: vram gives numbers that disagree with the oracle (should be none);
- not applicable: encoder-only, encoder-decoder, or no cache to size (the oracle says why);
- not built: transformers cannot build the type from its default config (the oracle says why).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "oracle" / "transformers-5.25.json"
README = ROOT / "README.md"
START, END = "<!-- coverage:start -->", "<!-- coverage:end -->"
CAUSAL, IMAGE = "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES", "MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES"
TOWERS = ("vision", "projector", "audio")
# Types whose model keeps a per-sequence state outside the cache layers the oracle reads: their fixed
# bytes cannot be checked there (parameters and bytes per token still are).
STATE_OUTSIDE_CACHE = {
    "minimax": "MiniMaxCache keeps each lightning layer's heads x head_dim x head_dim state in linear_cache",
}


@dataclass(frozen=True)
class Row:
    model_type: str
    verdict: str  # exact | refused | differs | n/a | not built
    why: str = ""
    params_vram: int | None = None
    params_oracle: int | None = None
    per_token: tuple[int, int] | None = None  # vram, oracle
    fixed: tuple[int, int] | None = None


def _sentence(text: str, limit: int = 150) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _not_applicable(rec: dict[str, Any], cfg: dict[str, Any]) -> str | None:
    status = str(rec.get("status", ""))
    if cfg.get("is_encoder_decoder"):
        return "encoder-decoder"
    text = cfg.get("text_config") if isinstance(cfg.get("text_config"), dict) else cfg
    if isinstance(text, dict) and text.get("is_decoder") is False and "NoCache" in status:
        return "encoder-only"
    if "keeps none" in status or "returned no cache" in status:
        return "no cache: " + status.split(": ", 1)[-1]
    return None


def _oracle_params(rec: dict[str, Any], with_towers: bool) -> int | None:
    params = rec.get("params") or {}
    entry = params.get(IMAGE if with_towers and IMAGE in params else CAUSAL) or next(iter(params.values()), None)
    if entry is None:
        entry = rec.get("text_model_params")
        if entry is None:
            return None
    total = int(entry["total"])
    if with_towers:
        return total
    return total - sum(int(entry.get("breakdown", {}).get(k, 0)) for k in TOWERS)


def _vram_cache(spec: Any, lengths: tuple[int, int]) -> tuple[int, int]:
    from estimator.kv import kv_cache_bytes

    bf16 = spec.model_copy(update={"torch_dtype": "bf16"})  # the oracle runs the model in bfloat16
    l1, l2 = lengths
    b1 = kv_cache_bytes(bf16, seq_len=l1, batch=1, kv_dtype="bf16", layout="contiguous")
    b2 = kv_cache_bytes(bf16, seq_len=l2, batch=1, kv_dtype="bf16", layout="contiguous")
    per_token = (b2 - b1) // (l2 - l1)
    return per_token, b1 - per_token * l1


def compare(model_type: str, rec: dict[str, Any], fixture_dir: Path, doc: dict[str, Any]) -> Row:
    from common.errors import VramError
    from estimator.config import load_model_spec

    status = str(rec.get("status", ""))
    if not rec.get("config_file") or (status.startswith(("config:", "build:", "error:")) and not rec.get("params")):
        return Row(model_type, "not built", _sentence(status.split(": ", 1)[-1]))
    cfg = json.loads((fixture_dir / rec["config_file"]).read_text())
    na = _not_applicable(rec, cfg)
    if na:
        return Row(model_type, "n/a", _sentence(na))
    try:
        spec = load_model_spec(cfg)
    except VramError as err:
        return Row(model_type, "refused", _sentence(str(err)))
    if spec.unread:
        return Row(model_type, "refused", _sentence(spec.unread[0]))
    towers = spec.params.vision > 0
    oracle_params = _oracle_params(rec, towers)
    ours = spec.params.total if towers else spec.params.total - spec.params.vision
    problems = []
    if oracle_params is None:
        problems.append("the oracle has no parameter count")
    elif abs(ours - oracle_params) > 0.005 * oracle_params:
        problems.append(f"parameters {ours:,} vs {oracle_params:,}")
    cache = rec.get("cache")
    per_token = fixed = None
    if cache is None:
        if not problems:
            return Row(
                model_type,
                "params",
                "parameters exact; the oracle's forward failed: " + _sentence(status.split(": ", 1)[-1], 90),
                ours,
                oracle_params,
            )
        problems.append("the oracle has no cache: " + _sentence(status.split(": ", 1)[-1], 80))
    else:
        lengths = tuple(doc.get("lengths_by_type", {}).get(model_type) or doc.get("lengths") or (32, 64))
        vt, vf = _vram_cache(spec, (int(lengths[0]), int(lengths[1])))
        ot, of = int(cache["bytes_per_token"]), int(cache["fixed_bytes_per_sequence"])
        per_token, fixed = (vt, ot), (vf, of)
        if vt != ot:
            problems.append(f"cache per token {vt:,} vs {ot:,} B")
        if vf != of and model_type in STATE_OUTSIDE_CACHE and of == 0 and not problems:
            outside = STATE_OUTSIDE_CACHE[model_type]
            why = f"parameters and bytes per token exact; the oracle reads no fixed state ({outside}; vram: {vf:,} B)"
            return Row(model_type, "params", why, ours, oracle_params, per_token, fixed)
        if vf != of:
            problems.append(f"fixed per sequence {vf:,} vs {of:,} B")
    verdict = "differs" if problems else "exact"
    return Row(model_type, verdict, "; ".join(problems), ours, oracle_params, per_token, fixed)


def rows(fixture: Path = FIXTURE) -> list[Row]:
    doc = json.loads(fixture.read_text())
    return [compare(t, rec, fixture.parent, doc) for t, rec in sorted(doc["types"].items())]


def table(all_rows: list[Row]) -> str:
    counted = [r for r in all_rows if r.verdict not in ("n/a", "not built")]
    exact = sum(r.verdict == "exact" for r in counted)
    refused = sum(r.verdict == "refused" for r in counted)
    differs = sum(r.verdict == "differs" for r in counted)
    params_only = sum(r.verdict == "params" for r in counted)
    na = sum(r.verdict == "n/a" for r in all_rows)
    unbuilt = sum(r.verdict == "not built" for r in all_rows)
    share = f"{100 * exact / len(counted):.0f}%" if counted else "n/a"
    lines = [
        f"**{exact} of {len(counted)} types exact ({share})**, {params_only} exact in parameters where the oracle's "
        f"forward failed, {refused} refused with a sentence, {differs} differing; "
        f"{na} not applicable, {unbuilt} that transformers does not build from its default config "
        f"({len(all_rows)} causal-LM and image-text types of transformers "
        f"{json.loads(FIXTURE.read_text()).get('transformers', '?')}).",
        "",
        "| type | vram | why / parameters (vram vs oracle) |",
        "|---|---|---|",
    ]
    for r in all_rows:
        why = r.why
        if r.verdict == "exact" and r.params_vram is not None:
            why = f"{r.params_vram:,} params"
            if r.per_token is not None and r.fixed is not None:
                why += f"; {r.per_token[0]:,} B/token, {r.fixed[0]:,} B/sequence fixed (bf16)"
        lines.append(f"| `{r.model_type}` | {r.verdict} | {why.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="replace the README section")
    args = ap.parse_args()
    text = table(rows())
    if not args.write:
        sys.stdout.write(text)
        return 0
    readme = README.read_text()
    if START not in readme:
        raise SystemExit(f"README.md has no {START} marker")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{text}{END}{tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
