"""Block Kit rendering, on hand-built estimates whose numbers are worked out here from config numbers."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot import blocks, report
from bot.blocks import escape
from bot.commands import parse_changes
from estimator.config import load_model_spec
from estimator.engines.vllm import VllmReport
from estimator.estimate import estimate
from estimator.notes import note
from estimator.query import Query
from estimator.result import Classic, Details, Estimate, Fit, Memory
from tests.blockkit import block_errors, phone_errors

GIB = 1024**3
H100 = 85_030_617_088  # bytes CUDA reports for an H100 80GB HBM3

# microsoft/phi-4: 14,659,507,200 parameters in bf16 -> 2 bytes each.
PHI4_PARAMS = 14_659_507_200
PHI4_WEIGHTS = PHI4_PARAMS * 2  # 29,319,014,400 B = 27.31 GiB
# KV per token: 2 (K and V) x 40 layers x 10 KV heads x 128 head_dim x 2 bytes = 204,800 B = 200 KiB
PHI4_KV_PER_TOKEN = 2 * 40 * 10 * 128 * 2
PHI4_KV_16K = PHI4_KV_PER_TOKEN * 16384  # 3,355,443,200 B = 3.125 GiB
ACT = 2_800_000_000  # activations and overhead: chosen round numbers for the test
OVER = 1_200_000_000
PHI4_TOTAL = PHI4_WEIGHTS + PHI4_KV_16K + ACT + OVER  # 36,674,457,600 B = 34.16 GiB
SHA = "4a5f1d3e" + "0" * 32


def phi4(
    *,
    gpu: bool = True,
    seq: int = 16384,
    kv_bytes: int = PHI4_KV_16K,
    warnings: tuple[str, ...] = (),
    model: str = "microsoft/phi-4",
    **query: object,
) -> Estimate:
    q = Query(model=model, seq_len=seq, gpu="h100-80gb" if gpu else None, **query)
    memory = Memory(weights=PHI4_WEIGHTS, kv_cache=kv_bytes, activations=ACT, overhead=OVER)
    total = memory.total
    fit = None
    if gpu:
        fit = Fit(
            gpu="h100-80gb",
            gpu_name="H100 80GB",
            gpu_memory=H100,
            fits=total <= H100,
            headroom=H100 - total,
            max_seq_len=233_000,
            max_batch=14,
            min_gpus=1,
        )
    return Estimate(
        model=model,
        revision=SHA,
        params_total=PHI4_PARAMS,
        params_active=None,
        query=q,
        memory=memory,
        classic=Classic(model_gb=29.4, vanilla_gb=91.27, gqa_gb=26.26, flash_gb=5.39, kv_cache_gb=1.34, total_gb=36.13),
        fit=fit,
        details=Details(
            kv_bytes_per_token=PHI4_KV_PER_TOKEN,
            weight_format="bf16",
            kv_dtype="bf16",
            activation_peak_where="prefill MLP",
            params_source="safetensors",
            classic_kv_ratio=2.5,
        ),
        warnings=warnings,
    )


def all_text(msg: blocks.Message) -> str:
    """Every string Slack would render as mrkdwn: the blocks and the fallback."""
    return json.dumps(msg.kwargs()["blocks"], ensure_ascii=False) + "\n" + msg.text


def assert_valid_blocks(msg: blocks.Message) -> None:
    """Slack's Block Kit limits and the phone-width rule (tests/blockkit.py), a fallback text present."""
    assert msg.text.strip()
    assert 0 < len(msg.blocks) <= 50
    assert block_errors(msg.blocks) == []
    assert phone_errors(msg.blocks, msg.text) == []


def test_escape_the_three_control_characters() -> None:
    assert escape("<!channel> & <@U1|x>") == "&lt;!channel&gt; &amp; &lt;@U1|x&gt;"
    assert escape("plain") == "plain"


def test_estimate_message_content_and_order() -> None:
    # The estimator words the classic comparison (estimator/estimate.py); the message shows it.
    classic = "The classic formula says 33.6 GiB here: its KV cache term is 2.5x too small."
    msg = blocks.estimate_message(phi4(warnings=(classic,)), record_id=42)
    assert_valid_blocks(msg)
    text = msg.text
    header = "microsoft/phi-4 @ 4a5f1d3 · bf16 · s=16,384 · b=1 · fused attention · transformers"
    assert header in text
    # total 36,674,457,600 B / 2^30 = 34.16 -> "34.2"? No: 34.155... -> 34.2 GiB
    assert PHI4_TOTAL == 36_674_457_600
    assert f"{36_674_457_600 / GIB:.1f}" == "34.2"
    # headroom 85,030,617,088 - 36,674,457,600 = 48,356,159,488 B = 45.04 GiB
    assert "Total 34.2 GiB: fits one H100 80GB with 45.0 GiB to spare" in text
    # weights 29,319,014,400 B = 27.305 GiB -> 27.3; KV 3.125 -> 3.1;
    # activations 2.8e9 B = 2.61 GiB -> 2.6; overhead 1.2e9 B = 1.12 GiB -> 1.1
    assert "weights 27.3 | KV 3.1 | activations 2.6 | overhead 1.1 GiB" in text
    assert "14.66B parameters in bf16" in text
    assert "200 KiB per token x 16,384 tokens x 1 sequence" in text
    assert "peak: prefill MLP, fused attention" in text
    # 233,000 tokens = 227.5 x 1024: shown as 227k, the grammar's k, rounded down so s=227k still fits.
    assert "Max on this GPU: 227k tokens at b=1, or b=14 at s=16,384" in text
    # The classic comparison is noise unless asked for (method=classic or the answer's menu).
    assert "classic formula" not in text and "Memory consumption" not in text
    asked = blocks.estimate_message(phi4(warnings=(classic,)), record_id=42, classic=True)
    assert_valid_blocks(asked)
    assert f":warning: {classic}" in asked.text
    assert "Memory consumption of the model: 29.4 GB" in asked.text
    assert "#42" in text and "Reply in this thread" in text
    # Order: header, verdict, breakdown, limits, hint.
    positions = [text.index(s) for s in (header, "Total 34.2", "Weights", "Max on this GPU", "Reply in")]
    assert positions == sorted(positions)
    # The context line with the hint, then the what-if buttons.
    assert msg.blocks[-2]["type"] == "context"
    assert msg.blocks[-1]["type"] == "actions"


