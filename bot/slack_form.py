"""The sizing form: ``/vram`` with nothing after it, the "Size a model" shortcut, and the unfurl's button.

The form is a modal: the model (live suggestions from the Hub), context, batch, GPU (from the
catalog), GPU count, engine and, with vLLM, its release (``vllm=``), weight and KV dtypes. Choosing
an engine redraws the form (``views.update``) with or without the release field. Each field is
checked by the same grammar as a typed command, together with the fields before it, and a bad one is
shown on its field (``response_action: errors``). A valid form
becomes the line a user would have typed, answered like ``/vram <line>`` where the form was opened,
or in the bot's DM when it was opened from a shortcut or the bot cannot post in the channel.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot import blocks
from bot.commands import Command, EstimateCmd, parse
from bot.slack_render import CANNOT_POST, COMMAND, PLATFORM, render
from common.errors import InputError
from estimator.engines import DEFAULT_ENGINE, engine_names, get_engine, setting_owner
from estimator.engines.vllm import DEFAULT_VERSION, followed_versions
from estimator.gpus import catalog
from estimator.grammar import ANY_GPU
from store.records import Conversation

if TYPE_CHECKING:
    from slack_bolt import App
    from slack_sdk.web import WebClient

    from bot.slack_app import _Bot

log = logging.getLogger(__name__)

CALLBACK_ID = "vram_size_form"
SHORTCUT_ID = "vram_size_model"
OPEN_ACTION = "vram_size_open"  # a button that opens the form for one model (the unfurl's)
MODEL_ACTION = "model"
MAX_OPTIONS = 20  # suggestions shown per search
MAX_OPTION_VALUE = 150  # Block Kit's limit on an option's value
REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$")
WEIGHT_DTYPES = ("bf16", "fp16", "fp32", "fp8", "int8", "int4", "nf4", "mxfp4", "awq", "gptq")
KV_SETTINGS = ("on", "off", "bf16", "fp16", "fp8", "int8")
ENGINE_ACTION = "vram_form_engine"  # choosing an engine redraws the form (the release field comes and goes)
VLLM = "vllm"
# Form field (block id) -> the grammar's key; the order is the order of the line typed.
FIELDS = (
    ("s", "s"),
    ("b", "b"),
    ("gpu", "gpu"),
    ("gpus", "gpus"),
    ("engine", "engine"),
    ("vllm", "vllm"),
    ("dtype", "dtype"),
    ("kv", "kv"),
)

Submit = Callable[..., None]


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _option(label: str, value: str) -> dict[str, Any]:
    return {"text": _plain(label[:75]), "value": value[:150]}


def _text_input(block_id: str, label: str, initial: str, hint: str, *, optional: bool = False) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": _plain(label),
        "hint": _plain(hint),
        "element": {"type": "plain_text_input", "action_id": block_id, "initial_value": initial},
    }


def _select(
    block_id: str,
    label: str,
    options: list[dict[str, Any]],
    *,
    initial: str | None = None,
    optional: bool = True,
    placeholder: str = "Choose",
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": block_id,
        "options": options,
        "placeholder": _plain(placeholder),
    }
    chosen = [o for o in options if o["value"] == initial]
    if chosen:
        element["initial_option"] = chosen[0]
    return {"type": "input", "block_id": block_id, "optional": optional, "label": _plain(label), "element": element}


def vllm_versions() -> list[str]:
    """The vLLM releases the form offers: the ones vram follows, newest first."""
    return sorted(followed_versions(), key=lambda v: tuple(int(p) for p in v.split(".")), reverse=True)


def form_view(*, channel: str | None, model: str | None = None, engine: str = DEFAULT_ENGINE) -> dict[str, Any]:
    """The modal for ``engine`` (with vLLM, its release too); ``channel`` (where to answer) travels in
    ``private_metadata``."""
    model_select: dict[str, Any] = {
        "type": "external_select",
        "action_id": MODEL_ACTION,
        "min_query_length": 2,
        "placeholder": _plain("org/name, e.g. Qwen/Qwen3-8B"),
    }
    if model:
        model_select["initial_option"] = _option(model, model)
    # "any" first: every card, the fewest of each that hold the model (gpu=any).
    gpus = [_option("any · every card: the fewest of each that hold it", ANY_GPU)]
    gpus += [_option(f"{g.key} · {g.memory_bytes / 1024**3:.0f} GiB", g.key) for g in catalog()][:99]
    engine_block = _select("engine", "Engine", [_option(e, e) for e in engine_names()], initial=engine, optional=False)
    engine_block["element"]["action_id"] = ENGINE_ACTION
    engine_block["dispatch_action"] = True  # a choice redraws the form at once
    versions = [_option(f"{v} (newest)" if v == DEFAULT_VERSION else v, v) for v in vllm_versions()]
    release = (
        [_select("vllm", "vLLM version", versions, initial=DEFAULT_VERSION, optional=False)] if engine == VLLM else []
    )
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": _plain("Size a model"),
        "submit": _plain("Size it"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps({"channel": channel}),
        "blocks": [
            {
                "type": "input",
                "block_id": MODEL_ACTION,
                "label": _plain("Model on the Hugging Face Hub"),
                "element": model_select,
            },
            _text_input("s", "Context (tokens per sequence)", "4096", "4096, 32k, 128k"),
            _text_input("b", "Batch (concurrent sequences)", "1", "1 to 1M"),
            _select("gpu", "GPU", gpus, placeholder="None: just the memory"),
            _text_input("gpus", "GPU count (tensor parallel)", "1", "1, 2, 4, 8"),
            engine_block,
            *release,
            _select(
                "dtype",
                "Weight dtype",
                [_option(d, d) for d in WEIGHT_DTYPES],
                placeholder="As the checkpoint stores it",
            ),
            _select("kv", "KV cache", [_option(k, k) for k in KV_SETTINGS], placeholder="on (the model's dtype)"),
        ],
    }


def _value(state: dict[str, Any], block_id: str) -> str | None:
    """A field's value: the one element of its block (whatever its action id)."""
    field = next(iter((state.get(block_id) or {}).values()), None) or {}
    if field.get("selected_option"):
        return str(field["selected_option"]["value"])
    value = field.get("value")
    return str(value).strip() if value is not None and str(value).strip() else None


