"""What the terminal answer says around the numbers (context-window and fit notes, warnings in compare,
a reader that leaves, a bad DATABASE_URL): each test failed before its fix."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import Settings
from tests.bot.test_cli import vram

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
PHI4 = str(CONFIGS / "microsoft__phi-4.json")
LLAMA31_8B = str(CONFIGS / "meta-llama__Llama-3.1-8B.json")


def test_max_tokens_beyond_the_context_window_say_so(settings: Settings) -> None:
    # phi-4's context window is 16,384 tokens. On an H100 (79.2 GiB) its 27.3 GiB of bf16 weights
    # leave ~50 GiB, at 200 KiB per token ~250k tokens: far past what the model can attend to.
    code, out, _ = vram([PHI4, "s=16k", "gpu=h100"], settings)
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("Max on this GPU"))
    assert "context window is 16,384" in line, line
    code, out, _ = vram([PHI4, "s=16k", "gpu=h100", "--json"], settings)
    data = json.loads(out)
    assert data["details"]["context_window"] == 16_384 and data["fit"]["max_seq_len"] > 16_384


def test_no_context_note_when_memory_is_the_limit(settings: Settings) -> None:
    # Llama-3.1-8B (131,072-token window) on an L4 (~22 GiB): 15 GiB of weights leave ~6 GiB,
    # at 128 KiB per token ~50k tokens, well inside the window.
    code, out, _ = vram([LLAMA31_8B, "gpu=l4"], settings)
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("Max on this GPU"))
    assert "context window" not in line, line


def test_no_room_for_tokens_is_not_blamed_on_the_weights(settings: Settings) -> None:
    # phi-2 (2.78B fp16 = 5.2 GiB) fits an H100, but b=1,048,576 sequences do not, even of one
    # token (320 KiB of KV each is 320 GiB): the weights are not the reason.
    phi2 = str(CONFIGS / "microsoft__phi-2.json")
    code, out, _ = vram([phi2, "b=1m", "s=1m", "gpu=h100"], settings)
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("Max on this GPU"))
    assert "weights alone" not in line and "not one token at b=1,048,576" in line, line
    # DeepSeek-V3's 671B parameters (fp8, ~640 GiB) do not fit one 79 GiB H100: that is the weights.
    code, out, _ = vram([str(CONFIGS / "deepseek-ai__DeepSeek-V3.json"), "gpu=h100"], settings)
    assert "Max on this GPU: not one token at b=1 (the weights alone do not fit)" in out


def test_weights_line_follows_the_n_override(settings: Settings) -> None:
    # n=3 sizes 3 billion bf16 parameters: 6,000,000,000 bytes; the line says 3.00B, not the
    # checkpoint's 30.53B (Qwen3-30B-A3B).
    code, out, _ = vram([str(CONFIGS / "Qwen__Qwen3-30B-A3B.json"), "n=3"], settings)
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("Weights"))
    assert "6,000,000,000" in line and "3.00B parameters (n=3" in line, line


def test_compare_shows_each_side_s_warnings_once(settings: Settings) -> None:
    # phi-4's window is 16,384 tokens: at s=32k vLLM refuses it; the terminal compare used to drop that.
    qwen = str(CONFIGS / "Qwen__Qwen3-8B.json")
    code, out, _ = vram(["compare", qwen, PHI4, "s=32k", "engine=vllm"], settings)
    assert code == 0
    flat = " ".join(out.split())
    # Named by _name_or_path.
    assert "microsoft/phi-4: vLLM will not start: max_model_len 32,768 is past the 16,384" in flat, out
    assert flat.count("max_model_len 32,768 is past the 16,384") == 1, out
    # One sentence about the context window, not the generic one as well.
    assert "longer than the model's context window" not in flat
    assert "The classic formula says" not in flat
    # The two stored records are named, and either replays the comparison.
    last = out.strip().splitlines()[-1]
    assert last.startswith("kept as #") and " and #" in last and ": vram show " in last, last
    first = last.split("#")[1].split()[0]
    code, shown, _ = vram(["show", first], settings)
    assert code == 0 and "microsoft/phi-4" in shown


@pytest.mark.slow
@pytest.mark.parametrize("args", [[PHI4], [PHI4, "--json"], ["gpus"], ["--help"]])
def test_a_reader_that_leaves_is_not_an_error(tmp_path: Path, args: list[str]) -> None:
    # `vram ... | head -1`: the table output exited 1 (rich's broken-pipe handler), --json 0.
    # A pipe whose read end is already closed makes the first write fail, every time.
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'v.sqlite3'}", "PATH": "/usr/bin:/bin"}
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", "from bot.entry import main; main()", *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=env,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert proc.returncode == 0, proc.stderr
    assert b"Traceback" not in proc.stderr


def test_a_database_url_of_an_unknown_dialect_is_no_traceback() -> None:
    # DATABASE_URL=foo://bar: SQLAlchemy's create_engine raised NoSuchModuleError out of main().
    bad = Settings(database_url="foo://bar")
    code, out, err = vram([PHI4], bad)
    assert code == 0 and "Total" in out
    code, out, err = vram(["history"], bad)
    assert code == 1 and err.startswith("vram: history is off")


def test_vllm_with_fa_off_is_not_called_eager(settings: Settings) -> None:
    # vLLM has no eager attention path: the numbers ignore fa=off, so the header must not claim it.
    llama = str(CONFIGS / "meta-llama__Llama-3.1-8B.json")
    code, out, _ = vram([llama, "engine=vllm", "fa=off"], settings)
    assert code == 0
    assert "eager attention" not in out and "fused attention · vllm" in out.splitlines()[0]
    assert "fa=off changes nothing with engine=vllm" in " ".join(out.split())
    # transformers honours fa=off.
    code, out, _ = vram([llama, "fa=off"], settings)
    assert "eager attention · transformers" in out.splitlines()[0]


def test_vllm_nightly_in_words_says_which_release_it_sized(settings: Settings) -> None:
    # "nightly" names no release: the answer is vram's default release, and the intro says so and how
    # to name the build (a nightly is numbered after the last tag, X.Y.1rc1.devN).
    qwen = str(CONFIGS / "Qwen__Qwen3-8B.json")
    code, out, err = vram([f"can {qwen} run 32k on an L4 with vllm nightly?"], settings)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1] == "not used: nightly"
    release = json.loads(vram([qwen, "s=32k", "gpu=l4", "engine=vllm", "--json"], settings)[1])["vllm"]["version"]
    assert lines[2].startswith(f'"nightly" names no release: sized as vLLM {release}; ')
    assert "vllm --version" in lines[2]


def test_compare_says_a_refusal_once(settings: Settings) -> None:
    # Qwen3-32B's config allows 40,960 positions: at s=64k vLLM refuses it, which the comparison's
    # warnings say once (not as "refuses it" and again as "will not start").
    qwen32 = str(CONFIGS / "Qwen__Qwen3-32B.json")
    code, out, _ = vram(["compare", qwen32, PHI4, "s=64k", "gpu=h100", "engine=vllm"], settings)
    assert code == 0
    flat = " ".join(out.split())
    assert flat.count("max_model_len 65,536 is past the 40,960 positions") == 1, out


def test_gpu_any_lists_the_fewest_of_every_card(settings: Settings) -> None:
    qwen = str(CONFIGS / "Qwen__Qwen3-8B.json")
    code, out, err = vram([qwen, "gpu=any"], settings)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    # Qwen3-8B at 4,096 tokens needs 17.1 GiB: the smallest card that holds it alone is a 24 GB one.
    verdict = "Total 17.1 GiB (no card in particular): one NVIDIA A10G 24GB (AWS g5) holds it,"
    assert lines[1].startswith(verdict), lines[1]
    start = lines.index("The fewest of each card that hold it (gpu=any; gpu=<card> answers for one):")
    one = lines[start + 1]
    assert one.startswith("1 GPU: a10g, ") and "h100-80gb" in one and "t4" not in one.split(", ")
    assert any(line.startswith("2 GPUs: ") and "t4" in line for line in lines[start:])
    # The answer is kept: show replays the list, and a what-if names one card instead.
    record = lines[-1].split("#")[1].split(":")[0]
    code, shown, _ = vram(["show", record], settings)
    assert code == 0 and one in shown.splitlines()
    code, named, _ = vram(["show", record, "gpu=l4"], settings)
    assert code == 0 and "gpu=l4 (was any)" in named.splitlines()[0], named.splitlines()[0]
    assert "The fewest of each card" not in named


def test_gpu_any_in_json_and_compare(settings: Settings) -> None:
    qwen = str(CONFIGS / "Qwen__Qwen3-8B.json")
    code, out, _ = vram([qwen, "gpu=any", "s=32k", "--json"], settings)
    data = json.loads(out)
    assert code == 0 and data["fit"] is None and data["inputs"]["gpu"] == "any"
    by_key = {card["gpu"]: card for card in data["cards"]}
    assert by_key["h100-80gb"]["fits"] and by_key["h100-80gb"]["min_gpus"] == 1
    code, out, _ = vram(["compare", qwen, PHI4, "gpu=any"], settings)
    assert code == 0
    row = next(line for line in out.splitlines() if line.strip().startswith("Fewest GPUs"))
    assert "1 × a10g" in row and "1 × rtx-5090" in row, row


def test_a_what_if_of_a_comparison_is_one_history_row(settings: Settings) -> None:
    # `show 1 s=8k` of a comparison changes both sides: two records, one row, as the comparison is.
    qwen = str(CONFIGS / "Qwen__Qwen3-8B.json")
    assert vram(["compare", qwen, PHI4], settings)[0] == 0
    code, out, _ = vram(["show", "1", "s=8k"], settings)
    assert code == 0 and out.strip().splitlines()[-1].startswith("kept as #3 and #4")
    code, out, _ = vram(["history"], settings)
    rows = [line for line in out.splitlines() if "what-if" in line]
    assert len(rows) == 1 and rows[0].split()[:3] == ["3", "|", "4"], out
    assert "what-if of #1 | #2: s=8k" in rows[0]
    # A what-if of that what-if is the comparison again.
    code, out, _ = vram(["show", "4", "b=2"], settings)
    assert code == 0 and "kept as #5 and #6" in out
    code, out, _ = vram(["history", "--json"], settings)
    assert [r["compared_with"] for r in json.loads(out) if r["id"] in (5, 6)] == [5, 6], out


def test_which_gpu_says_its_answer_once(settings: Settings) -> None:
    # The question's answer line names the cards; the verdict under it, in the answer, in `show` and in a
    # what-if of it, gives the total only. Without a question the verdict names them itself.
    qwen = str(CONFIGS / "Qwen__Qwen3-8B.json")
    named = "holds it, the card with the least memory that does"
    for args in ([f"what GPU do I need for {qwen} at 8k?"], ["show", "1"], ["show", "1", "b=2"]):
        code, out, _ = vram(args, settings)
        assert code == 0 and out.count(named) == 1, (args, out)
        assert re.search(r"^Total [\d.]+ GiB \(no card in particular: each card's count below\)$", out, re.M), out
    code, out, _ = vram([qwen, "s=8k", "gpu=any"], settings)
    assert code == 0 and out.count(named) == 1 and "(no card in particular): one " in out, out


def test_a_what_if_of_a_limit_question_says_no_verdict_on_its_placeholder(settings: Settings) -> None:
    # "how much context ... for 4 users" asks for s: the default s=4,096 it was sized at is no question,
    # so its fit turning (20.1 -> 24.2 GiB past the L4 at b=8) is not said; the new longest context is.
    qwen = str(CONFIGS / "Qwen__Qwen3-8B.json")
    assert vram([f"how much context can {qwen} take on an L4 for 4 users?"], settings)[0] == 0
    code, out, _ = vram(["show", "1", "b=8"], settings)
    first, second = out.splitlines()[:2]
    assert code == 0 and first.startswith("what-if of #1: b=8 (was 4): total ") and "fits" not in first, first
    assert second.startswith("longest context at batch 8 on one NVIDIA L4 24GB: "), second
    # A fit question's what-if still says when the verdict turns.
    assert vram([f"will {qwen} fit on an L4 for 4 users?"], settings)[0] == 0
    code, out, _ = vram(["show", "3", "b=8"], settings)
    assert code == 0 and out.splitlines()[0].endswith("; it no longer fits"), out


def test_show_json_of_a_question_and_of_a_failure(settings: Settings) -> None:
    qwen = str(CONFIGS / "Qwen__Qwen3-8B.json")
    code, out, _ = vram([f"what GPU do I need for {qwen} at 8k?", "--json"], settings)
    asked = json.loads(out)
    assert code == 0 and asked["question"]["kind"] == "which_gpu"
    code, out, _ = vram(["show", str(asked["id"]), "--json"], settings)
    shown = json.loads(out)
    assert code == 0 and shown["read_as"] == asked["read_as"]
    assert shown["question"]["answer"] == asked["question"]["answer"] and shown["question"]["kind"] == "which_gpu"
    code, _, _ = vram([qwen, "gpus=0"], settings)
    assert code == 2
    code, out, _ = vram(["history", "--json"], settings)
    failed = next(r for r in json.loads(out) if r["status"] == "error")
    code, out, _ = vram(["show", str(failed["id"]), "--json"], settings)
    data = json.loads(out)
    assert code == 0 and data["schema_version"] == 5 and data["status"] == "error"
    assert data["error"].startswith("gpus=0 is out of range") and data["text"].endswith("gpus=0")


def test_a_warning_both_sides_give_is_said_once(settings: Settings) -> None:
    # With gpu=any and vLLM, both sides say how every card is sized: once, for both.
    qwen = str(CONFIGS / "Qwen__Qwen3-8B.json")
    code, out, _ = vram(["compare", qwen, PHI4, "engine=vllm", "gpu=any"], settings)
    assert code == 0
    flat = " ".join(out.split())
    assert flat.count("With gpu=any each card is sized") == 1 and "! both: With gpu=any each card" in flat, out


@pytest.mark.slow
def test_a_long_chain_of_what_ifs_lists_without_walking_it_all(settings: Settings) -> None:
    # 40 what-ifs, each of the one before: the listing pairs no comparison and stops climbing early.
    qwen = str(CONFIGS / "Qwen__Qwen3-0.6B.json")
    assert vram([qwen], settings)[0] == 0
    for n in range(1, 41):
        assert vram(["show", str(n), f"b={n + 1}"], settings)[0] == 0
    code, out, _ = vram(["history", "--limit", "5"], settings)
    assert code == 0 and "what-if of #40: b=41" in out


def test_show_json_of_a_what_if_of_a_question_answers_it_anew(settings: Settings) -> None:
    # The text prints the question's answer under a what-if; --json carries it too (its kind and answer).
    qwen = str(CONFIGS / "Qwen__Qwen3-8B.json")
    assert vram([f"how much context can {qwen} take on an L4 for 4 users?"], settings)[0] == 0
    code, out, _ = vram(["show", "1", "b=8", "--json"], settings)
    data = json.loads(out)
    assert code == 0 and data["what_if_of"] == 1 and "read_as" not in data
    assert data["question"]["kind"] == "max_context"
    assert data["question"]["answer"].startswith("longest context at batch 8 on one NVIDIA L4 24GB: ")