def test_bar_scaled_to_the_gpu() -> None:
    est = phi4()
    b = blocks.bar(est)
    assert b.startswith("[") and b.endswith("]")
    cells = b[1:-1]
    assert len(cells) == 30
    # used share: 36,674,457,600 / 85,030,617,088 = 0.4313 -> round(12.94) = 13 cells used
    assert len(cells) - cells.count(blocks.BAR_FREE) == 13
    # weights are 29.3e9 / 85.0e9 x 30 = 10.34 cells -> 10 (largest remainder gives the 13th to KV or act)
    assert cells.count("█") == 10
    assert cells.index("█") == 0


def test_bar_without_gpu_is_all_used() -> None:
    cells = blocks.bar(phi4(gpu=False))[1:-1]
    assert blocks.BAR_FREE not in cells
    # weights 29,319,014,400 / 36,674,457,600 x 30 = 23.98 -> 24 cells (largest remainder)
    assert cells.count("█") == 24


def test_does_not_fit_says_how_short_and_how_many_gpus() -> None:
    est = phi4(seq=131072, kv_bytes=PHI4_KV_PER_TOKEN * 131072 * 4, batch=4)
    # kv = 204,800 x 131,072 x 4 = 107,374,182,400 B; total = 29,319,014,400 + 107,374,182,400
    #      + 2.8e9 + 1.2e9 = 140,693,196,800; short by 140,693,196,800 - 85,030,617,088 = 55,662,579,712 B
    assert est.memory.total == 140_693_196_800
    est = est.model_copy(update={"fit": est.fit.model_copy(update={"min_gpus": 2})})
    text = blocks.estimate_message(est).text
    assert f"{55_662_579_712 / GIB:.1f}" == "51.8"
    assert "does not fit one H100 80GB (51.8 GiB short); it fits on 2 of them (`gpus=2`)" in text
    assert "x 4 sequences" in text


def test_no_gpu_suggests_one() -> None:
    text = blocks.estimate_message(phi4(gpu=False)).text
    assert "Total 34.2 GiB (add `gpu=h100` to check the fit, `gpu=any` for every card)" in text
    assert "Max on this GPU" not in text


def test_kv_off() -> None:
    est = phi4(kv_bytes=0, kv="off")
    est = est.model_copy(update={"details": est.details.model_copy(update={"kv_dtype": None})})
    text = blocks.estimate_message(est).text
    assert "no KV cache" in text
    assert "off (kv=off)" in text


def test_vllm_line() -> None:
    est = phi4(engine="vllm")
    report = VllmReport(
        version="0.19.0",
        kv_cache_memory=40 * GIB,
        kv_cache_tokens=209_715,
        max_concurrency=12.8,
        # 13,107 blocks of 16 tokens over 1,024 a request: 12.80 printed; less the null block,
        # 13,106 / 1,024 = 12.798 held.
        max_resident=12.79,
        weights=PHI4_WEIGHTS,
        activation_peak=ACT,
        non_torch=OVER,
        cuda_graphs=0,
        cuda_graphs_in_budget=False,
        gpu_memory_utilization=0.9,
        requested_memory=int(0.9 * H100),
        block_size=16,
        num_gpu_blocks=13107,
        max_num_batched_tokens=8192,
        max_num_seqs=1024,
        starts=True,
        estimated_max_model_len=16384,
        start_error=None,
        log_lines=(),
    )
    text = blocks.estimate_message(est.model_copy(update={"engine_report": report})).text
    assert (
        # What the process holds: 0.9 x 85,030,617,088 B = 71.27 GiB of the device's 79.19 GiB, and
        # beside it one GPU's CUDA context, 522 MiB = 0.51 GiB (no graphs in this report).
        "vLLM 0.19.0 will hold 71.3 GiB of 79.2 GiB (util=0.9 x the device) + 0.51 GiB CUDA context; the KV pool "
        "takes what the rest "
        "leaves, 40.0 GiB, room for 12.79 requests of 16,384 tokens at once (its 13,107 blocks less the null "
        'block, which no request gets); its log will print "GPU KV cache size: 209,715 tokens"'
    ) in text
    assert "CUDA graphs" in text


def test_classic_method_prints_the_six_lines() -> None:
    text = blocks.estimate_message(phi4(method="classic")).text
    assert "Memory consumption of the model: 29.4 GB" in text
    assert "Total Memory consumption (given the selected configuration): 36.13 GB" in text
    assert "classic formula says" not in text


def test_classic_comparison_is_said_once_and_only_when_asked() -> None:
    # The estimator's warning carries the classic comparison; the message shows it once, when asked.
    est = phi4(gpu=False)
    classic = note("classic_formula", "The classic formula says 33.6 GiB here (...)")
    warned = est.model_copy(update={"warnings": (classic,)})
    assert blocks.estimate_message(warned, classic=True).text.count("The classic formula says") == 1
    assert "The classic formula says" not in blocks.estimate_message(warned).text
    assert "The classic formula says" not in blocks.estimate_message(est).text