def _engine_refusal(key: str, value: str, words: list[str], cmd: Command) -> str | None:
    """Why a field does not go with the engine chosen: another engine's setting, a vLLM release vram
    does not follow, or a setting the engine refuses whatever the model (``cmd``: the fields so far
    with this one, parsed)."""
    engine = next((w.partition("=")[2] for w in words if w.startswith("engine=")), DEFAULT_ENGINE)
    owner = setting_owner(key)
    if owner is not None and owner.name != engine:
        return f"{key}= applies only with engine {owner.name}"
    if key == "vllm" and value not in followed_versions():
        newest, *_, oldest = vllm_versions()
        return f"vLLM {value} is not a release vram follows: choose {oldest} to {newest}"
    if isinstance(cmd, EstimateCmd):
        return get_engine(cmd.query.engine).setting_refusal(cmd.query)
    return None


def form_line(state: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The line a user would have typed for a submitted form, and the errors per field (block id).

    Each field is checked alone, then with the fields before it (``engine`` comes before ``vllm``),
    so a combination the grammar or the engine refuses is shown on the field that completes it."""
    errors: dict[str, str] = {}
    model = _value(state, MODEL_ACTION)
    if not model:
        return "", {MODEL_ACTION: "Choose a model"}
    try:
        parse(model)
    except InputError as err:
        errors[MODEL_ACTION] = str(err)[:150]
    words = [model]
    for block_id, key in FIELDS:
        value = _value(state, block_id)
        if value is None:
            continue
        if any(c.isspace() for c in value):
            errors[block_id] = "one value, without spaces"
            continue
        word = f"{key}={value}"
        try:
            parse(f"{model} {word}")
            cmd = parse(" ".join([*words, word]))
            refusal = _engine_refusal(key, value, words, cmd)
        except InputError as err:
            refusal = str(err)
        if refusal is not None:
            errors[block_id] = refusal[:150]
            continue
        words.append(word)
    return " ".join(words), errors


class Form:
    """What the form does after the ack."""

    def __init__(self, bot: _Bot) -> None:
        self.bot = bot

    def answer(self, body: dict[str, Any], line: str, client: WebClient) -> None:
        """Answer a submitted form where it was opened (else in the bot's DM with the user)."""
        user = body["user"]["id"]
        team = (body.get("team") or {}).get("id") or body["user"].get("team_id")
        meta = json.loads(body["view"].get("private_metadata") or "{}")
        channel = meta.get("channel")
        # Opened from a shortcut: answered in the bot's DM with the user (a user id as chat.postMessage's
        # channel), a private conversation.
        who = Conversation(
            platform=PLATFORM, workspace=team, channel=channel or user, user=user, private=channel is None
        )
        answer = render(self.bot.service.run(line, who), asker=user)
        if channel is not None and answer.public:
            try:
                self._post(client, answer, channel)
                return
            except SlackApiError as err:
                code = str(err.response.get("error", "")) if err.response is not None else ""
                if code not in CANNOT_POST:
                    raise
                log.info("cannot post the form's answer in %s (%s): in the DM instead", channel, code)
        if channel is not None and not answer.public:  # a mistake: only the asker sees it, where they are
            try:
                client.chat_postEphemeral(channel=channel, user=user, **answer.message.kwargs())
                return
            except SlackApiError as err:
                log.info("cannot answer the form privately in %s (%s): in the DM instead", channel, err)
        # A user id as channel: the app's DM with them. An answer meant for a channel that lands there was
        # not seen by that channel, so it is not recorded as posted (its listings keep it to the asker).
        self._post(client, answer, user, posted=channel is None)

    def _post(self, client: WebClient, answer: Any, channel: str, *, posted: bool = True) -> None:
        resp = client.chat_postMessage(
            channel=channel, unfurl_links=False, unfurl_media=False, **answer.message.kwargs()
        )
        if posted and answer.record_id is not None:
            self.bot.service.set_posted(answer.record_id, channel=resp["channel"], ts=resp["ts"], thread_ts=None)


def suggest_options(bot: _Bot, typed: str) -> list[dict[str, Any]]:
    """The model select's options for what was typed: the Hub search's repo ids (cached in the store)."""
    if bot.search is None:  # no search configured: the text itself, when it is a repo id
        ids = [typed.strip()] if REPO_ID.match(typed.strip()) else []
    else:
        ids = bot.search.suggest(typed, limit=MAX_OPTIONS)
    return [_option(i, i) for i in ids if len(i) <= MAX_OPTION_VALUE]


def register(app: App, bot: _Bot, submit: Submit) -> None:
    """The form's listeners: open (command, shortcut, button), suggest models, submit."""
    form = Form(bot)

    def no_text(body: dict[str, Any]) -> bool:
        return not (body.get("text") or "").strip() and bool(body.get("trigger_id"))

    # Registered before the command's main listener: Bolt runs the first one whose matchers agree.
    @app.command(COMMAND, matchers=[no_text])
    def on_empty_command(ack: Callable[..., None], body: dict[str, Any], client: WebClient) -> None:
        ack()
        # trigger_id is valid for 3 seconds: open the view now, not in the work pool.
        client.views_open(trigger_id=body["trigger_id"], view=form_view(channel=body.get("channel_id")))

    @app.shortcut(SHORTCUT_ID)
    def on_shortcut(ack: Callable[..., None], body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=form_view(channel=None))

    @app.action(OPEN_ACTION)
    def on_open(ack: Callable[..., None], body: dict[str, Any], client: WebClient) -> None:
        ack()
        channel = (body.get("channel") or {}).get("id")
        model = str(body["actions"][0].get("value") or "") or None
        client.views_open(trigger_id=body["trigger_id"], view=form_view(channel=channel, model=model))

    @app.action(ENGINE_ACTION)
    def on_engine(ack: Callable[..., None], body: dict[str, Any], client: WebClient) -> None:
        ack()
        submit(redraw, body, client)

    @app.options(MODEL_ACTION)
    def on_suggest(ack: Callable[..., None], body: dict[str, Any]) -> None:
        ack(options=suggest_options(bot, str(body.get("value") or "")))

    @app.view(CALLBACK_ID)
    def on_submit(ack: Callable[..., None], body: dict[str, Any], client: WebClient) -> None:
        line, errors = form_line(body["view"]["state"]["values"])
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()
        submit(form.answer, body, line, client, on_error=lambda sentence: _tell_dm(client, body, sentence))


def redraw(body: dict[str, Any], client: WebClient) -> None:
    """The form again for the engine just chosen (the vLLM release field comes or goes). Slack keeps
    what was entered in the fields that stay; the model is carried over explicitly, as it may be a
    preset choice (the unfurl's button)."""
    view = body["view"]
    engine = str((body["actions"][0].get("selected_option") or {}).get("value") or DEFAULT_ENGINE)
    meta = json.loads(view.get("private_metadata") or "{}")
    model = _value(view.get("state", {}).get("values", {}), MODEL_ACTION)
    new = form_view(channel=meta.get("channel"), model=model, engine=engine)
    try:
        client.views_update(view_id=view["id"], hash=view.get("hash"), view=new)
    except SlackApiError as err:
        # hash_conflict: the form changed again meanwhile, and that change redraws it
        log.info("could not redraw the form (%s)", err.response.get("error") if err.response else err)


def _tell_dm(client: WebClient, body: dict[str, Any], sentence: str) -> None:
    client.chat_postMessage(channel=body["user"]["id"], **blocks.error_message(sentence).kwargs())
