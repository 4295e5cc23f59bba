"""Buttons, the sizing form, shortcuts and Hub unfurls against Slack's real protocol.

Signed ``block_actions``, ``view_submission``, ``block_suggestion``, ``shortcut`` and ``link_shared``
payloads go to the real app over HTTP (and one flow over Socket Mode); its Web API calls go to
``MockSlack``, which also checks every message and view against Block Kit's limits and the phone rule.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.service import Service
from bot.settings import Settings
from bot.slack_app import create_app
from bot.slack_unfurl import model_of
from store import Conversation, Store
from tests.bot.test_slack_app import (
    QWEN3_8B,
    Bot,
    _posted,
    blocks_text,
    hub_resolver,
    start_bot,
)
from tests.fakehub import FakeHub
from tests.mockslack import BOT_USER_ID, MockSlack, MockSocketMode, slash_command_envelope
from tests.store.conftest import db_url, pg_schema_url  # noqa: F401  (fixtures: SQLite and Postgres)

# Real servers and peers on 127.0.0.1 (seconds per test): outside the fast subset.
pytestmark = pytest.mark.slow

GIB = 1024**3


@pytest.fixture
def bot(db_url: str, fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bot]:  # noqa: F811
    monkeypatch.setenv("HF_ENDPOINT", fake_hub.url)  # the form's model search (Settings reads it)
    yield from start_bot(db_url, hub_resolver(fake_hub.url))


def _actions(args: dict[str, Any]) -> list[dict[str, Any]]:
    [block] = [b for b in args["blocks"] if b["type"] == "actions"]
    return block["elements"]


def _button(args: dict[str, Any], change_prefix: str) -> dict[str, Any]:
    for el in _actions(args):
        if el["type"] == "button" and json.loads(el["value"])["c"].startswith(change_prefix):
            return el
    raise AssertionError(f"no {change_prefix} button in {_actions(args)}")


def _menu_action(args: dict[str, Any], what: str) -> dict[str, Any]:
    [menu] = [el for el in _actions(args) if el["type"] == "overflow"]
    [opt] = [o for o in menu["options"] if o["value"].startswith(f"{what}:")]
    return {"type": "overflow", "action_id": menu["action_id"], "block_id": "b", "selected_option": opt}


def _click_action(el: dict[str, Any]) -> dict[str, Any]:
    return {"type": "button", "action_id": el["action_id"], "block_id": "b", "value": el["value"]}


def _answer(bot: Bot, text: str) -> tuple[dict[str, Any], str]:
    """Ask in C0001; the posted answer's arguments and its ts."""
    bot.send.command(text)
    bot.slack.wait_for("chat.postMessage")
    ts = _posted(bot)
    return bot.root_post(), ts


# -- 1. buttons under an answer ------------------------------------------------------------------
def test_a_click_answers_in_the_thread_like_a_typed_what_if(bot: Bot) -> None:
    post, ts = _answer(bot, f"{QWEN3_8B} s=16k gpu=h100")
    labels = [el["text"]["text"] for el in _actions(post) if el["type"] == "button"]
    # 16,384 x 2 = 32,768 = 32k; batch 1 x 2; bf16 KV -> fp8; transformers -> vllm. It fits one H100:
    # no GPU-count button.
    assert labels == ["Context x2 (s=32k)", "Batch x2 (b=2)", "KV in fp8", "On vllm"]
    sent = bot.send.click({"ts": ts, "blocks": post["blocks"]}, _click_action(_button(post, "s=")))
    assert sent.status == 200 and sent.body == ""
    [_, reply] = bot.slack.wait_for("chat.postMessage", 2)
    assert reply.args["channel"] == "C0001" and reply.args["thread_ts"] == ts
    body = blocks_text(reply.args)
    first = reply.args["blocks"][0]["text"]["text"]
    assert first.startswith("Changed `s=32k` (was ")
    assert "\\nFit: fits one NVIDIA H100" in json.dumps(first)
    # KV: 144 KiB per token (2 x 36 layers x 8 heads x 128 x 2 B) over twice the tokens
    assert "144 KiB per token x 32,768 tokens x 1 sequence" in body
    # The click is stored like a typed reply: the change as text, linked to the answer it changed.
    bot.pool.drain()
    mine = bot.store.own_queries(platform="slack", workspace="T0001", user="U0001")
    [base] = [r for r in mine if r.parent_id is None]
    [child] = [r for r in mine if r.parent_id is not None]
    assert child.parent_id == base.id and child.text == "s=32k"
    assert child.thread_ts == ts  # posted in the answer's thread, so a typed reply there follows it
    # The reply carries its own buttons (chain the next what-if), for its own record.
    assert json.loads(_button(reply.args, "b=")["value"])["r"] == child.id