@pytest.mark.parametrize("evil", ["<!channel>", "<!here|here>", "<https://evil.example|click>", "a & b"])
def test_user_text_cannot_inject_mentions_or_links(evil: str) -> None:
    est = phi4(warnings=(f"config says {evil}",))
    messages = [
        blocks.estimate_message(est, note=f"not saved: {evil}"),
        blocks.error_message(f'unknown key "{evil}"'),
        blocks.what_if_message(est, est, {"gpu": evil}),
        blocks.history_message(
            [Rec(1, datetime(2026, 1, 2, 3, 4, tzinfo=UTC), f"x {evil}", "ok", "U0001")], model=evil
        ),
    ]
    for msg in messages:
        rendered = all_text(msg)
        assert evil not in rendered
        assert escape(evil) in rendered
    # nothing but our own user mentions and date tokens ever opens a "<" sequence
    ours = re.compile(r"@U0001>|!date\^\d+\^\{date_num\} \{time\}\|\d{4}-\d\d-\d\d \d\d:\d\d UTC>")
    for msg in messages:
        for chunk in all_text(msg).split("<")[1:]:
            assert ours.match(chunk), chunk


def test_what_if_says_what_changed_and_the_difference() -> None:
    base = phi4()
    new = phi4(seq=32768, kv_bytes=PHI4_KV_PER_TOKEN * 32768)
    # new total - old = KV difference = 204,800 x 16,384 = 3,355,443,200 B = +3.1 GiB
    # new total = 36,674,457,600 + 3,355,443,200 = 40,029,900,800 B = 37.3 GiB
    msg = blocks.what_if_message(new, base, {"s": "32k"}, record_id=7)
    assert_valid_blocks(msg)
    first = msg.blocks[0]["text"]["text"]
    # spare 45.04 GiB - 3.125 GiB = 41.92 GiB
    assert first == (
        "Changed `s=32k` (was 16k): total 34.2 GiB → 37.3 GiB (+3.1 GiB)\n"
        "Fit: fits one H100 80GB (45.0 GiB spare) → fits one H100 80GB (41.9 GiB spare)"
    )
    assert "Reply in this thread" not in msg.text  # the thread already knows how
    assert "s=32,768" in msg.text


def test_what_if_names_a_model_as_an_id_and_leaves_out_what_kept_its_value() -> None:
    # "model=X" is no key a reply takes (the id alone is); a key repeated at its value is no change.
    base = phi4()
    new = phi4(model="microsoft/phi-4-mini")
    lead = blocks.what_if_lead({"model": "microsoft/phi-4-mini", "s": "16384"}, base, new)
    assert lead.startswith("Changed `microsoft/phi-4-mini` (was `microsoft/phi-4`): total ")
    assert "model=" not in lead and "`s=" not in lead
    # Only the repeated value: said as it is, with what it was.
    same = blocks.what_if_lead({"s": "16384"}, base, phi4())
    assert same.startswith("Changed `s=16k` (was 16k): total ") and "unchanged" in same


def test_what_if_reports_a_fit_change() -> None:
    base = phi4()
    big = phi4(seq=262144, kv_bytes=PHI4_KV_PER_TOKEN * 262144)  # 53.7e9 B of KV: no longer fits an H100
    assert not big.fit.fits
    worse, better = blocks.what_if_lead({"s": "256k"}, base, big), blocks.what_if_lead({"s": "16k"}, big, base)
    assert "\nFit: fits" in worse and "→ does not fit" in worse, worse
    assert "\nFit: does not fit" in better and "→ fits" in better, better


def test_compare_message() -> None:
    a = phi4(gpu=False)
    b = phi4(gpu=False, model="Qwen/Qwen3-8B", kv_bytes=2 * PHI4_KV_16K)
    msg = blocks.compare_message(a, b, record_ids=(3, 4))
    assert_valid_blocks(msg)
    # b - a = one more PHI4_KV_16K = 3,355,443,200 B = +3.1 GiB
    assert "Qwen/Qwen3-8B@4a5f1d3 needs 3.1 GiB more than microsoft/phi-4@4a5f1d3" in msg.text
    assert "microsoft/phi-4@4a5f1d3 needs 3.1 GiB less than Qwen/Qwen3-8B@4a5f1d3" in (
        blocks.compare_message(b, a).text
    )
    assert "#3 and #4" in msg.text


@dataclass
class Rec:
    id: int
    created_at: datetime
    text: str
    status: str
    user: str | None = None
    error: str | None = None
    parent_id: int | None = None
    model: str | None = None
    params: dict[str, Any] | None = field(default_factory=dict)


def test_history_message_sums_up_input_mistakes() -> None:
    when = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
    recs = [
        Rec(14, when, "org/model s=abc", "error", "U0001", error="s=abc is not a number", params=None),
        Rec(13, when, "org/model s=8k", "ok", "U0001", params={"seq_len": 8192}),
        Rec(12, when, "org/model q=1", "error", "U0001", error='unknown key "q"', params=None),
    ]
    msg = blocks.history_message(recs)
    assert_valid_blocks(msg)
    assert "`org/model s=8k`" in msg.text
    assert "s=abc" not in msg.text and "q=1" not in msg.text  # not listed, only counted
    assert "2 input mistakes not listed (#14, #12)" in msg.text


def test_history_message_lists_records_and_handles_empty() -> None:
    recs = [
        Rec(12, datetime(2026, 11, 26, 5, 0, tzinfo=UTC), "microsoft/phi-4 s=16k", "ok", "U0001"),
        Rec(11, datetime(2026, 11, 25, 4, 0, tzinfo=UTC), "nope/nope", "nope/nope was not found", "U0002"),
    ]
    msg = blocks.history_message(recs)
    assert_valid_blocks(msg)
    # The time in each reader's timezone (Slack's date token), UTC where a client cannot show it.
    when = "<!date^1795669200^{date_num} {time}|2026-11-26 05:00 UTC>"
    assert f"`#12` {when} · <@U0001> · `microsoft/phi-4 s=16k`" in msg.text
    assert ":x: nope/nope was not found" in msg.text
    assert msg.text.index("#12") < msg.text.index("#11")
    # A user field that is not a Slack id is never turned into a mention.
    odd = blocks.history_message([Rec(1, datetime(2026, 1, 1, tzinfo=UTC), "m/x", "ok", "!channel")]).text
    assert "<!channel" not in odd and "<@" not in odd and " · !channel · " in odd
    assert "No queries in this channel yet." in blocks.history_message([]).text
    assert "You have no queries yet." in blocks.history_message([], mine=True).text
    empty_mine = blocks.history_message([], model="llama", mine=True)
    assert "None of your queries matching “llama” yet." in empty_mine.text


