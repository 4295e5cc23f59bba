"""The calibration2 fixture: every case says where it came from and how its version is known."""

from __future__ import annotations

import json
import re
from pathlib import Path

from estimator.engines.vllm_profiles import profile_for

CASES = json.loads((Path(__file__).parents[1] / "fixtures" / "calibration2" / "cases.json").read_text())


def test_ids_are_unique() -> None:
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids))


def test_every_case_has_a_source_and_version_evidence() -> None:
    for case in CASES:
        # A log found through the code index has no URL; it says so and gives the index id.
        unresolved = "URL NOT ESTABLISHED" in (case.get("notes") or "")
        assert case.get("source_url") or case.get("source_ref") or unresolved, case["id"]
        if case["engine"] == "vllm":
            assert case.get("version") and case.get("version_evidence"), case["id"]


def test_printed_vllm_versions_map_to_a_profile_without_warning() -> None:
    printed = [
        c
        for c in CASES
        if c["engine"] == "vllm"
        and c["version"][:1].isdigit()
        and "inferred" not in c["version"]
        and "(" not in c["version"]
    ]
    assert len(printed) >= 20
    for case in printed:
        profile, warning = profile_for(case["version"])
        assert warning is None, (case["id"], case["version"])
        assert case["version"].startswith(profile.version), case["id"]


def test_source_urls_are_public_and_files_pinned() -> None:
    """A repository file is cited at the commit that was read; a case without a URL names its index id."""
    for case in CASES:
        url = case.get("source_url")
        if url is None:
            unresolved = "URL NOT ESTABLISHED" in (case.get("notes") or "")
            assert unresolved or "code index id" in (case.get("source_ref") or ""), case["id"]
            continue
        assert url.startswith("https://"), case["id"]
        if "/blob/" in url:
            assert re.search(r"/blob/[0-9a-f]{40}/", url), case["id"]