def test_the_gpu_count_button_is_the_smallest_that_fits(bot: Bot) -> None:
    # Qwen3-8B weights alone: 8.19e9 parameters x 2 bytes = 15.3 GiB > a T4's 14.7 GiB: one T4 cannot.
    post, ts = _answer(bot, f"{QWEN3_8B} gpu=t4")
    button = _button(post, "gpus=")
    n = int(json.loads(button["value"])["c"].removeprefix("gpus="))
    assert n >= 2
    bot.send.click({"ts": ts, "blocks": post["blocks"]}, _click_action(button))
    [_, reply] = bot.slack.wait_for("chat.postMessage", 2)
    lead = reply.args["blocks"][0]["text"]["text"]
    assert "does not fit one NVIDIA Tesla T4 16GB" in lead and f"→ fits {n} x NVIDIA Tesla T4 16GB" in lead


def test_a_gpu_what_if_says_how_the_fit_changed(bot: Bot) -> None:
    _post, ts = _answer(bot, f"{QWEN3_8B} gpu=h100")
    bot.send.event(bot.send.message("gpu=t4", thread_ts=ts))
    [_, reply] = bot.slack.wait_for("chat.postMessage", 2)
    lead = reply.args["blocks"][0]["text"]["text"]
    # The total stays, the verdict moves: "as before", never "unchanged" beside another fit.
    assert "+0.0 GiB" not in lead and "as before" in lead and "unchanged" not in lead
    assert "Fit: fits one NVIDIA H100" in lead and "→ does not fit one NVIDIA Tesla T4 16GB" in lead


def test_a_reply_in_a_compare_thread_changes_both_sides(bot: Bot) -> None:
    bot.send.command(f"compare {QWEN3_8B} Qwen/Qwen3-0.6B s=4k")
    bot.slack.wait_for("chat.postMessage")
    bot.pool.drain()
    a, b = sorted(bot.store.own_queries(platform="slack", workspace="T0001", user="U0001"), key=lambda r: r.id)
    # Both sides are stored as posted in the one message, so its thread finds them.
    assert a.posted_ts is not None and a.posted_ts == b.posted_ts and a.public and b.public
    ts = a.posted_ts
    bot.send.event(bot.send.message("s=8k", thread_ts=ts))
    [_, reply] = bot.slack.wait_for("chat.postMessage", 2)
    assert reply.args["channel"] == "C0001" and reply.args["thread_ts"] == ts
    lead = reply.args["blocks"][0]["text"]["text"]
    assert lead.startswith("Changed `s=8k` (was ") and " on both sides" in lead.splitlines()[0]
    # KV per token: Qwen3-8B 2 x 36 x 8 x 128 x 2 = 147,456 B; Qwen3-0.6B 2 x 28 x 8 x 128 x 2 = 114,688 B;
    # 4,096 more tokens each.
    bot.pool.drain()
    mine = sorted(bot.store.own_queries(platform="slack", workspace="T0001", user="U0001"), key=lambda r: r.id)
    a2, b2 = mine[2:]
    assert (a2.parent_id, b2.parent_id) == (a.id, b.id) and a2.text == b2.text == "s=8k"
    assert a2.thread_ts == b2.thread_ts == ts and a2.posted_ts == b2.posted_ts and a2.public and b2.public
    # The channel's history lists the what-if of both sides as one row, as it lists the comparison.
    bot.send.command("history")
    [listing] = bot.slack.wait_for("response_url")
    rows = [line for line in blocks_text(listing.args).split("\\n") if "`#" in line]
    assert sum(f"`#{a2.id}` `#{b2.id}`" in row for row in rows) == 1, rows
    assert not any(f"`#{a2.id}`" in row and f"`#{b2.id}`" not in row for row in rows), rows
    for old, new, per_token in ((a, a2, 147_456), (b, b2, 114_688)):
        assert new.result["memory"]["kv_cache"] - old.result["memory"]["kv_cache"] == per_token * 4096
        before, after = sum(old.result["memory"].values()), sum(new.result["memory"].values())
        assert f"total {before / GIB:.1f} GiB → {after / GIB:.1f} GiB" in lead
    text = blocks_text(reply.args)
    assert "Qwen/Qwen3-8B@" in text and "Qwen/Qwen3-0.6B@" in text and f"#{a2.id} and #{b2.id}" in text
    # The next reply follows both changed sides (s stays 8k); chat's bold and a word beside the setting
    # change nothing of it, and the word is said back as not used.
    bot.send.event(bot.send.message("*b=2* for prod", thread_ts=ts))
    [*_, third] = bot.slack.wait_for("chat.postMessage", 3)
    assert third.args["blocks"][1]["text"]["text"].startswith("*Compare* · s=8,192 · b=2")
    assert third.args["blocks"][0]["text"]["text"].endswith("\nnot used: prod")
    bot.pool.drain()
    a3, b3 = sorted(bot.store.own_queries(platform="slack", workspace="T0001", user="U0001"), key=lambda r: r.id)[4:]
    assert (a3.parent_id, b3.parent_id) == (a2.id, b2.id)
    # A new model would make both sides the same: refused, to its author only, and stored as a mistake.
    bot.send.event(bot.send.message("Qwen/Qwen3-0.6B s=16k", thread_ts=ts, user="U0002"))
    [eph] = bot.slack.wait_for("chat.postEphemeral")
    assert eph.args["user"] == "U0002" and eph.args["thread_ts"] == ts
    assert "changes the settings of both sides" in eph.args["text"]
    bot.pool.drain()
    [refused] = bot.store.own_queries(platform="slack", workspace="T0001", user="U0002")
    assert refused.status == "error" and refused.parent_id == b3.id
    assert len(bot.slack.of("chat.postMessage")) == 3


