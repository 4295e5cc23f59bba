"""Questions in plain words in Slack: the slash command, an @mention, the bot's DM and a thread reply.

The real Bolt app over signed HTTP, the real service and store, models and the model search from the
fake Hub, Web API calls to ``MockSlack`` (the same harness as ``test_slack_app``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.http import HttpServer, SlackGate
from bot.service import Service
from bot.settings import Settings
from bot.slack_app import create_app
from store import Store
from tests.bot.test_slack_app import (
    BOT_TOKEN,
    BOT_USER_ID,
    SECRET,
    Bot,
    TrackedPool,
    _posted,
    blocks_text,
    hub_resolver,
)
from tests.fakehub import FakeHub
from tests.mockslack import MockSlack, SlackSender
from tests.store.conftest import db_url, pg_schema_url  # noqa: F401  (fixtures: SQLite and Postgres)

# Real servers and peers on 127.0.0.1 (seconds per test): outside the fast subset.
pytestmark = pytest.mark.slow


@pytest.fixture
def bot(db_url: str, fake_hub: FakeHub) -> Iterator[Bot]:  # noqa: F811
    fake_hub.downloads = {"qwen/qwen3-8b": 1_000, "qwen/qwen3-8b-awq": 500, "unsloth/qwen3-8b-gguf": 2_000}
    fake_hub.listed = ["unsloth/Qwen3-8B-GGUF"]
    # As test_slack_app's bot, with HF_ENDPOINT set: the model search goes to the fake Hub too.
    slack = MockSlack().start()
    store = Store(db_url, backoff_s=0.01)
    store.upgrade()
    settings = Settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=slack.api_url,
        database_url=db_url,
        hf_endpoint=fake_hub.url,
        workers=4,
    )
    pool = TrackedPool(4)
    app = create_app(settings, Service(store=store, resolver=hub_resolver(fake_hub.url)), events=store, work=pool)
    server = HttpServer(SlackGate(app, signing_secret=SECRET), host="127.0.0.1", port=0).start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        yield Bot(slack, SlackSender(f"{base}/slack/events", SECRET, slack), store, pool, base)
    finally:
        server.close()
        pool.wait_idle(30)
        store.close()
        slack.stop()


def _lead(args: dict) -> str:  # type: ignore[type-arg]
    return args["blocks"][0]["text"]["text"]


def _thread_of(bot: Bot, command: str) -> str:
    """The ts of the answer to a slash command, whose thread the replies go to."""
    bot.send.command(command)
    bot.slack.wait_for("chat.postMessage")
    root_ts = _posted(bot)
    bot.pool.drain()
    return root_ts


def _reply(bot: Bot, text: str, thread_ts: str, nth: int) -> dict:  # type: ignore[type-arg]
    """The bot's answer (its ``nth`` post in all) to a reply in the thread."""
    bot.send.event(bot.send.message(text, thread_ts=thread_ts))
    args = bot.slack.wait_for("chat.postMessage", nth)[nth - 1].args
    bot.pool.drain()
    return args


def test_a_question_as_a_slash_command(bot: Bot) -> None:
    assert bot.send.command("can Qwen/Qwen3-8B run 16k on an H100?").status == 200
    [post] = bot.slack.wait_for("chat.postMessage")
    lead = _lead(post.args)
    assert lead.splitlines()[0] == "Read as `Qwen/Qwen3-8B s=16k gpu=h100-80gb`"
    assert lead.splitlines()[-1].startswith("*yes: it fits on one NVIDIA H100 80GB HBM3 (SXM5), with ")
    # KV by hand: 2 x 36 layers x 8 heads x 128 x 2 bytes = 147,456 B = 144 KiB per token.
    assert "144 KiB per token x 16,384 tokens x 1 sequence" in blocks_text(post.args)
    bot.pool.drain()
    [record] = bot.store.history(scope=_scope("C0001", "U0001"))
    assert record.text == "can Qwen/Qwen3-8B run 16k on an H100?" and record.params["seq_len"] == 16384