def test_long_history_is_split_under_the_section_limit() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    recs = [Rec(i, when, "m/" + "x" * 90 + " s=32k", "ok", "U0001") for i in range(200)]
    msg = blocks.history_message(recs)
    assert_valid_blocks(msg)
    assert sum(b["text"]["text"].count("`#") for b in msg.blocks if b["type"] == "section") == 200


def test_a_pasted_paragraph_first_in_history_keeps_the_listing_valid() -> None:
    # A 3,000-character question as the newest query: its line is shortened, no section is empty,
    # and history and the Home tab stay valid for Slack (they were refused as invalid_blocks).
    when = datetime(2026, 1, 1, tzinfo=UTC)
    long = "can Qwen/Qwen3-8B run 32k on an H100 " + "really " * 420 + "?"
    recs = [Rec(2, when, long, "ok", "U0001"), Rec(1, when, "Qwen/Qwen3-8B s=8k", "ok", "U0001")]
    for msg in (blocks.history_message(recs), blocks.history_message(recs, mine=True)):
        assert_valid_blocks(msg)
        [first] = [
            line
            for b in msg.blocks
            if b["type"] == "section"
            for line in b["text"]["text"].split("\n")
            if "`#2`" in line
        ]
        assert first.endswith("…`") and len(first) < 600, first
    view = blocks.home_view(recs)
    assert not block_errors(view["blocks"]) and all(b.get("text", {}).get("text", "x") for b in view["blocks"])
    # A single line past a section's limit is cut to fit rather than flushing an empty section first.
    sections = blocks._sections(["y" * 5000, "z"])
    assert [len(b["text"]["text"]) for b in sections] == [2990, 1]


def test_gpus_and_help() -> None:
    @dataclass
    class G:
        key: str
        name: str
        memory_bytes: int

    msg = blocks.gpus_message([G("h100-80gb", "NVIDIA H100 80GB HBM3", H100)])
    assert_valid_blocks(msg)
    assert "h100-80gb" in msg.text and "79.2 GiB" in msg.text  # 85,030,617,088 / 2^30 = 79.19
    help_msg = blocks.help_message()
    assert_valid_blocks(help_msg)
    assert "/vram history" in help_msg.text and "s=16k" in help_msg.text


def test_home_view() -> None:
    view = blocks.home_view([Rec(5, datetime(2026, 1, 1, tzinfo=UTC), "<!channel>", "ok", "U0001")])
    assert view["type"] == "home"
    rendered = json.dumps(view)
    assert "<!channel>" not in rendered and "&lt;!channel&gt;" in rendered
    assert "You have no queries yet." in json.dumps(blocks.home_view([]))


def test_nothing_we_render_opens_a_slack_control_sequence() -> None:
    """Our own literals too: a raw "<" would start a link or mention in mrkdwn."""

    @dataclass
    class G:
        key: str
        name: str
        memory_bytes: int

    est = phi4()
    rendered = [
        blocks.estimate_message(est, record_id=1, note="not saved"),
        blocks.what_if_message(est, est, {"s": "32k"}),
        blocks.compare_message(est, est, record_ids=(1, 2)),
        blocks.history_message([], model="x"),
        blocks.gpus_message([G("h100-80gb", "NVIDIA H100", H100)]),
        blocks.help_message(),
        blocks.error_message("x"),
        blocks.notice_message("plain"),
    ]
    for msg in rendered:
        assert_valid_blocks(msg)
        assert "<" not in all_text(msg) and ">" not in all_text(msg).replace("&gt;", "")
    assert "<" not in json.dumps(blocks.home_view([]))


def test_history_lines_read_well_for_what_ifs_errors_and_pasted_code() -> None:
    when = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
    recs = [
        # A thread reply typed only the change: the line says which model it changed.
        Rec(3, when, "s=32k gpu=l4", "ok", "U0001", parent_id=2, model="Qwen/Qwen3-8B"),
        # An error record: the store keeps status "error" and the sentence in error.
        Rec(2, when, "nope/nope", "error", "U0001", error="nope/nope is not a model on the Hugging Face Hub"),
        # Text pasted as `code`: its backticks would close the line's code span early.
        Rec(1, when, "`Qwen/Qwen3-8B` s=4k", "ok", "U0001", model="Qwen/Qwen3-8B"),
    ]
    msg = blocks.history_message(recs)
    assert_valid_blocks(msg)
    assert (
        "`#3` <!date^1795669200^{date_num} {time}|2026-11-26 05:00 UTC> · <@U0001> · `s=32k gpu=l4` on `Qwen/Qwen3-8B`"
        in msg.text
    )
    assert "`nope/nope` · :x: nope/nope is not a model on the Hugging Face Hub" in msg.text
    assert "· `Qwen/Qwen3-8B s=4k`" in msg.text


def test_token_counts_read_back_in_the_grammar() -> None:
    # What "Max on this GPU" shows can be typed back as s= and is never more than the true count.
    from bot.commands import parse
    from bot.report import tokens

    for n in (512, 9_999, 10_000, 233_000, 1_048_576, 1_258_291, 3_951_616, 16 * 1024 * 1024 - 1):
        shown = tokens(n).replace(",", "")
        assert parse(f"org/model s={shown}").query.seq_len <= n, (n, shown)