def test_the_asker_deletes_a_comparison_both_sides_at_once(bot: Bot) -> None:
    bot.send.command(f"compare {QWEN3_8B} Qwen/Qwen3-0.6B s=4k")
    [post] = bot.slack.wait_for("chat.postMessage")
    bot.pool.drain()
    a, b = sorted(bot.store.own_queries(platform="slack", workspace="T0001", user="U0001"), key=lambda r: r.id)
    ts = a.posted_ts
    assert ts is not None
    message = {"ts": ts, "blocks": post.args["blocks"]}
    [button] = _actions(post.args)
    assert button["type"] == "button" and button["value"] == f"delete:{a.id}" and "confirm" in button
    bot.send.click(message, _click_action(button), user="U0002")
    [refused] = bot.slack.wait_for("response_url")
    assert "only the person who asked" in refused.args["text"] and bot.slack.of("chat.delete") == []
    bot.send.click(message, _click_action(button))
    [deleted] = bot.slack.wait_for("chat.delete")
    assert deleted.args == {"channel": "C0001", "ts": ts}
    bot.pool.drain()
    other = Conversation(platform="slack", workspace="T0001", channel="C0001", user="U0002")
    assert bot.store.history(scope=other) == []
    gone = sorted(bot.store.own_queries(platform="slack", workspace="T0001", user="U0001"), key=lambda r: r.id)
    assert [(r.id, r.public, r.posted_ts) for r in gone] == [(a.id, False, None), (b.id, False, None)]
    # show gives a copy of the comparison: no Delete button on it.
    bot.send.command(f"show {a.id}")
    [shown] = bot.slack.wait_for("response_url", 2)[1:]
    assert "Both sides" in blocks_text(shown.args) or "Compare" in blocks_text(shown.args)
    assert not [b for b in shown.args["blocks"] if b["type"] == "actions"]
    assert bot.store.latest_in_thread(team="T0001", channel="C0001", thread_ts=ts) is None


def test_menu_shows_the_classic_lines_privately(bot: Bot) -> None:
    post, ts = _answer(bot, f"{QWEN3_8B} s=16k")
    assert "Memory consumption" not in blocks_text(post)  # not unless asked
    bot.send.click({"ts": ts, "blocks": post["blocks"]}, _menu_action(post, "classic"))
    [resp] = bot.slack.wait_for("response_url")
    assert resp.args["response_type"] == "ephemeral"
    assert "Memory consumption of the model" in blocks_text(resp.args)


def test_only_the_asker_deletes_the_answer(bot: Bot) -> None:
    post, ts = _answer(bot, f"{QWEN3_8B}")
    bot.send.click({"ts": ts, "blocks": post["blocks"]}, _menu_action(post, "delete"), user="U0002")
    [refused] = bot.slack.wait_for("response_url")
    assert "only the person who asked" in refused.args["text"]
    assert bot.slack.of("chat.delete") == []
    bot.send.click({"ts": ts, "blocks": post["blocks"]}, _menu_action(post, "delete"))
    [deleted] = bot.slack.wait_for("chat.delete")
    assert deleted.args == {"channel": "C0001", "ts": ts}
    bot.pool.drain()
    # Gone from the channel: another member's history and show no longer see it; the asker's still do.
    [record] = bot.store.history(scope=Conversation(platform="slack", workspace="T0001", channel="C0001", user="U0001"))
    other = Conversation(platform="slack", workspace="T0001", channel="C0001", user="U0002")
    assert bot.store.history(scope=other) == []
    assert record.public is False and record.posted_ts is None
    # A reply under the deleted message continues nothing.
    assert bot.store.latest_in_thread(team="T0001", channel="C0001", thread_ts=ts) is None