def test_a_name_is_looked_up_once_and_the_other_matches_offered(bot: Bot, fake_hub: FakeHub) -> None:
    bot.send.command("will qwen3 8b fit on an L40S at 8k?")
    [post] = bot.slack.wait_for("chat.postMessage")
    lines = _lead(post.args).splitlines()
    assert lines[0] == "Read as `Qwen/Qwen3-8B s=8k gpu=l40s`"
    assert lines[1] == (
        '"qwen3 8b" read as Qwen/Qwen3-8B (most downloaded match on the Hub); also: '
        "unsloth/Qwen3-8B-GGUF, Qwen/Qwen3-8B-AWQ"
    )
    searches = len(fake_hub.requests("/api/models?"))
    assert searches == 1
    # The same name again, in other words: the search is not asked again.
    bot.send.command("how many users can Qwen3 8B serve at 8k on an L40S?")
    second = bot.slack.wait_for("chat.postMessage", 2)[1]
    assert _lead(second.args).splitlines()[0] == "Read as `Qwen/Qwen3-8B s=8k gpu=l40s`"
    assert _lead(second.args).splitlines()[-1].startswith("*most sequences at once at 8,192 tokens on one NVIDIA")
    assert len(fake_hub.requests("/api/models?")) == searches


def test_a_question_in_an_at_mention_is_answered_in_its_thread(bot: Bot) -> None:
    mention = bot.send.message(f"<@{BOT_USER_ID}> can Qwen/Qwen3-8B run 32k for 4 users on an L4?", type="app_mention")
    assert bot.send.event(mention).status == 200
    [answer] = bot.slack.wait_for("chat.postMessage")
    assert answer.args["thread_ts"] == mention["ts"]
    assert _lead(answer.args).splitlines()[0] == "Read as `Qwen/Qwen3-8B s=32k b=4 gpu=l4`"
    assert "144 KiB per token x 32,768 tokens x 4 sequences" in blocks_text(answer.args)


def test_a_what_if_in_a_questions_thread_answers_the_question_again(bot: Bot) -> None:
    # "how many users ... at 16k": a reply "what about 32k?" says what changed, then the question's
    # answer for 32k (the terminal's `show N s=32k` prints the same line).
    mention = bot.send.message(
        f"<@{BOT_USER_ID}> how many users can Qwen/Qwen3-8B serve at 16k on an H100 with vllm?", type="app_mention"
    )
    assert bot.send.event(mention).status == 200
    [answer] = bot.slack.wait_for("chat.postMessage")
    first = _lead(answer.args).splitlines()[-1]
    assert first.startswith("*most sequences at once at 16,384 tokens on one NVIDIA H100 80GB HBM3 (SXM5): ")
    bot.pool.drain()
    bot.send.event(bot.send.message("what about 32k?", thread_ts=mention["ts"]))
    reply = bot.slack.wait_for("chat.postMessage", 2)[1].args
    lines = _lead(reply).splitlines()
    assert lines[0].startswith("Changed `s=32k` (was ")
    assert lines[-1].startswith("*most sequences at once at 32,768 tokens on one NVIDIA H100 80GB HBM3 (SXM5): ")
    assert lines[-1] != first


def test_a_question_about_the_threads_model_is_answered_with_its_settings(bot: Bot) -> None:
    # "how many users can it serve?" in an answer's thread: the thread's model, GPU and settings, and
    # the question's answer alone (nothing changed); "at 32k" changes the context and says so.
    root_ts = _thread_of(bot, "Qwen/Qwen3-8B s=16k gpu=h100 engine=vllm")
    reply = _reply(bot, "how many users can it serve?", root_ts, 2)
    assert reply["thread_ts"] == root_ts
    assert _lead(reply).startswith("*most sequences at once at 16,384 tokens on one NVIDIA H100 80GB HBM3 (SXM5): ")
    lines = _lead(_reply(bot, "how many users can it serve at 32k?", root_ts, 3)).splitlines()
    assert lines[0].startswith("Changed `s=32k` (was 16k)")
    assert lines[-1].startswith("*most sequences at once at 32,768 tokens on one NVIDIA H100 80GB HBM3 (SXM5): ")


