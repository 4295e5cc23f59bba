"""The acceptance line of issue 3 at the terminal: `vram Qwen/Qwen3-8B s=32k --json` through the real
huggingface_hub client against the fake Hub, exact numbers, and a second run with zero Hub requests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import Settings
from tests.bot.test_cli import vram
from tests.fakehub import FakeHub

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"


def test_qwen3_8b_exact_and_second_run_makes_no_request(fake_hub: FakeHub, sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url, hf_endpoint=fake_hub.url)
    code, out, err = vram(["Qwen/Qwen3-8B", "s=32k", "--json"], settings)
    assert code == 0, err
    first = json.loads(out)
    assert first["model"] == "Qwen/Qwen3-8B"
    assert len(first["revision"]) == 40
    # Qwen3-8B by hand: embeddings 151,936 x 4,096 = 622,329,856 and an untied lm_head of the same;
    # per layer q 4096x4096, k and v 4096x1024 each, o 4096x4096 (= 41,943,040), q/k norms 2x128,
    # MLP 3 x 4096 x 12288 = 150,994,944, two norms 2 x 4096: 192,946,432 per layer, x36 = 6,946,071,552;
    # + 2 x 622,329,856 + final norm 4,096 = 8,190,735,360.
    assert first["params"]["total"] == 8_190_735_360
    assert first["memory"]["weights"] == 2 * 8_190_735_360
    # KV: 36 layers x (K+V) x 8 heads x 128 x 2 bytes = 147,456 bytes per token, x 32,768 tokens.
    assert first["memory"]["kv_cache"] == 147_456 * 32_768
    requests_after_first = len(fake_hub.requests())
    assert requests_after_first > 0

    # A second `vram` (a new resolver, as a new process has): answered from the database cache.
    code, out, _ = vram(["Qwen/Qwen3-8B", "s=32k", "--json"], settings)
    assert code == 0
    assert len(fake_hub.requests()) == requests_after_first
    assert json.loads(out)["memory"] == first["memory"]


def test_hub_failure_is_exit_1_with_one_sentence(fake_hub: FakeHub, sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url, hf_endpoint=fake_hub.url)
    code, out, err = vram(["Qwen/Qwen3-8b-does-not-exist"], settings)
    assert code == 1 and out == ""
    assert err.startswith("vram: ") and err.count("\n") == 1


def test_show_with_a_hub_id_asks_the_stored_query_of_another_model(fake_hub: FakeHub, sqlite_url: str) -> None:
    # As a reply in its thread may: "Qwen/Qwen3-0.6B s=8k" changes the model and s, the rest stays.
    settings = Settings(database_url=sqlite_url, hf_endpoint=fake_hub.url)
    assert vram(["Qwen/Qwen3-8B", "s=4k", "b=2", "--json"], settings)[0] == 0  # #1
    code, out, err = vram(["show", "1", "Qwen/Qwen3-0.6B", "s=8k", "--json"], settings)  # #2
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert (data["model"], data["what_if_of"], data["id"]) == ("Qwen/Qwen3-0.6B", 1, 2)
    assert (data["inputs"]["seq_len"], data["inputs"]["batch"]) == (8192, 2)
    code, out, _ = vram(["show", "1", "Qwen/Qwen3-0.6B"], settings)  # the model alone: #3
    assert code == 0 and out.splitlines()[0].startswith("what-if of #1: model=Qwen/Qwen3-0.6B (was Qwen/Qwen3-8B)")
    # Only the first word may be a model.
    code, _, err = vram(["show", "1", "Qwen/Qwen3-0.6B", "Qwen/Qwen3-8B", "s=8k"], settings)
    assert code == 2 and '"Qwen/Qwen3-8B" is not one' in err


def test_show_with_a_local_path_asks_it_of_that_model(
    fake_hub: FakeHub, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In the terminal the other model may be a local path, absolute or relative (docs/interface.md).
    settings = Settings(database_url=sqlite_url, hf_endpoint=fake_hub.url)
    folder = tmp_path / "qwen3-0.6b"
    folder.mkdir()
    (folder / "config.json").write_text((CONFIGS / "Qwen__Qwen3-0.6B.json").read_text())
    assert vram(["Qwen/Qwen3-8B", "s=4k", "--json"], settings)[0] == 0  # #1
    monkeypatch.chdir(tmp_path)
    for word in (str(folder), "./qwen3-0.6b", "qwen3-0.6b/config.json"):
        code, out, err = vram(["show", "1", word, "s=8k"], settings)
        assert (code, err) == (0, ""), (word, err)
        assert out.splitlines()[0].startswith(f"what-if of #1: s=8k (was 4k), model={word} (was Qwen/Qwen3-8B)"), out
    code, _, err = vram(["show", "1", "./missing", "s=8k"], settings)
    assert code != 0 and "missing" in err


@pytest.mark.slow
def test_as_a_process_with_hf_endpoint(fake_hub: FakeHub, tmp_path: Path) -> None:
    # The same from the environment, as a user types it: HF_ENDPOINT=<fake> vram Qwen/Qwen3-8B s=32k --json
    env = {**os.environ, "HF_ENDPOINT": fake_hub.url, "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}"}
    cmd = [sys.executable, "-c", "from bot.cli import main; main()", "Qwen/Qwen3-8B", "s=32k", "--json"]
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert first.returncode == 0, first.stderr
    seen = len(fake_hub.requests())
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert second.returncode == 0
    assert len(fake_hub.requests()) == seen
    assert json.loads(second.stdout)["params"]["total"] == 8_190_735_360