def test_a_deleted_what_if_in_a_thread_is_not_what_the_next_reply_changes(bot: Bot) -> None:
    # Root at 16k, a what-if "b=2" in its thread, deleted by its asker: the next reply changes the root
    # (b stays 1), not the deleted answer.
    _post, ts = _answer(bot, f"{QWEN3_8B} s=16k")
    bot.send.event(bot.send.message("b=2", thread_ts=ts))
    what_if = bot.slack.wait_for("chat.postMessage", 2)[1]
    bot.pool.drain()
    [kept] = [
        r
        for r in bot.store.history(
            scope=Conversation(platform="slack", workspace="T0001", channel="C0001", user="U0001")
        )
        if r.parent_id
    ]
    assert kept.posted_ts is not None and kept.thread_ts == ts
    message = {"ts": kept.posted_ts, "blocks": what_if.args["blocks"], "thread_ts": ts}
    bot.send.click(message, _menu_action(what_if.args, "delete"))
    bot.slack.wait_for("chat.delete")
    bot.pool.drain()
    bot.send.event(bot.send.message("s=8k", thread_ts=ts, user="U0002"))
    reply = bot.slack.wait_for("chat.postMessage", 3)[2].args
    assert "x 8,192 tokens x 1 sequence" in blocks_text(reply), blocks_text(reply)


def test_a_private_answer_stays_private_and_can_be_shared(bot: Bot) -> None:
    bot.send.command(QWEN3_8B, channel="CPRIVATE", channel_name="privategroup")
    [private] = bot.slack.wait_for("response_url")
    assert private.args["response_type"] == "ephemeral"
    assert "Share to the channel" in blocks_text(private.args)
    message = {"blocks": private.args["blocks"]}
    bot.send.click(message, _click_action(_button(private.args, "b=")), channel="CPRIVATE", ephemeral=True)
    [_, what_if] = bot.slack.wait_for("response_url", 2)
    assert what_if.args["response_type"] == "ephemeral"
    assert what_if.args["blocks"][0]["text"]["text"].startswith("Changed `b=2`")
    bot.send.click(message, _menu_action(private.args, "share"), channel="CPRIVATE", ephemeral=True)
    calls = bot.slack.wait_for("response_url", 4)
    shared, removed = calls[2].args, calls[3].args
    assert shared["response_type"] == "in_channel" and "asked by <@U0001>" in blocks_text(shared)
    assert removed["delete_original"] is True
    # The bot still cannot post there itself: its one try was the refused first answer.
    assert [c.args["channel"] for c in bot.slack.of("chat.postMessage")] == ["CPRIVATE"]


def test_a_click_on_another_channels_answer_is_refused(bot: Bot) -> None:
    post, ts = _answer(bot, f"{QWEN3_8B}")
    # The same buttons replayed from another channel: the record is not visible there.
    bot.send.click({"ts": ts, "blocks": post["blocks"]}, _click_action(_button(post, "s=")), channel="C0777")
    [resp] = bot.slack.wait_for("response_url")
    assert "no query #" in resp.args["text"]
    assert len(bot.slack.of("chat.postMessage")) == 1


def test_an_unsigned_click_is_refused(bot: Bot) -> None:
    post, ts = _answer(bot, f"{QWEN3_8B}")
    sent = bot.send.click(
        {"ts": ts, "blocks": post["blocks"]}, _click_action(_button(post, "s=")), secret="not-the-signing-secret"
    )
    assert sent.status == 401
    bot.pool.drain()
    assert len(bot.slack.of("chat.postMessage")) == 1


def test_public_answers_name_who_asked_and_what(bot: Bot) -> None:
    post, _ts = _answer(bot, f"{QWEN3_8B} s=16k")
    assert f"asked by <@U0001>: `/vram {QWEN3_8B} s=16k`" in blocks_text(post)
    # A mention is a message in the channel, above its answer: the answer does not repeat it.
    bot.send.event(bot.send.message(f"<@{BOT_USER_ID}> {QWEN3_8B} s=8k", type="app_mention"))
    mention = bot.slack.wait_for("chat.postMessage", 2)[1].args
    assert "8,192 tokens" in blocks_text(mention) and "asked by" not in blocks_text(mention)


# -- 2. the sizing form --------------------------------------------------------------------------
def _state(**values: str | None) -> dict[str, Any]:
    """A submitted form's state: block id -> action id -> the element's value (as Slack sends it)."""
    selects = {"model", "gpu", "engine", "vllm", "dtype", "kv"}
    action_ids = {"engine": "vram_form_engine"}
    out: dict[str, Any] = {}
    for key, value in values.items():
        action = action_ids.get(key, key)
        if key in selects:
            opt = {"text": {"type": "plain_text", "text": value}, "value": value} if value else None
            out[key] = {action: {"type": "static_select", "selected_option": opt}}
        else:
            out[key] = {action: {"type": "plain_text_input", "value": value}}
    return out