def test_kv_cache_and_card_size_questions_in_a_thread(bot: Bot) -> None:
    # "how big is its kv cache?" and "how big is the kv cache at 64k?" under an answer: the thread's model
    # and settings, answered with the KV row (Qwen3-8B: 144 KiB a token, x 16,384 = 2.25 GiB); "is 24GB
    # enough?" asks every 24 GB card at the thread's settings.
    root_ts = _thread_of(bot, "Qwen/Qwen3-8B s=16k gpu=h100")
    first = _lead(_reply(bot, "how big is its kv cache?", root_ts, 2))
    assert first == "*the KV cache takes 2.2 GiB: 144 KiB per token x 16,384 tokens x 1 sequence, bf16*", first
    lines = _lead(_reply(bot, "how big is the kv cache at 64k?", root_ts, 3)).splitlines()
    assert lines[0].startswith("Changed `s=64k` (was 16k)"), lines
    assert lines[-1] == "*the KV cache takes 9.0 GiB: 144 KiB per token x 65,536 tokens x 1 sequence, bf16*", lines
    # The thread is at 64k now: 32.4 GiB, which takes two 24 GB cards.
    lines = _lead(_reply(bot, "is 24GB enough?", root_ts, 4)).splitlines()
    assert lines[-1] == "*no: no 24 GB card holds it alone (it needs 32.4 GiB); the fewest: 2 × l4*", lines


def test_a_whole_question_in_a_thread_is_answered_as_asked(bot: Bot) -> None:
    # The thread sized 4-bit weights on vLLM in eager mode; a question naming its own model and GPU
    # is read and answered as it stands, not as a change that keeps those settings unsaid.
    root_ts = _thread_of(bot, "Qwen/Qwen3-8B s=16k gpu=h100 engine=vllm eager=on p=4")
    reply = _reply(bot, "can Qwen/Qwen3-8B run 32k for 4 users on an L4?", root_ts, 2)
    assert reply["thread_ts"] == root_ts
    assert _lead(reply).splitlines()[0] == "Read as `Qwen/Qwen3-8B s=32k b=4 gpu=l4`"
    text = blocks_text(reply)
    assert "eager (no CUDA graphs)" not in text and "int4" not in text and "transformers" in text


def test_a_pasted_vllm_command_in_an_at_mention(bot: Bot) -> None:
    # As Slack sends it: a code span, and the quotes of the JSON retyped as curly ones.
    text = (
        f"<@{BOT_USER_ID}> can `vllm serve Qwen/Qwen3-8B --max-model-len 16384 --kv-cache-dtype fp8 "
        "--no-enable-prefix-caching --limit-mm-per-prompt ‘{“image”: 0, “video”: 0}’ --port 8000` run on an L4 "
        "with vllm 0.31?"
    )
    bot.send.event(bot.send.message(text, type="app_mention"))
    [answer] = bot.slack.wait_for("chat.postMessage")
    lines = _lead(answer.args).splitlines()
    assert lines[0] == "Read as `Qwen/Qwen3-8B s=16k kv=fp8 gpu=l4 engine=vllm vllm=0.31 prefix=off mm=0`"
    assert "--port" in _lead(answer.args)


def test_a_question_in_the_bots_dm(bot: Bot) -> None:
    question = bot.send.message(
        "does Qwen/Qwen3-8B fit a T4 at 4k with fp8 kv cache?", channel="DBOT1", channel_type="im"
    )
    assert bot.send.event(question).status == 200
    [answer] = bot.slack.wait_for("chat.postMessage")
    assert answer.args["channel"] == "DBOT1"
    assert _lead(answer.args).splitlines()[0] == "Read as `Qwen/Qwen3-8B s=4k kv=fp8 gpu=t4`"
    # fp8 KV: 147,456 / 2 = 73,728 B = 72 KiB per token.
    assert "72 KiB per token x 4,096 tokens x 1 sequence" in blocks_text(answer.args)


def test_a_question_it_cannot_read_is_one_private_sentence(bot: Bot) -> None:
    bot.send.command("will it fit on an h100?", user="U0004")
    [resp] = bot.slack.wait_for("response_url")
    assert resp.args["text"].startswith(":x: which model?")
    assert resp.args["response_type"] == "ephemeral"
    assert bot.slack.of("chat.postMessage") == []