def test_a_code_block_too_wide_for_a_phone_becomes_short_lines() -> None:
    narrow = "```\nWeights       27.3 GiB\nTotal         34.2 GiB\n```"
    assert blocks.narrow(narrow) == narrow  # 21 characters a line: kept as a table
    wide = "```\n" + "kv             on off auto bf16 fp16 fp8 int8            default on" + "\n```"
    assert blocks.narrow(wide) == "`kv` on off auto bf16 fp16 fp8 int8 · default on"
    assert phone_errors([{"type": "section", "text": {"type": "mrkdwn", "text": blocks.narrow(wide)}}]) == []
    assert phone_errors([{"type": "section", "text": {"type": "mrkdwn", "text": wide}}]) != []


def test_what_if_buttons_follow_the_answer() -> None:
    # phi-4 on one H100 fits (min_gpus 1 = gpus): no GPU-count button; s=16,384 x 2 = 32k; bf16 KV -> fp8.
    est = phi4()
    assert [change for _label, change in blocks.what_ifs(est)] == ["s=32k", "b=2", "kv=fp8", "engine=vllm"]
    actions = blocks.what_if_actions(est, 42, private=True)
    assert block_errors([actions]) == []
    menu = actions["elements"][-1]
    assert [o["value"] for o in menu["options"]] == ["share:42", "classic:42", "delete:42"]
    public = blocks.what_if_actions(est, 42)["elements"][-1]
    assert [o["value"] for o in public["options"]] == ["classic:42", "delete:42"]  # already in the channel


def test_the_other_engine_button_runs_one_copy_where_replicas_or_stages_are_vllms() -> None:
    # transformers runs no replicas or pipeline stages (dp=/pp= are refused there): the button asks for
    # one copy, its layers spread over all the GPUs, and typed back as a what-if it is answered.
    config = Path(__file__).resolve().parents[1] / "fixtures" / "configs" / "Qwen__Qwen3-8B.json"
    spec = load_model_spec(json.loads(config.read_text()))
    base = Query(model="q", seq_len=32_768, batch=64, engine="vllm", gpu="h100")
    for update, change in (
        ({"dp": 2}, "engine=transformers dp=1"),
        ({"gpus": 2, "pp": 2}, "engine=transformers gpus=4 pp=1"),
        ({}, "engine=transformers"),
    ):
        q = base.model_copy(update=update)
        [button] = [c for label, c in blocks.what_ifs(estimate(spec, q, model_id="q")) if label == "On transformers"]
        assert button == change
        got = parse_changes(button, q)
        assert got is not None
        moved = got[0]
        assert moved.engine == "transformers" and moved.dp == 1 and moved.pp == 1
        assert estimate(spec, moved, model_id="q").fit is not None
    # A setting transformers has no counterpart for at all (a vLLM KV layout): no button.
    refused = estimate(spec, base.model_copy(update={"kv": "nvfp4"}), model_id="q")
    assert not [label for label, _ in blocks.what_ifs(refused) if label == "On transformers"]


def test_a_fit_the_engine_refuses_is_not_a_negative_shortfall() -> None:
    # vLLM refuses gpus=3 for Qwen3-8B (32 attention heads): memory has room to spare there, so the
    # what-if's fit says the engine will not start it, never "(-60.0 GiB short)".
    config = Path(__file__).resolve().parents[1] / "fixtures" / "configs" / "Qwen__Qwen3-8B.json"
    spec = load_model_spec(json.loads(config.read_text()))
    ask = Query(model="q", seq_len=32_768, engine="vllm", gpu="h100", gpus=2)
    base = estimate(spec, ask, model_id="q")
    refused = estimate(spec, ask.model_copy(update={"gpus": 3}), model_id="q")
    assert refused.fit is not None and refused.fit.engine_refuses and refused.fit.headroom > 0
    phrase = blocks.fit_phrase(refused)
    assert phrase is not None and phrase.endswith("x NVIDIA H100 80GB HBM3 (SXM5) (vLLM will not start it)"), phrase
    lead = blocks.what_if_lead({"gpus": "3"}, base, refused)
    assert "Fit: fits 2 x" in lead and "(vLLM will not start it)" in lead and "short" not in lead, lead
    # vLLM's start check (one request past the pool less its null block) reads the same.
    long = estimate(spec, Query(model="q", seq_len=40_960, engine="vllm", gpu="l4"), model_id="q")
    assert isinstance(long.engine_report, VllmReport) and not long.engine_report.starts
    assert long.fit is not None and long.fit.engine_refuses is None
    assert (blocks.fit_phrase(long) or "").endswith("(vLLM will not start it)")


def test_buttons_and_the_hint_offer_only_changes_that_run() -> None:
    config = Path(__file__).resolve().parents[1] / "fixtures" / "configs" / "Qwen__Qwen3-8B.json"
    spec = load_model_spec(json.loads(config.read_text()))  # a 40,960-token window

    def ask(**kw: object) -> Estimate:
        return estimate(spec, Query(model="q", engine="vllm", gpu="h100", **kw), model_id="q")  # type: ignore[arg-type]

    # 32k x 2 passes the window, which vLLM refuses: the window itself is offered instead.
    labels = dict(blocks.what_ifs(ask(seq_len=32_768)))
    assert "Longest context (s=max)" in labels and labels["Longest context (s=max)"] == "s=max"
    assert not any(label.startswith("Context x2") for label in labels)
    # The label is the value the click sets: 32,000 x 2 is 64,000, not "62k" (63,488).
    at = dict(blocks.what_ifs(ask(seq_len=16_000)))
    assert at["Context x2 (s=32000)"] == "s=32000"
    # One GPU reads "1 GPU": two H100s asked where one holds it.
    two = ask(seq_len=8192, gpus=3)
    assert ("1 GPU (smallest that fits)", "gpus=1") in blocks.what_ifs(two)
    # The thread hint's examples each change something: not engine=vllm on a vLLM answer, nor the GPU asked.
    hint = blocks.reply_hint(ask(seq_len=32_768, batch=8, kv="fp8"))
    assert "`engine=transformers`" in hint and "engine=vllm" not in hint
    assert "`gpu=a100-40gb`" in hint and "`b=16`" in hint and "kv=fp8" not in hint
    assert "`s=16k`" in hint  # 64k would pass the window
    # Past the window (vLLM refuses it): the way back to it, as a button and as the hint's example.
    past = ask(seq_len=65_536)
    assert past.fit is not None and past.fit.engine_refuses is not None
    assert ("Longest context (s=max)", "s=max") in blocks.what_ifs(past)
    assert blocks.reply_hint(past).startswith("Reply in this thread to change one thing: `s=max` · ")