def _submit(bot: Bot, view: dict[str, Any], user: str = "U0001", **values: str | None) -> Any:
    payload = {
        "type": "view_submission",
        "user": {"id": user, "team_id": "T0001"},
        "view": {**view, "id": "V0002", "state": {"values": _state(**values)}},
    }
    return bot.send.interactive(payload)


FORM = {"s": "16k", "b": "1", "gpu": "h100", "gpus": "1", "engine": "transformers", "dtype": None, "kv": None}


def test_empty_command_opens_the_form_and_its_answer_goes_to_the_channel(bot: Bot) -> None:
    bot.send.command("")
    [opened] = bot.slack.wait_for("views.open")
    assert opened.args["trigger_id"].startswith("trigger.")
    view = opened.args["view"]
    assert json.loads(view["private_metadata"]) == {"channel": "C0001"}
    gpu_options = [o["value"] for b in view["blocks"] if b["block_id"] == "gpu" for o in b["element"]["options"]]
    assert "h100-80gb" in gpu_options and "l4" in gpu_options
    sent = _submit(bot, view, model=QWEN3_8B, **{**FORM, "gpu": "h100-80gb"})
    assert sent.status == 200 and sent.body == ""  # closes the modal
    [post] = bot.slack.wait_for("chat.postMessage")
    assert post.args["channel"] == "C0001"
    body = blocks_text(post.args)
    assert "144 KiB per token x 16,384 tokens x 1 sequence" in body
    assert f"asked by <@U0001>: `/vram {QWEN3_8B} s=16k b=1 gpu=h100-80gb gpus=1 engine=transformers`" in body


def test_the_forms_any_gpu_lists_every_card(bot: Bot) -> None:
    bot.send.command("")
    [opened] = bot.slack.wait_for("views.open")
    view = opened.args["view"]
    gpu_options = [o["value"] for b in view["blocks"] if b["block_id"] == "gpu" for o in b["element"]["options"]]
    assert gpu_options[0] == "any" and len(gpu_options) <= 100  # Slack's limit for a static select
    _submit(bot, view, model=QWEN3_8B, **{**FORM, "gpu": "any"})
    [post] = bot.slack.wait_for("chat.postMessage")
    body = blocks_text(post.args)
    assert f"`/vram {QWEN3_8B} s=16k b=1 gpu=any gpus=1 engine=transformers`" in body
    assert "The fewest of each card that hold it" in body and "• 1 GPU: " in body


def _choose_engine(bot: Bot, view: dict[str, Any], engine: str, **values: str | None) -> dict[str, Any]:
    """Pick an engine in an open form (a ``block_actions`` from the view); the redrawn view."""
    before = len(bot.slack.of("views.update"))
    option = {"text": {"type": "plain_text", "text": engine}, "value": engine}
    payload = {
        "type": "block_actions",
        "user": {"id": "U0001", "team_id": "T0001"},
        "trigger_id": "trigger.engine",
        "container": {"type": "view", "view_id": "V0002"},
        "view": {**view, "id": "V0002", "hash": "h.1", "state": {"values": _state(**values, engine=engine)}},
        "actions": [
            {"type": "static_select", "action_id": "vram_form_engine", "block_id": "engine", "selected_option": option}
        ],
    }
    assert bot.send.interactive(payload).status == 200
    update = bot.slack.wait_for("views.update", before + 1)[-1]
    assert update.args["view_id"] == "V0002" and update.args["hash"] == "h.1"
    return update.args["view"]


def _block_ids(view: dict[str, Any]) -> list[str]:
    return [b["block_id"] for b in view["blocks"]]


def test_the_vllm_version_comes_with_engine_vllm(bot: Bot) -> None:
    bot.send.command("")
    [opened] = bot.slack.wait_for("views.open")
    view = opened.args["view"]
    assert "vllm" not in _block_ids(view)  # transformers: no release to choose
    [engine] = [b for b in view["blocks"] if b["block_id"] == "engine"]
    assert engine["dispatch_action"] is True and engine["element"]["initial_option"]["value"] == "transformers"
    redrawn = _choose_engine(bot, view, "vllm", model=QWEN3_8B)
    ids = _block_ids(redrawn)
    assert ids.index("vllm") == ids.index("engine") + 1
    [release] = [b for b in redrawn["blocks"] if b["block_id"] == "vllm"]
    # The releases vram follows, newest first: 0.19 to 0.34 (later ones are refused).
    assert [o["value"] for o in release["element"]["options"]] == [f"0.{n}" for n in range(34, 18, -1)]
    assert release["element"]["initial_option"]["value"] == "0.34"
    # What was entered stays: the model is carried over, the channel to answer in too.
    [model] = [b for b in redrawn["blocks"] if b["block_id"] == "model"]
    assert model["element"]["initial_option"]["value"] == QWEN3_8B
    assert json.loads(redrawn["private_metadata"]) == {"channel": "C0001"}
    [chosen] = [b for b in redrawn["blocks"] if b["block_id"] == "engine"]
    assert chosen["element"]["initial_option"]["value"] == "vllm"
    # Back to transformers: the release field goes.
    assert "vllm" not in _block_ids(_choose_engine(bot, redrawn, "transformers", model=QWEN3_8B))

    sent = _submit(bot, redrawn, model=QWEN3_8B, **{**FORM, "engine": "vllm", "vllm": "0.30"})
    assert sent.status == 200 and sent.body == ""
    [post] = bot.slack.wait_for("chat.postMessage")
    assert post.args["channel"] == "C0001"
    body = blocks_text(post.args)
    assert f"`/vram {QWEN3_8B} s=16k b=1 gpu=h100 gpus=1 engine=vllm vllm=0.30`" in body
    bot.pool.drain()
    [record] = bot.store.own_queries(platform="slack", workspace="T0001", user="U0001")
    assert record.params is not None and (record.params["engine"], record.params["vllm"]) == ("vllm", "0.30")