def test_thread_replies_in_plain_words_change_settings_and_chatter_is_ignored(bot: Bot) -> None:
    bot.send.command("Qwen/Qwen3-8B s=16k gpu=h100")
    bot.slack.wait_for("chat.postMessage")
    root_ts = _posted(bot)
    bot.send.event(bot.send.message("what about 32k?", thread_ts=root_ts))
    reply = bot.slack.wait_for("chat.postMessage", 2)[1].args
    assert reply["thread_ts"] == root_ts
    assert _lead(reply).startswith("Changed `s=32k` (was ")
    assert "144 KiB per token x 32,768 tokens x 1 sequence" in blocks_text(reply)
    bot.pool.drain()
    bot.send.event(bot.send.message("and with fp8 kv?", thread_ts=root_ts))
    fp8 = bot.slack.wait_for("chat.postMessage", 3)[2].args
    assert _lead(fp8).startswith("Changed `kv=fp8`")
    assert "72 KiB per token x 32,768 tokens" in blocks_text(fp8)  # s=32k stays from the previous change
    bot.pool.drain()
    bot.send.event(bot.send.message("try 2 GPUs", thread_ts=root_ts))
    two = bot.slack.wait_for("chat.postMessage", 4)[3].args
    assert _lead(two).startswith("Changed `gpus=2`")
    bot.pool.drain()
    # Chatter that names a setting among other words, and chatter that names none: no answer.
    for text in ("I think 32k is plenty for us", "thanks, that helps", "nice"):
        assert bot.send.event(bot.send.message(text, thread_ts=root_ts)).status == 200
    bot.pool.drain()
    assert len(bot.slack.of("chat.postMessage")) == 4
    assert bot.slack.of("chat.postEphemeral") == []


def test_thread_replies_name_a_model_by_words_and_the_longest_context(bot: Bot, fake_hub: FakeHub) -> None:
    root_ts = _thread_of(bot, "Qwen/Qwen3-8B-AWQ s=16k gpu=h100")
    # The model by its name, looked up with the app's own search; the thread's settings stay.
    reply = _reply(bot, "what about qwen3 8b?", root_ts, 2)
    assert reply["thread_ts"] == root_ts
    assert _lead(reply).startswith("Changed `Qwen/Qwen3-8B` (was `Qwen/Qwen3-8B-AWQ`)")
    # bf16 KV by hand: 2 x 36 layers x 8 heads x 128 x 2 bytes = 144 KiB per token, 16,384 tokens kept.
    assert "144 KiB per token x 16,384 tokens x 1 sequence" in blocks_text(reply)
    assert len(fake_hub.requests("/api/models?")) == 1
    # A number alone is tokens; "double the context" doubles the thread's latest (8,192 -> 16,384).
    assert "144 KiB per token x 8,192 tokens" in blocks_text(_reply(bot, "8192", root_ts, 3))
    assert "144 KiB per token x 16,384 tokens" in blocks_text(_reply(bot, "double the context", root_ts, 4))
    assert _lead(_reply(bot, "max context", root_ts, 5)).startswith("Changed `s=max` (was 16k)")
    assert bot.slack.of("chat.postEphemeral") == []


def test_a_thread_reply_with_a_setting_and_other_words_is_a_change_that_lists_them(bot: Bot) -> None:
    root_ts = _thread_of(bot, "Qwen/Qwen3-8B s=16k gpu=h100")
    reply = _reply(bot, "gpu=l40s (for prod)", root_ts, 2)
    lines = _lead(reply).splitlines()
    assert lines[0].startswith("Changed `gpu=l40s` (was h100")
    assert "not used: prod" in lines
    # An emoji as Slack sends it is no word; chat's bold around a setting is the setting.
    assert _lead(_reply(bot, ":rocket: s=4k", root_ts, 3)).startswith("Changed `s=4k` (was 16k)")
    assert _lead(_reply(bot, "*s=8k*", root_ts, 4)).startswith("Changed `s=8k` (was 4k)")
    # A setting vram cannot read beside other words: its sentence, to the author only, never silence.
    bot.send.event(bot.send.message("sq=32k for prod", thread_ts=root_ts, user="U0002"))
    [eph] = bot.slack.wait_for("chat.postEphemeral")
    assert eph.args["user"] == "U0002" and 'unknown key "sq"' in eph.args["text"]
    bot.pool.drain()
    assert len(bot.slack.of("chat.postMessage")) == 4