def test_history_titles_read_as_english() -> None:
    recs = [Rec(12, datetime(2026, 11, 26, 5, 0, tzinfo=UTC), "microsoft/phi-4 s=16k", "ok", "U0001")]
    assert blocks.history_message(recs, mine=True).text.startswith("*Your recent queries* (")
    assert blocks.history_message(recs, mine=True, model="phi").text.startswith("*Your recent queries* matching “phi”")
    assert blocks.history_message(recs).text.startswith("*Recent queries in this channel* (")


def test_the_context_buttons_follow_the_engines_longest_context() -> None:
    # Llama-2-7b (4,096 positions) with linear RoPE scaling x4: vLLM's longest max_model_len is
    # 4 x 4,096 = 16,384, so at s=4k doubling is offered although it passes max_position_embeddings.
    config = json.loads(
        (Path(__file__).resolve().parents[1] / "fixtures" / "configs" / "meta-llama__Llama-2-7b-hf.json").read_text()
    )
    config["rope_scaling"] = {"type": "linear", "factor": 4.0}
    spec = load_model_spec(config)
    est = estimate(spec, Query(model="l", engine="vllm", gpu="h100", seq_len=4096), model_id="l")
    assert est.details.longest_context == 16_384 and est.details.context_window == 4096
    assert ("Context x2 (s=8k)", "s=8k") in blocks.what_ifs(est)


def test_gpu_any_in_slack_lists_the_cards_and_offers_the_smallest() -> None:
    configs = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
    spec = load_model_spec(json.loads((configs / "Qwen__Qwen3-8B.json").read_text()))
    est = estimate(spec, Query(model="q", gpu_any=True), model_id="Qwen/Qwen3-8B")
    msg = blocks.estimate_message(est, record_id=5)
    assert_valid_blocks(msg)
    # 17.1 GiB in bf16 at 4,096 tokens: a 24 GB card (the A10G, 21.98 GiB) holds it alone, a 16 GB one does not.
    assert "*Total 17.1 GiB (no card in particular): one NVIDIA A10G 24GB (AWS g5) holds it" in msg.text
    assert "• 1 GPU: a10g, " in msg.text and "• 2 GPUs: " in msg.text
    # Slack reads <...> as a link: the heading says gpu=&lt;card&gt;, and a long line is cut to 12 cards.
    assert "*The fewest of each card that hold it (gpu=any; gpu=&lt;card&gt; answers for one):*" in msg.text
    assert "<card>" not in msg.text
    one = next(line for line in msg.text.splitlines() if line.startswith("• 1 GPU: "))
    assert one.count(",") == blocks.CARDS_PER_LINE and one.endswith("more"), one
    smallest = [c for label, c in blocks.what_ifs(est) if label == "1 × a10g (fewest GPUs)"]
    assert smallest == ["gpu=a10g"]
    # Typed back in the thread, the button names that card and replaces any.
    got = parse_changes(smallest[0], est.query)
    assert got is not None and (got[0].gpu, got[0].gpu_any) == ("a10g", False)
    # A comparison with gpu=any gives each side's fewest.
    phi4_spec = load_model_spec(json.loads((configs / "microsoft__phi-4.json").read_text()))
    other = estimate(phi4_spec, Query(model="p", gpu_any=True), model_id="microsoft/phi-4")
    compared = blocks.compare_message(est, other)
    assert_valid_blocks(compared)
    assert "Fewest GPUs 1 × a10g" in compared.text and "Fewest GPUs 1 × rtx-5090" in compared.text
    assert "gpu=any" in compared.text


@pytest.mark.slow
def test_gpu_any_on_a_layout_asked_lists_the_cards_that_hold_it_so() -> None:
    from bot import report

    configs = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
    spec = load_model_spec(json.loads((configs / "Qwen__Qwen3-8B.json").read_text()))
    est = estimate(spec, Query(model="q", gpu_any=True, gpus=2, seq_len=32_768, batch=8), model_id="q")
    lines = report.cards_lines(est)
    held = sorted((c for c in est.cards if c.fits), key=lambda c: c.gpu_memory)
    assert held and lines[0] == "On 2 GPUs as asked: " + ", ".join(c.gpu for c in held)
    assert lines[1].startswith("The fewest of each other card that hold it")
    # The cards listed after it are those two do not hold, each once.
    listed = [k for line in lines[2:] if not line.startswith("none") for k in line.split(": ")[1].split(", ")]
    assert set(listed).isdisjoint(c.gpu for c in held)
    assert report.cards_answer(est).startswith(f"2 × {held[0].gpu_name} hold it on 2 GPUs, as do ")


def test_gpu_any_with_method_classic_says_it_sizes_one_gpu() -> None:
    from bot import report

    configs = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
    spec = load_model_spec(json.loads((configs / "Qwen__Qwen3-8B.json").read_text()))
    est = estimate(spec, Query(model="q", gpu_any=True, method="classic"), model_id="q")
    none = [line for line in report.cards_lines(est) if line.startswith("none: ")]
    # The classic terms (16.4 GB of weights alone) are the whole model on one device: a T4 (15.8 GB) never.
    assert len(none) == 1 and "t4" in none[0] and "method=classic sizes the whole model on one GPU" in none[0]