def test_a_vllm_version_that_does_not_fit_is_shown_on_its_field(bot: Bot) -> None:
    bot.send.command("")
    [opened] = bot.slack.wait_for("views.open")
    view = opened.args["view"]
    # A release with another engine (the form was not redrawn yet), and one vram does not follow.
    for engine, version, says in (
        ("transformers", "0.30", "only with engine vllm"),
        ("vllm", "0.35", "choose 0.19 to 0.34"),
    ):
        sent = _submit(bot, view, model=QWEN3_8B, **{**FORM, "engine": engine, "vllm": version})
        answer = json.loads(sent.body)
        assert answer["response_action"] == "errors" and list(answer["errors"]) == ["vllm"]
        assert says in answer["errors"]["vllm"] and len(answer["errors"]["vllm"]) <= 150
    bot.pool.drain()
    assert bot.slack.of("chat.postMessage") == []


def test_a_kv_dtype_the_engine_lacks_is_shown_on_its_field(bot: Bot) -> None:
    bot.send.command("")
    [opened] = bot.slack.wait_for("views.open")
    view = _choose_engine(bot, opened.args["view"], "vllm", model=QWEN3_8B)
    sent = _submit(bot, view, model=QWEN3_8B, **{**FORM, "engine": "vllm", "vllm": "0.33", "kv": "int8"})
    answer = json.loads(sent.body)
    # vLLM has no int8 KV cache for any model: said on the field, before any model is read.
    assert answer["response_action"] == "errors" and list(answer["errors"]) == ["kv"]
    assert "no int8 KV cache" in answer["errors"]["kv"]
    # The same KV dtype with transformers is a valid form.
    sent = _submit(bot, opened.args["view"], model=QWEN3_8B, **{**FORM, "kv": "int8"})
    assert sent.status == 200 and sent.body == ""


def test_form_errors_are_shown_on_their_fields(bot: Bot) -> None:
    bot.send.command("")
    [opened] = bot.slack.wait_for("views.open")
    sent = _submit(bot, opened.args["view"], model=QWEN3_8B, **{**FORM, "s": "lots", "gpus": "0", "b": "8"})
    assert sent.status == 200
    answer = json.loads(sent.body)
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"s", "gpus"}  # b=8 is fine
    assert all(0 < len(v) <= 150 for v in answer["errors"].values())
    bot.pool.drain()
    assert bot.slack.of("chat.postMessage") == []


def test_the_shortcut_opens_the_form_and_answers_in_the_dm(bot: Bot) -> None:
    bot.send.interactive(
        {
            "type": "shortcut",
            "callback_id": "vram_size_model",
            "trigger_id": "trigger.sc",
            "user": {"id": "U0001", "team_id": "T0001"},
        }
    )
    [opened] = bot.slack.wait_for("views.open")
    assert opened.args["trigger_id"] == "trigger.sc"
    view = opened.args["view"]
    assert json.loads(view["private_metadata"]) == {"channel": None}
    _submit(bot, view, model="Qwen/Qwen3-0.6B", **FORM)
    [post] = bot.slack.wait_for("chat.postMessage")
    assert post.args["channel"] == "U0001"  # the app's DM with the user
    # Qwen3-0.6B: 2 x 28 layers x 8 KV heads x 128 x 2 bytes = 114,688 B = 112 KiB per token
    assert "112 KiB per token x 16,384 tokens" in blocks_text(post.args)


def test_a_form_from_a_channel_the_bot_is_not_in_answers_in_the_dm(bot: Bot) -> None:
    bot.send.command("", channel="CPRIVATE", channel_name="privategroup")
    [opened] = bot.slack.wait_for("views.open")
    _submit(bot, opened.args["view"], model=QWEN3_8B, **FORM)
    posts = bot.slack.wait_for("chat.postMessage", 2)
    assert [p.args["channel"] for p in posts] == ["CPRIVATE", "U0001"]  # refused there, then the DM