def _scope(channel: str, user: str):  # type: ignore[no-untyped-def]
    from store.records import Conversation

    return Conversation(platform="slack", workspace="T0001", channel=channel, user=user)


def test_the_other_matches_are_buttons_and_a_click_asks_about_that_model(bot: Bot) -> None:
    bot.send.command("will qwen3 8b fit on an L40S at 8k?")
    [post] = bot.slack.wait_for("chat.postMessage")
    [actions] = [b for b in post.args["blocks"] if b["type"] == "actions"]
    uses = {el["text"]["text"]: el for el in actions["elements"] if el["type"] == "button"}
    # The fake Hub lists these two besides Qwen/Qwen3-8B for "qwen3 8b" (see the test above).
    assert {"Use unsloth/Qwen3-8B-GGUF", "Use Qwen/Qwen3-8B-AWQ"} <= set(uses)
    bot.pool.drain()
    [record] = [r for r in bot.store.history(scope=_scope("C0001", "U0001")) if r.thread_ts is None]
    awq = uses["Use Qwen/Qwen3-8B-AWQ"]
    click = {"type": "button", "action_id": awq["action_id"], "block_id": "b", "value": awq["value"]}
    assert bot.send.click({"ts": record.posted_ts, "blocks": post.args["blocks"]}, click).status == 200
    [_, reply] = bot.slack.wait_for("chat.postMessage", 2)
    assert reply.args["thread_ts"] == record.posted_ts  # answered in the answer's thread
    bot.pool.drain()
    [child] = [r for r in bot.store.own_queries(platform="slack", workspace="T0001", user="U0001") if r.parent_id]
    assert child.parent_id == record.id and child.model == "Qwen/Qwen3-8B-AWQ"


def test_compare_with_a_model_named_by_words_or_unknown_in_a_thread(bot: Bot, fake_hub: FakeHub) -> None:
    # "compare with qwen3 0.6b": the name is looked up with the app's search, as a question's is; a
    # model the Hub does not have is said to the asker alone, as other mistakes in a thread are.
    root_ts = _thread_of(bot, "Qwen/Qwen3-8B s=8k gpu=h100")
    reply = _reply(bot, "compare with qwen3 0.6b", root_ts, 2)
    assert reply["thread_ts"] == root_ts
    assert "Qwen/Qwen3-0.6B" in blocks_text(reply) and "s=8,192" in blocks_text(reply), blocks_text(reply)
    bot.send.command("Qwen/Qwen3-8B s=4k")
    bot.slack.wait_for("chat.postMessage", 3)
    bot.pool.drain()
    [other] = [r for r in bot.store.history(scope=_scope("C0001", "U0001")) if r.text == "Qwen/Qwen3-8B s=4k"]
    other_ts = other.posted_ts
    assert other_ts is not None
    bot.send.event(bot.send.message("compare with acme/no-such-model", thread_ts=other_ts, user="U0002"))
    [eph] = bot.slack.wait_for("chat.postEphemeral")
    assert eph.args["user"] == "U0002" and eph.args["text"].startswith(":x:"), eph.args["text"]
    bot.pool.drain()
    assert len(bot.slack.of("chat.postMessage")) == 3


