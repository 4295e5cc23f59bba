"""The per-release calibration (tools/calibrate_versions.py) against the calibration2 start-up logs.

Fails on regression: per release, KV tokens from the logged pool within the issue's targets (median
<= 2%, p90 <= 5%), the start/fail verdict right on every case with a known outcome, and the README's
tables are the command's output.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location("calibrate_versions", ROOT / "tools" / "calibrate_versions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["calibrate_versions"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tool():
    return _tool()


@pytest.fixture(scope="module")
def rows(tool):
    return tool.run()


def test_every_release_meets_the_targets(tool, rows) -> None:
    summary = tool.summary(rows)
    assert len(summary) >= 5  # 0.20, 0.21, 0.24, 0.26, 0.29, 0.31 today
    for version, entry in summary.items():
        assert entry["verdicts"] == entry["verdicts_right"], version
        if entry["kv_tokens_checked"]:
            assert entry["median"] <= 0.02, version
            assert entry["p90"] <= 0.05, version


def test_logged_lines_are_reproduced_to_the_digit(rows) -> None:
    by_id = {row.id: row for row in rows}
    # n001 (v0.24.0): "GPU KV cache size: 567,978 tokens", "4.33x"; n035 (v0.20.0): 79,648, 4.03x.
    assert (by_id["n001"].tokens_from_pool, by_id["n001"].concurrency_from_pool) == (567_978, 4.33)
    assert (by_id["n035"].tokens_from_pool, by_id["n035"].concurrency_from_pool) == (79_648, 4.03)
    assert by_id["n035"].profile == "0.20" and by_id["n001"].profile == "0.24"


def test_failed_start_is_predicted_with_vllms_numbers(rows) -> None:
    # n042 (<= 0.21): "(36.0 GiB KV cache is needed, which is larger than the available KV cache memory
    # (6.94 GiB). Based on the available memory, the estimated maximum model length is 50512."
    # 6.94 GiB is rounded: the pool holds 3,157 or 3,158 blocks of 2,359,296 B (16 tokens x 144 KiB),
    # so the estimate is 50,512 or 50,528 tokens.
    row = next(r for r in rows if r.id == "n042")
    assert (row.start_from_pool, row.logged_start) == ("failed", "failed")
    assert row.needed_gib == row.logged_needed_gib == 36.0
    assert row.estimated_max_len in (50_512, 50_528)


def test_unsized_cases_say_why(rows) -> None:
    for row in rows:
        assert (row.profile is None) == (row.skipped is not None), row.id


def test_readme_shows_the_commands_tables(tool, rows) -> None:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("<!-- calibrate_versions:start -->\n") + len("<!-- calibrate_versions:start -->\n")
    end = readme.index("\n<!-- calibrate_versions:end -->")
    assert readme[start:end] == tool.markdown(rows), "README is stale: rerun tools/calibrate_versions.py --markdown"


def test_mtp_runs_come_out_within_a_block(rows) -> None:
    # Qwen3.6-27B with MTP x 3 (club-3090 composes, TP 2 and TP 4): the logged pools are rounded to
    # 0.01 GiB and the other ranks' pools may hold a block less, so one block (1/179 of a request at
    # TP 2) is the resolution. n022 (#77): "GPU KV cache size: 619,479 tokens"; n018 (#584): 1,774,963.
    by_id = {row.id: row for row in rows}
    assert by_id["n022"].tokens_from_pool == 619_479
    assert by_id["n018"].tokens_from_pool == 1_774_963
    for case in ("n019", "n021", "n034"):
        row = by_id[case]
        assert row.logged_tokens is not None and row.tokens_from_pool is not None
        assert abs(row.tokens_from_pool - row.logged_tokens) <= 262_144 // 179 + 1, case
    # n044 (GLM-5.2, 21 indexer caches of 78 layers) and n015 (MiniMax-M2.7 failed start) as logged.
    assert by_id["n044"].tokens_from_pool == 1_139_456
    assert (by_id["n015"].start_from_pool, by_id["n015"].needed_gib) == ("failed", 23.25)