def _suggest(bot: Bot, typed: str) -> list[str]:
    """The model select's options for ``typed``, as a signed ``block_suggestion`` gets them."""
    payload = {
        "type": "block_suggestion",
        "action_id": "model",
        "block_id": "model",
        "value": typed,
        "user": {"id": "U0001", "team_id": "T0001"},
        "view": {"id": "V0002", "type": "modal", "callback_id": "vram_size_form"},
    }
    sent = bot.send.interactive(payload)
    assert sent.status == 200
    options = json.loads(sent.body)["options"]
    # Block Kit's limits on an external select's options
    assert len(options) <= 100 and all(len(o["text"]["text"]) <= 75 and len(o["value"]) <= 150 for o in options)
    return [o["value"] for o in options]


def test_model_suggestions_come_from_the_hub_and_are_cached(bot: Bot, fake_hub: FakeHub) -> None:
    fake_hub.downloads["qwen/qwen3-0.6b"] = 5  # the Hub lists the most downloaded first
    first = _suggest(bot, "qwen3-0")
    # Every fixture repo whose id holds "qwen3-0", and no other.
    assert first[0] == "Qwen/Qwen3-0.6B" and all("qwen3-0" in i.lower() for i in first)
    assert QWEN3_8B not in first
    assert len(fake_hub.requests("search=")) == 1
    assert _suggest(bot, "qwen3-0") == first
    assert len(fake_hub.requests("search=")) == 1  # the second came from the cache
    # The cache is the store's, the one the plain-words reader uses: a new process's search (a fresh
    # ModelSearch on the same database) asks the Hub nothing either.
    from sources import make_search

    fresh = make_search(Settings(hf_endpoint=fake_hub.url), store_cache=bot.store.hub_cache())
    assert fresh.suggest("qwen3-0") == first
    assert len(fake_hub.requests("search=")) == 1
    # A full id is offered as typed, even when the Hub search knows nothing of it.
    assert _suggest(bot, "acme/private-model")[0] == "acme/private-model"


def test_a_failing_hub_suggests_only_what_was_typed(bot: Bot, fake_hub: FakeHub) -> None:
    fake_hub.fail_status = 503
    assert _suggest(bot, "Qwen/Qwen3-0.6B") == ["Qwen/Qwen3-0.6B"]
    assert _suggest(bot, "qwen3") == []  # not an id: nothing to offer, and no error
    assert len(fake_hub.requests("search=")) == 2
    # A failure is not remembered: once the Hub is back, the same text is searched again.
    fake_hub.fail_status = None
    assert "Qwen/Qwen3-0.6B" in _suggest(bot, "qwen3")
    assert len(fake_hub.requests("search=")) == 3


def test_a_slow_hub_gives_up_before_slack_does(bot: Bot, fake_hub: FakeHub) -> None:
    import time

    fake_hub.delay_s = 5.0  # longer than the 3 seconds Slack waits for the options
    started = time.monotonic()
    assert _suggest(bot, "Qwen/Qwen3-0.6B") == ["Qwen/Qwen3-0.6B"]
    assert time.monotonic() - started < 3.0


# -- 3. Hub links --------------------------------------------------------------------------------
def test_model_links_and_other_pages() -> None:
    assert model_of("https://huggingface.co/Qwen/Qwen3-8B") == ("Qwen/Qwen3-8B", None)
    assert model_of("https://huggingface.co/Qwen/Qwen3-8B/tree/v1.0") == ("Qwen/Qwen3-8B", "v1.0")
    assert model_of("https://huggingface.co/Qwen/Qwen3-8B/blob/main/config.json") == ("Qwen/Qwen3-8B", None)
    assert model_of("https://huggingface.co/datasets/org/data") is None
    assert model_of("https://huggingface.co/docs/transformers") is None
    assert model_of("https://example.com/Qwen/Qwen3-8B") is None


