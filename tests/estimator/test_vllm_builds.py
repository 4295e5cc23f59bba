"""vllm= with a build that is not a plain release: a nightly or release candidate keeps its whole
version string, and a build past X.Y.0 says it is sized with X.Y's rules.

vLLM's version strings are PEP 440 (setuptools-scm): a main-branch build after the v0.33.0 tag is
numbered 0.33.1rc1.devN+g<sha> (the calibration set's own 0.26.1rc1.dev608 is one), so it may already
carry what the next minor release ships.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot import report
from common.errors import InputError
from estimator.config import load_model_spec
from estimator.engines import vllm
from estimator.engines.vllm_profiles import release_of as release
from estimator.estimate import estimate
from estimator.grammar import parse_query

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
QWEN = load_model_spec(json.loads((CONFIGS / "Qwen__Qwen3-8B.json").read_text()))
NIGHTLY = "0.33.1rc1.dev50+g554340f3d"


def _est(*words: str):  # type: ignore[no-untyped-def]
    query, _ = parse_query(["m", "engine=vllm", "gpu=h100", "s=8k", *words])
    return estimate(QWEN, query, model_id="m")


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        (NIGHTLY, NIGHTLY),
        ("v0.33.1RC1.DEV50+G554340F3D", NIGHTLY),  # PEP 440 normal form: lower case, no "v"
        ("0.33.0rc2", "0.33.0rc2"),
        ("0.30.0.post1", "0.30.0.post1"),
    ],
)
def test_a_build_keeps_its_whole_version(given: str, kept: str) -> None:
    est = _est(f"vllm={given}")
    assert est.query.vllm == kept
    assert est.to_json()["inputs"]["vllm"] == kept
    minor = kept.split(".")[0] + "." + kept.split(".")[1]
    assert report.header(est).endswith(f" · vllm {kept} (follows the {minor} profile)")
    # The minor release's profile sizes it: the same numbers as the release itself.
    assert est.memory == _est(f"vllm={minor}").memory


def test_a_dev_build_past_the_release_says_whose_rules_size_it() -> None:
    (warning,) = [w.message for w in _est(f"vllm={NIGHTLY}").warnings if w.code == "vllm_dev_build"]
    assert f"vLLM {NIGHTLY}" in warning and "0.33's rules" in warning
    assert "next release" in warning
    # A release, a patch release and a candidate of 0.33.0 itself are 0.33: no such warning.
    for version in ("0.33", "0.31.1", "0.33.0rc2", "0.30.0.post1"):
        assert not [w for w in _est(f"vllm={version}").warnings if w.code == "vllm_dev_build"], version


def test_a_release_vram_has_not_profiled_keeps_its_patch() -> None:
    # 0.10.2 is sized with 0.19's rules (the oldest profiled) and the pre-0.17 sampler; the header
    # names the release as asked, patch included, as it does for 0.31.2.
    old = _est("vllm=0.10.2")
    assert old.query.vllm == "0.10.2"
    assert vllm.ENGINE.display_name(old.query) == "vllm 0.10.2 (0.19's rules with the pre-0.17 sampler warm-up)"
    assert report.header(_est("vllm=0.31.2")).endswith(" · vllm 0.31.2 (follows the 0.31 profile)")
    (warning,) = [w.message for w in old.warnings if w.code == "vllm_release"]
    assert warning.startswith("vLLM 0.10.2 is not profiled")


def test_a_string_that_is_no_release_names_the_range_followed() -> None:
    followed = vllm.followed_versions()
    oldest, newest = min(followed, key=release), max(followed, key=release)
    for bad in ("banana", "latest", "0.33.x", "1!0.33", "0.33.1.2", "0.33.1+" + "a" * 200):
        with pytest.raises(InputError) as err:
            parse_query(["m", f"vllm={bad}"])
        said = str(err.value)
        assert f" is not a vLLM release: write a release from {oldest} to {newest}, e.g. vllm=" in said
        assert said.startswith(f"vllm={bad[:12]}") and len(said) < 200  # a long string is cut, not echoed


def test_vllm_release_implies_the_vllm_engine_unless_another_is_named() -> None:
    query, _ = parse_query(["m", "vllm=0.31"])
    assert (query.engine, query.vllm) == ("vllm", "0.31")
    # Named beside another engine, the release stays a setting that engine does not read (a warning).
    query, _ = parse_query(["m", "engine=transformers", "vllm=0.31"])
    assert (query.engine, query.vllm) == ("transformers", "0.31")
    est = estimate(QWEN, query.model_copy(update={"gpu": "h100"}), model_id="m")
    assert [w for w in est.warnings if w.code == "setting_ignored" and "vllm" in w.message]