def test_which_gpu_lists_every_card_and_a_thread_narrows_it(bot: Bot) -> None:
    # "what GPU do I need" names no card: every card in the catalog, the fewest of each (gpu=any).
    bot.send.command("what GPU do I need for Qwen/Qwen3-8B at 16k?")
    [post] = bot.slack.wait_for("chat.postMessage")
    lead = _lead(post.args).splitlines()
    assert lead[0] == "Read as `Qwen/Qwen3-8B s=16k gpu=any`"
    # Qwen3-8B at 16,384 tokens, transformers: 15.3 GiB of weights and 2.3 GiB of KV (144 KiB per
    # token): no 16 GB card (15.5-15.8 GiB) holds it alone; the smallest that does is a 24 GB card.
    assert lead[-1].startswith("*one NVIDIA A10G 24GB (AWS g5) holds it, the card with the least memory that does")
    text = blocks_text(post.args)
    assert "The fewest of each card that hold it" in text and "• 1 GPU: a10g, " in text
    # The answer is said once: the verdict under it gives the total only.
    assert text.count("holds it, the card with the least memory that does") == 1, text
    assert "(no card in particular: each card's count below)*" in text, text
    buttons = [e for b in post.args["blocks"] if b["type"] == "actions" for e in b["elements"] if e["type"] == "button"]
    assert any(b["text"]["text"] == "1 × a10g (fewest GPUs)" for b in buttons)
    root_ts = _posted(bot)
    bot.pool.drain()
    # A card named in the thread answers for it; how many GPUs there is then about that card.
    lines = _lead(_reply(bot, "and on an L4?", root_ts, 2)).splitlines()
    assert lines[0].startswith("Changed `gpu=l4` (was any)"), lines
    reply = _reply(bot, "how many GPUs does it need at 64k?", root_ts, 3)
    assert _lead(reply).splitlines()[-1].startswith("*fewest NVIDIA L4 24GB that hold it: "), _lead(reply)
    # With key=value in it too, still the L4's count.
    # (transformers at 65,536 tokens: each GPU of a layer split holds a full-width activation peak.)
    reply = _reply(bot, "how many GPUs does it need at b=4?", root_ts, 4)
    assert _lead(reply).splitlines()[0].startswith("Changed `b=4` (was 1)") and "gpu=any" not in _lead(reply)
    assert (
        _lead(reply)
        .splitlines()[-1]
        .startswith("*no number of NVIDIA L4 24GB holds it: at one layer per GPU (36 GPUs)")
    )
    # Which card, naming no model: the thread's model on every card again.
    reply = _reply(bot, "what GPU do I need?", root_ts, 5)
    assert "`gpu=any` (was l4)" in _lead(reply).splitlines()[0], _lead(reply)
    # A question the answer on every card cannot take is one private sentence, not silence.
    bot.send.event(bot.send.message("how many users can it serve?", thread_ts=root_ts))
    [eph] = bot.slack.wait_for("chat.postEphemeral")
    assert "how many users on which GPU?" in eph.args["text"], eph.args
    assert len(bot.slack.of("chat.postMessage")) == 5


def test_questions_in_a_comparisons_thread_are_answered_for_both(bot: Bot) -> None:
    bot.send.command("compare Qwen/Qwen3-8B Qwen/Qwen3-0.6B s=16k gpu=l4")
    bot.slack.wait_for("chat.postMessage")
    bot.pool.drain()
    root_ts = bot.store.history(scope=_scope("C0001", "U0001"))[0].posted_ts
    assert root_ts is not None
    # Which card: every card, for both; each side's fit before and after.
    lead = _lead(_reply(bot, "what GPU do I need?", root_ts, 2)).splitlines()
    assert lead[0].startswith("Changed `gpu=any` (was l4) on both sides"), lead
    assert any(line.endswith("on every card, the fewest: 1 × a10g") for line in lead), lead
    # How many users on a card named: both answers.
    lead = _lead(_reply(bot, "how many users can they serve on an L4?", root_ts, 3)).splitlines()
    answers = [line for line in lead if line.startswith("*Qwen/")]
    assert [a.split(":")[0] for a in answers] == ["*Qwen/Qwen3-8B", "*Qwen/Qwen3-0.6B"], lead
    assert all("most sequences at once at 16,384 tokens on one NVIDIA L4 24GB" in a for a in answers), answers


def test_a_training_question_in_a_thread_is_said_out_of_scope(bot: Bot) -> None:
    bot.send.command("Qwen/Qwen3-8B s=16k gpu=h100")
    bot.slack.wait_for("chat.postMessage")
    bot.pool.drain()
    root_ts = bot.store.history(scope=_scope("C0001", "U0001"))[0].posted_ts
    bot.send.event(bot.send.message("can I fine-tune it on an H100?", thread_ts=root_ts))
    [eph] = bot.slack.wait_for("chat.postEphemeral")
    assert 'vram sizes serving a model (inference), not "fine-tune"' in eph.args["text"], eph.args["text"]