def test_a_hub_link_gets_a_compact_unfurl_with_a_button(bot: Bot) -> None:
    url = f"https://huggingface.co/{QWEN3_8B}"
    event = {
        "type": "link_shared",
        "channel": "C0001",
        "user": "U0001",
        "message_ts": "1800000000.000100",
        "links": [
            {"domain": "huggingface.co", "url": url},
            {"domain": "huggingface.co", "url": "https://huggingface.co/docs/hub"},
        ],
        "source": "conversations_history",
        "unfurl_id": "UNF1",
    }
    assert bot.send.event(event).status == 200
    [unfurl] = bot.slack.wait_for("chat.unfurl")
    assert unfurl.args["channel"] == "C0001" and unfurl.args["ts"] == "1800000000.000100"
    unfurls = unfurl.args["unfurls"]
    assert list(unfurls) == [url]
    text = json.dumps(unfurls[url]["blocks"], ensure_ascii=False)
    # 147,456 B per token x 1,024 tokens = 150,994,944 B = 144 MiB
    assert "KV cache 144 MiB per 1k tokens (bf16)" in text
    # The weights alone (8.19e9 x 2 B = 15.3 GiB) exceed a T4's 14.7 GiB; the smallest six that hold
    # 8k are named, the rest counted; the sizing says whose it is.
    assert "`t4`" not in text and "the smallest GPUs that hold it: `" in text and " more" in text
    assert "At 8k context, b=1 (transformers, " in text
    bot.pool.drain()
    assert bot.store.own_queries(platform="slack", workspace="T0001", user="U0001") == []  # a preview is not a query
    # Slack retries the event: one unfurl.
    bot.send.event(event, event_id="EvRetry", retry=1)
    bot.pool.drain()
    assert len(bot.slack.of("chat.unfurl")) == 1
    # The button opens the form for that model, answering in the channel.
    [button] = unfurls[url]["blocks"][-1]["elements"]
    bot.send.click({"ts": "1800000000.000100"}, _click_action(button))
    [opened] = bot.slack.wait_for("views.open")
    view = opened.args["view"]
    [model] = [b for b in view["blocks"] if b["block_id"] == "model"]
    assert model["element"]["initial_option"]["value"] == QWEN3_8B
    assert json.loads(view["private_metadata"]) == {"channel": "C0001"}


def test_a_link_to_a_missing_model_gets_no_unfurl(bot: Bot) -> None:
    event = {
        "type": "link_shared",
        "channel": "C0001",
        "user": "U0001",
        "message_ts": "1800000000.000200",
        "links": [{"domain": "huggingface.co", "url": "https://huggingface.co/acme/no-such-model"}],
    }
    bot.send.event(event)
    bot.pool.drain()
    assert bot.slack.of("chat.unfurl") == []
    assert bot.slack.of("chat.postMessage") == [] and bot.slack.of("chat.postEphemeral") == []


# -- Socket Mode: a click arrives over the WebSocket ----------------------------------------------
def test_a_click_over_socket_mode(tmp_path: Path, fake_hub: FakeHub) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    ws = MockSocketMode().start()
    slack = MockSlack(socket_url=ws.url).start()
    store = Store(f"sqlite:///{tmp_path / 'v.sqlite3'}")
    store.upgrade()
    settings = Settings(slack_bot_token="xoxb-test-token", slack_app_token="xapp-1-test", slack_api_url=slack.api_url)
    app = create_app(settings, Service(store=store, resolver=hub_resolver(fake_hub.url)), events=store)
    handler = SocketModeHandler(app, "xapp-1-test")
    try:
        handler.connect()
        ws.wait_connected()
        ws.send(slash_command_envelope(slack, "Qwen/Qwen3-0.6B s=4k"))
        [post] = slack.wait_for("chat.postMessage")
        [button] = [el for el in _actions(post.args) if el["type"] == "button" and "b=2" in el["value"]]
        ts = "1700000000.000001"  # the mock's first ts
        ws.send(
            {
                "envelope_id": "env-2",
                "type": "interactive",
                "accepts_response_payload": False,
                "payload": {
                    "type": "block_actions",
                    "team": {"id": "T0001"},
                    "user": {"id": "U0001", "team_id": "T0001"},
                    "trigger_id": "t.2",
                    "channel": {"id": "C0001", "name": "general"},
                    "container": {"type": "message", "message_ts": ts, "channel_id": "C0001"},
                    "message": {"ts": ts, "blocks": post.args["blocks"]},
                    "response_url": slack.response_url("sock2"),
                    "actions": [_click_action(button)],
                },
            }
        )
        ws.wait_ack("env-2")
        [_, reply] = slack.wait_for("chat.postMessage", 2)
        assert reply.args["thread_ts"] == ts
        # 112 KiB per token (see above), now for 2 sequences
        assert "112 KiB per token x 4,096 tokens x 2 sequences" in blocks_text(reply.args)
    finally:
        handler.close()
        ws.stop()
        store.close()
        slack.stop()


def test_a_show_copy_has_no_buttons_to_delete_the_answer_with(bot: Bot) -> None:
    # A copy of a stored answer: Delete there took the answer itself back (in the DM, the original
    # answer was left with no thread to reply in).
    _post, _ts = _answer(bot, f"{QWEN3_8B} s=16k")
    bot.pool.drain()
    [record] = bot.store.own_queries(platform="slack", workspace="T0001", user="U0001")
    bot.send.command(f"show {record.id}")
    [shown] = bot.slack.wait_for("response_url")
    assert "144 KiB per token x 16,384 tokens" in blocks_text(shown.args)
    assert not [b for b in shown.args["blocks"] if b["type"] == "actions"]