def test_a_kv_what_if_says_which_dtype_kv_on_was() -> None:
    from bot import report
    from bot.slack_app import from_slack

    configs = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
    spec = load_model_spec(json.loads((configs / "Qwen__Qwen3-8B.json").read_text()))
    base = estimate(spec, Query(model="q"), model_id="q")
    fp8 = estimate(spec, Query(model="q", kv="fp8"), model_id="q")
    assert report.what_if_line(1, ["kv"], base, fp8).startswith("what-if of #1: kv=fp8 (was on, bf16): ")
    # The command typed as a message is the command.
    assert from_slack("/vram Qwen/Qwen3-8B s=32k") == "Qwen/Qwen3-8B s=32k"
    assert from_slack("`/vram Qwen/Qwen3-8B gpu=l4`") == "Qwen/Qwen3-8B gpu=l4"
    assert from_slack("`s=32k`") == "`s=32k`"  # other code is read as it is


def test_a_card_the_engine_starts_on_one_gpu_only_says_so_not_memory() -> None:
    from bot import report

    # transformers quantizes to NVFP4 on load on one GPU only: a 16 GB card that does not hold the
    # 21.9 GiB is not helped by more of them, and the reason is that refusal, not the activations.
    configs = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
    spec = load_model_spec(json.loads((configs / "Qwen__Qwen3-32B.json").read_text()))
    one = estimate(spec, Query(model="q", weight_format="nvfp4", gpu="rtx-5080"), model_id="q")
    assert one.fit is not None and one.fit.min_gpus == 0
    assert one.fit.min_gpus_refusal is not None and "on one GPU only" in one.fit.min_gpus_refusal
    line = report.verdict(one)
    assert "; more GPUs do not start it: transformers quantizes to NVFP4 on load" in line and "activations" not in line
    # Its way back to one GPU is what did not fit: not offered.
    assert "use gpus=1" not in line and line.endswith("use engine=vllm with an NVFP4 checkpoint"), line
    every = estimate(spec, Query(model="q", weight_format="nvfp4", gpu_any=True), model_id="q")
    none = [line for line in report.cards_lines(every) if line.startswith("none: ")]
    # One line per rule: the cards before Blackwell (and the AMD ones) share one, the card's own figure left out.
    assert len(none) == 2, none
    before = next(line for line in none if "only on Blackwell GPUs" in line)
    assert "h100-80gb" in before and "mi300x" in before and "is compute capability" not in before
    assert "rtx-5080" in next(line for line in none if "on one GPU only" in line)


@pytest.mark.slow
def test_no_vllm_layout_says_what_is_not_searched() -> None:
    from bot import report

    # DeepSeek-V3 in fp8 (about 630 GiB of weights) at 32k: 16 GB cards hold it in no tensor-parallel
    # group and replicas vLLM accepts; expert parallelism and pipeline stages are not tried.
    configs = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
    spec = load_model_spec(json.loads((configs / "deepseek-ai__DeepSeek-V3.json").read_text()))
    est = estimate(spec, Query(model="q", seq_len=32_768, engine="vllm", gpu_any=True), model_id="q")
    none = [line for line in report.cards_lines(est) if line.startswith("none: ")]
    assert any("rtx-4080" in line and "not searched: expert parallelism (ep=on) and pp=" in line for line in none)


def test_a_channel_listing_with_the_askers_dm_queries_says_so() -> None:
    from store.records import Conversation

    when = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
    here = Rec(2, when, "microsoft/phi-4", "ok", "U0001")
    dm = Rec(1, when, "Qwen/Qwen3-8B", "ok", "U0001")
    dm.conversation = Conversation(platform="slack", workspace="T1", channel="D1", user="U0001", private=True)  # type: ignore[attr-defined]
    assert blocks.history_message([here]).text.startswith("*Recent queries in this channel* (")
    assert blocks.history_message([here, dm]).text.startswith(
        "*Recent queries in this channel and your private ones* ("
    )
    # An answer its asker deleted from the channel is theirs alone now too.
    gone = Rec(3, when, "microsoft/phi-4 s=8k", "ok", "U0001")
    gone.public = False  # type: ignore[attr-defined]
    assert blocks.history_message([here, gone]).text.startswith("*Recent queries in this channel and your private")


def test_a_comparison_what_if_in_the_history_names_both_models() -> None:
    when = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
    a = Rec(3, when, "s=32k", "ok", "U0001", parent_id=1, model="Qwen/Qwen3-8B")
    b = Rec(4, when, "s=32k", "ok", "U0001", parent_id=2, model="Qwen/Qwen3-0.6B")
    [line] = blocks.history_lines([b, a], compares=[(a, b)])
    assert "`#3` `#4`" in line and "`s=32k` on `Qwen/Qwen3-8B` and `Qwen/Qwen3-0.6B`" in line, line


@pytest.mark.slow
def test_no_card_holds_it_offers_no_more_context_or_batch() -> None:
    configs = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
    spec = load_model_spec(json.loads((configs / "Qwen__Qwen3-8B.json").read_text()))
    # vLLM refuses 131,072 tokens past the model's 40,960 on every card: the way back is s=max.
    est = estimate(spec, Query(model="q", gpu_any=True, engine="vllm", seq_len=131_072), model_id="q")
    labels = [label for label, _ in blocks.what_ifs(est)]
    assert "Longest context (s=max)" in labels
    assert not [label for label in labels if label.startswith(("Batch x2", "Context x2"))], labels
    # The hint's examples make it smaller too.
    hint = blocks.reply_hint(
        estimate(spec, Query(model="q", gpu_any=True, engine="vllm", seq_len=131_072, batch=256), model_id="q")
    )
    assert "`s=max`" in hint and "`b=128`" in hint, hint


def test_a_what_if_to_or_from_gpu_any_says_the_fit_on_each_side() -> None:
    configs = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
    spec = load_model_spec(json.loads((configs / "Qwen__Qwen3-8B.json").read_text()))
    on_l4 = estimate(spec, Query(model="q", gpu="l4"), model_id="q")
    every = estimate(spec, Query(model="q", gpu_any=True), model_id="q")
    lead = blocks.what_if_lead({"gpu": "any"}, on_l4, every)
    assert lead.splitlines()[1].startswith("Fit: fits one NVIDIA L4 24GB (") and lead.endswith(
        "→ on every card, the fewest: 1 × a10g"
    ), lead
    back = blocks.what_if_lead({"gpu": "l4"}, every, on_l4)
    assert back.splitlines()[1].startswith("Fit: on every card, the fewest: 1 × a10g → fits one NVIDIA L4 24GB"), back


def test_cards_that_take_more_than_64_gpus_share_one_line() -> None:
    from bot import report

    configs = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
    spec = load_model_spec(json.loads((configs / "Qwen__Qwen3-32B.json").read_text()))
    q = Query(model="q", gpu_any=True, engine="vllm", seq_len=32_768, batch=16)
    est = estimate(spec, q, model_id="q")
    lines = report.cards_lines(est)
    many = [c for n, cards in report.card_groups(est) if n > report.MANY_GPUS for c in cards]
    assert many, "the 8 GB and 12 GB cards take more than 64 of them here"
    [line] = [line for line in lines if line.startswith("more than 64 GPUs: ")]
    assert all(f"{c.gpu} (" in line for c in many)
    assert not [line for line in lines if line.split(" GPU")[0].isdigit() and int(line.split(" GPU")[0]) > 64]


def test_gpu_any_on_replicas_and_stages_lists_the_cards_that_hold_it_so() -> None:
    from bot import report

    configs = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
    spec = load_model_spec(json.loads((configs / "Qwen__Qwen3-8B.json").read_text()))
    q = Query(model="q", gpu_any=True, engine="vllm", gpus=2, pp=2, dp=2)
    lines = report.cards_lines(estimate(spec, q, model_id="q"))
    # On the layout asked, each card is named alone (its own fewest layout is not the one asked), and
    # no heading stands over nothing.
    assert lines[0].startswith("On 8 GPUs (gpus=2 pp=2 dp=2) as asked: ") and "(" not in lines[0].split(": ", 1)[1]
    assert not (lines[-1].endswith(":") and lines[-1].startswith("The fewest"))


def test_the_terminal_what_if_line_to_and_from_gpu_any() -> None:
    from bot import report

    configs = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
    spec = load_model_spec(json.loads((configs / "Qwen__Qwen3-8B.json").read_text()))
    on_l4 = estimate(spec, Query(model="q", gpu="l4"), model_id="q")
    every = estimate(spec, Query(model="q", gpu_any=True), model_id="q")
    assert report.what_if_line(1, ["gpu"], on_l4, every).endswith("; on every card, the fewest: 1 × a10g")
    assert report.what_if_line(2, ["gpu"], every, on_l4).endswith("; it fits")


def test_a_vllm_comparison_without_a_gpu_has_no_pool_rows() -> None:
    from bot import render_text

    configs = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
    a = estimate(
        load_model_spec(json.loads((configs / "Qwen__Qwen3-8B.json").read_text())),
        Query(model="a", engine="vllm"),
        model_id="a",
    )
    b = estimate(
        load_model_spec(json.loads((configs / "Qwen__Qwen3-4B.json").read_text())),
        Query(model="b", engine="vllm"),
        model_id="b",
    )
    rows = [str(c) for c in render_text.compare_table(a, b).columns[0]._cells]
    assert not [r for r in rows if "KV pool" in r or r.startswith("Requests")], rows


def test_the_history_in_a_dm_is_this_conversations() -> None:
    when = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
    here = Rec(2, when, "microsoft/phi-4", "ok", "U0001")
    assert blocks.history_message([here], direct=True).text.startswith("*Recent queries in this conversation* (")
    assert blocks.history_message([], direct=True).text.startswith("No queries in this conversation yet")


def test_a_limit_questions_what_if_lead_leaves_out_the_placeholder_fit() -> None:
    # b=4 -> b=8 on an L4 turns the fit at s=4,096 (20.1 -> 24.2 GiB); a "how much context" question's
    # answer is its longest context, so its lead does not say the fit turned.
    configs = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
    spec = load_model_spec(json.loads((configs / "Qwen__Qwen3-8B.json").read_text()))
    base = estimate(spec, Query(model="q", batch=4, gpu="l4"), model_id="q")
    new = estimate(spec, Query(model="q", batch=8, gpu="l4"), model_id="q")
    assert "\nFit: " in blocks.what_if_lead({"b": "8"}, base, new)
    assert "Fit" not in blocks.what_if_lead({"b": "8"}, base, new, fit_change=False)


def test_the_bar_legend_past_10000_gib_gives_each_part_its_unit() -> None:
    # gpt-oss-20b at 128k under transformers' eager attention: TiB of fp32 scores beside 12.8 GiB of
    # weights, which one TiB figure would show as 0.0.
    configs = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
    spec = load_model_spec(json.loads((configs / "openai__gpt-oss-20b.json").read_text()))
    est = estimate(spec, Query(model="g", seq_len=128 * 1024, gpu="rtx4090"), model_id="g")
    legend = report.bar_legend(est)
    assert legend.startswith("weights 12.8 GiB | KV ") and " TiB" in legend and "0.0" not in legend, legend
    small = estimate(spec, Query(model="g", gpu="h100"), model_id="g")
    assert re.fullmatch(
        r"weights [\d.]+ \| KV [\d.]+ \| activations [\d.]+ \| overhead [\d.]+ GiB", report.bar_legend(small)
    )
