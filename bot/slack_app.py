"""The Slack app: thin Bolt glue between Slack's protocol and :class:`bot.service.Service`.

Every listener acknowledges first and hands the work to a bounded pool, so Slack gets its
answer well inside 3 seconds however slow the Hub is. Retried and duplicated events are
claimed in the database before anything is posted, so no message is answered twice.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol
from urllib.error import URLError

from slack_bolt import App, BoltContext, BoltResponse
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import WebClient
from slack_sdk.webhook import WebhookClient

from bot import ask, blocks, slack_native
from bot.blocks import Message
from bot.commands import EstimateCmd, parse
from bot.http import SIGNATURE_KEY
from bot.question import SUBCOMMANDS, is_question, mentions_the_thread_model, read_change, read_question
from bot.service import (
    CompareReply,
    HistoryReply,
    Outcome,
    Service,
)
from bot.settings import Settings
from bot.slack_render import (
    CANNOT_POST,
    COMMAND,
    INTERNAL_ERROR,
    PLATFORM,
    Answer,
    compare_errors,
    compare_what_if,
    render,
)
from bot.work import Tell, Work, tell
from common.errors import InputError, StoreError, VramError
from estimator.query import Query
from sources import make_search
from sources.model_search import ModelSearch
from store.records import Conversation, QueryRecord

log = logging.getLogger(__name__)

# Slack Web API error code -> the one sentence a user sees.
SLACK_ERRORS = {
    "not_in_channel": "I'm not in this channel: invite me with `/invite @vram` and ask again.",
    "channel_not_found": "I can't see this conversation: invite me with `/invite @vram` and ask again.",
    "is_archived": "This channel is archived, so I can't post in it.",
    "msg_too_long": "The answer was too long for one Slack message.",
    "ratelimited": "Slack is rate-limiting me right now: try again in a minute.",
    "invalid_auth": "My Slack token is not valid: an admin needs to reinstall the app.",
    "not_authed": "My Slack token is missing: an admin needs to set SLACK_BOT_TOKEN.",
    "account_inactive": "My Slack token was revoked: an admin needs to reinstall the app.",
    "token_revoked": "My Slack token was revoked: an admin needs to reinstall the app.",
    "missing_scope": "The Slack app lacks a permission it needs: reinstall it from manifest.yml.",
    "restricted_action": "This workspace does not let me post here.",
    "expired_url": "This command's reply link expired: run it again.",
}
THREAD_HOWTO = (
    "Reply here with what to change, e.g. `s=32k`, `b=8 kv=fp8` or `gpu=a100-40gb` (`/vram help` lists every key)."
)
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_LINK = re.compile(r"<((?:https?://|mailto:)[^<>|]+)(?:\|([^<>]*))?>")  # <!channel> & co. are left as typed
_HUB_LINK = re.compile(r"https?://(?:www\.)?huggingface\.co/([\w.-]+/[\w.-]+)(?:/tree/([\w.-]+))?/?(?:[?#].*)?$")


# Words that make a message small talk when it holds nothing else (no number, id, path or setting).
_SMALL_TALK = frozenset(
    [
        "thanks",
        "thank",
        "thx",
        "ty",
        "you",
        "u",
        "ok",
        "okay",
        "k",
        "cool",
        "nice",
        "great",
        "awesome",
        "perfect",
        "good",
        "hi",
        "hello",
        "hey",
        "yo",
        "bye",
        "cheers",
        "lol",
        "hmm",
        "hm",
        "yes",
        "yep",
        "no",
        "nope",
        "sure",
        "got",
        "it",
        "for",
        "the",
        "help",
        "much",
        "a",
        "lot",
        "very",
        "that's",
        "thats",
        "so",
        "again",
        "all",
        "lots",
        "that",
        "helps",
        "helped",
        "helpful",
        "this",
        "is",
        "was",
        "makes",
        "sense",
        "appreciated",
        "appreciate",
        "great",
    ]
)
SMALL_TALK_REPLY = (
    "Ask me about a model and I size it: `Qwen/Qwen3-8B s=32k gpu=h100`, or in words "
    "(\u201cdoes Qwen/Qwen3-8B fit an L4 at 16k?\u201d); `help` lists the settings."
)


def is_small_talk(text: str) -> bool:
    """A message of only social words and emoji ("thanks!", "ok cool :tada:"): nothing to size, nothing
    to keep. A word that asks something ("help") is not small talk."""
    text = re.sub(r":[\w+-]+:", " ", text)  # Slack's emoji codes
    words = [w.strip("!?.,;:'\"()*_~").lower() for w in text.split() if not w.startswith(("<@", "<!"))]
    words = [w for w in words if w]
    # "help", "ok help" ask for the help; "thanks for the help" does not.
    asks = words and (words[0] in SUBCOMMANDS or (words[-1] in SUBCOMMANDS and not {"for", "the"} & set(words)))
    if not words or asks or any(w in SUBCOMMANDS and w != "help" for w in words):
        return False
    return len(words) <= 6 and all(w in _SMALL_TALK for w in words)


# "what can you do?", "how does this work?", "how do I use you?": a question about the bot, not a model.
_ABOUT_THE_BOT = re.compile(
    r"\b(?:what (?:can|do) (?:you|u|vram) do|what are you|how (?:does|do) (?:this|it|you|vram) "
    r"work|how (?:do|can|should) (?:i|we) use (?:this|it|you|vram))\b",
    re.IGNORECASE,
)


def asks_what_it_does(text: str) -> bool:
    """A question about the bot itself, naming no model: it gets the help."""
    return bool(_ABOUT_THE_BOT.search(text)) and "/" not in text and "=" not in text


class _NoUnusedTokenNotice(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and warns that it goes unused next to our client, which was made
    with that very token (and with SLACK_API_URL and retries): a warning with nothing to act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


logging.getLogger("slack_bolt.App").addFilter(_NoUnusedTokenNotice())


class EventClaims(Protocol):
    """De-duplication of Slack deliveries and replays (the history store)."""

    def claim_event(self, event_id: str) -> bool: ...

    def first_sighting(self, signature: str) -> bool: ...


def slack_error_sentence(err: Exception) -> str:
    """One friendly sentence for a failed Slack call."""
    if isinstance(err, SlackApiError):
        code = str(err.response.get("error", "")) if err.response is not None else ""
        return SLACK_ERRORS.get(code, f"Slack refused the answer ({code or 'unknown error'}).")
    if isinstance(err, ResponseUrlError) and err.status == 429:
        return SLACK_ERRORS["ratelimited"]
    if isinstance(err, ResponseUrlError) and 400 <= err.status < 500:
        # Slack was reached and turned the message down: trying again would not help.
        return SLACK_ERRORS.get(err.code, f"Slack refused the answer ({err.code or f'HTTP {err.status}'}).")
    return "I could not reach Slack to post the answer: try again in a minute."


def _slack_code(err: SlackApiError) -> str:
    return str(err.response.get("error", "")) if err.response is not None else ""


def strip_mentions(text: str) -> str:
    """Drop ``<@U123>`` mentions (``@vram s=32k`` -> ``s=32k``)."""
    return _MENTION.sub(" ", text).strip()


def _link_text(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    hub = _HUB_LINK.match(target)
    if hub:  # a pasted Hub page: the model id (and the branch or commit of a /tree/ link)
        return hub.group(1) + (f"@{hub.group(2)}" if hub.group(2) else "")
    return label or target


def from_slack(text: str) -> str:
    """What the user typed, from Slack's encoding of it.

    Slack sends ``&``, ``<`` and ``>`` as ``&amp;``, ``&lt;``, ``&gt;`` and wraps links, channels and
    mentions in ``<...>``: mentions go, a link becomes the text the user saw (a Hub page its model id),
    and the entities are decoded, so the text is stored, parsed and shown back (escaped once) as typed.
    """
    text = _LINK.sub(_link_text, strip_mentions(text))
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()
    # "/vram Qwen/Qwen3-8B" typed as a message (pasted, or sent where Slack took it as text, also as
    # code: `/vram ...`): the command.
    if (code := re.fullmatch(r"`(/vram\b[^`]*)`", text, flags=re.IGNORECASE)) is not None:
        text = code[1]
    return re.sub(r"^/vram(?:\s+|$)", "", text, flags=re.IGNORECASE)


def _names_a_change(text: str) -> bool:
    """A thread reply in plain words that reads as settings ("what about 128k?"); a bad value counts too,
    so its author hears why."""
    try:
        if read_change(text, Query()) is not None:
            return True
    except InputError:
        return True
    # A question about the thread's model ("how many users can it serve?").
    return is_question(text) and mentions_the_thread_model(text)


def _reads_as_change(text: str) -> bool:
    """A reply that may change an answer: ``key=value``, plain words naming settings, or a comparison
    with another model ("compare with X", "vs X")."""
    return "=" in text or _names_a_change(text) or _COMPARE_OPENER.match(strip_mentions(text)) is not None


def _whole_query(text: str) -> bool:
    """A command, or a query naming its model by id or path ("Qwen/Qwen3-8B s=32k", "history"): not a
    change to an answer, as a bare number or word the grammar would take for a model is ("32768")."""
    try:
        cmd = parse(text)
    except InputError:
        return False
    model = cmd.query.model if isinstance(cmd, EstimateCmd) else None
    return model is None or "/" in model or model.endswith(".json")


# A reply asking for a comparison ("compare with X", "vs X"): read by Service.compare_command.
_COMPARE_OPENER = re.compile(r"\s*(?:compare|vs\.?|versus)\b", re.IGNORECASE)

# The words a question opens with ("can X run ...?", "how many users can X serve ...?"); "what about X?"
# and "and on an a100?" are changes to the thread's answer instead.
_QUESTION_OPENERS = frozenset({"can", "could", "will", "would", "does", "do", "is", "how", "should", "may"})
# "what GPU do I need for X?", "which cards can run X?": a new question where it asks for cards.
_CARD_OPENERS = frozenset({"what", "which", "what's", "whats"})


def is_new_question(text: str) -> bool:
    """A thread reply that asks a whole question of its own, naming its model ("can Qwen/Qwen3-8B run
    32k on an L4?"): answered as asked, not as a change to the thread's answer, whose settings it
    would otherwise inherit unsaid. A question about the thread's model ("it") is a change."""
    words = text.split()
    opener = words[0].strip("*_~").lower() if words else ""
    if opener not in _QUESTION_OPENERS | _CARD_OPENERS or mentions_the_thread_model(text):
        return False
    if [w.lower() for w in words[:2]] == ["how", "about"]:
        return False  # "how about qwen3 32b?" is "what about ...": a change to the thread's answer
    if not is_question(text):
        return False
    try:
        question = read_question(text)
    except InputError:
        return False
    if opener in _CARD_OPENERS and question.kind not in ("which_gpu", "min_gpus"):
        return False  # "what about qwen3 32b?": a change to the thread's answer
    return question.model is not None or question.model_phrase is not None


# Delivery retries: a 429 waits its Retry-After (at most MAX_RETRY_AFTER_S) and holds back that channel's
# calls of that method meanwhile; a 5xx or a connection error is tried again after 1, 2, 4 s
# (x the backoff unit). Waiting happens on a timer, never in a worker.
MAX_TRIES = 4
MAX_RETRY_AFTER_S = 60.0


class ResponseUrlError(SlackClientError):
    """A post to a slash command's ``response_url`` was not accepted."""

    def __init__(self, status: int, retry_after_s: float | None = None, code: str = "") -> None:
        super().__init__(f"response_url answered HTTP {status}" + (f" ({code})" if code else ""))
        self.status = status
        self.retry_after_s = retry_after_s
        self.code = code  # the body Slack answers with, an error code such as "invalid_blocks"


class Responder:
    """Posts to one slash command's ``response_url`` and raises on failure (Bolt's ``respond`` does not)."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.url = str(body.get("response_url") or "")
        self.channel = str(body.get("channel_id") or "")
        self.user = str(body.get("user_id") or "")

    def __call__(self, **message: Any) -> None:
        if not self.url:
            raise ResponseUrlError(0)
        # No retry handlers: a retry is scheduled by the caller instead of sleeping here.
        resp = WebhookClient(self.url, timeout=10, retry_handlers=[]).send_dict(message)
        if resp.status_code != 200:
            after = resp.headers.get("retry-after") or resp.headers.get("Retry-After")
            code = (resp.body or "").strip()
            raise ResponseUrlError(resp.status_code, _seconds(after), code if code.isidentifier() else "")


def _seconds(value: Any) -> float | None:
    try:
        return min(max(float(value[0] if isinstance(value, list) else value), 0.0), MAX_RETRY_AFTER_S)
    except (TypeError, ValueError, IndexError):
        return None


def retry_delay(err: BaseException, attempt: int, backoff_s: float) -> tuple[float, bool] | None:
    """(seconds to wait, rate-limited?) when ``err`` is worth another try; None when it is final."""
    backoff = backoff_s * 2 ** (attempt - 1)
    if isinstance(err, SlackApiError) and err.response is not None:
        status = err.response.status_code
        if status == 429:
            return _seconds(err.response.headers.get("Retry-After")) or backoff, True
        return (backoff, False) if status >= 500 else None
    if isinstance(err, ResponseUrlError):
        if err.status == 429:
            return err.retry_after_s or backoff, True
        return (backoff, False) if err.status >= 500 else None
    if isinstance(err, URLError | ConnectionError | TimeoutError):
        return backoff, False
    return None


def create_app(
    settings: Settings,
    service: Service,
    *,
    events: EventClaims,
    work: Work | None = None,
    token_verification: bool = True,
    retry_backoff_s: float = 1.0,
) -> App:
    """The Bolt app with every listener of the ``/vram`` bot.

    ``events`` claims message ids (the store); ``work`` runs estimates after the ack (default:
    ``settings.workers`` threads; ``vram serve`` passes its own to drain it on stop);
    ``token_verification`` calls ``auth.test`` once now.
    """
    oauth = None
    if settings.slack_bot_token is None and settings.slack_client_id:  # installs in any workspace (OAuth)
        from bot.slack_oauth import OAuth

        oauth = OAuth(settings)
    if settings.slack_bot_token is None and oauth is None:
        raise VramError("SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token from the Slack app settings")
    if settings.slack_signing_secret is None and settings.slack_app_token is None:
        raise VramError("SLACK_SIGNING_SECRET is not set: copy it from the Slack app's Basic Information page")
    client: Any = (
        oauth.teams.client
        if oauth
        else WebClient(
            token=settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None,
            base_url=settings.slack_api_url,
            timeout=15,
        )
    )
    # No retry handler sleeps in a worker: _Bot.deliver schedules the retries (429, 5xx, connection).
    # (OAuth: each workspace's client is made without them, see bot.slack_oauth.TeamClients.)
    if oauth is None:
        client.retry_handlers.clear()
    pool = work or Work(settings.workers)
    app = App(
        name="vram",
        client=WebClient(base_url=settings.slack_api_url, timeout=15) if oauth else client,
        oauth_settings=oauth.settings if oauth else None,
        signing_secret=(settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None),
        token_verification_enabled=token_verification and oauth is None,
        # Listener functions only ack and enqueue (the work runs in ``work``): they run in the request's
        # own thread, which saves a hand-over to Bolt's listener pool per request under a burst.
        process_before_response=True,
        listener_executor=ThreadPoolExecutor(max_workers=4, thread_name_prefix="vram-ack"),
    )
    search = make_search(settings, store_cache=service.hub_cache())
    bot = _Bot(service=service, client=client, events=events, work=pool, backoff_s=retry_backoff_s, search=search)

    def submit(fn: Callable[..., None], *args: Any, on_error: Callable[[str], None] | None = None) -> None:
        pool.submit(functools.partial(bot.guard, fn, *args, on_error=on_error), on_error=on_error)

    slack_native.register(app, bot, submit)  # buttons, the form, unfurls (before the catch-alls)
    if oauth is not None:  # every workspace's own token; uninstalls and revoked tokens
        oauth.register(app, bot, submit)

    @app.command(COMMAND)
    def on_command(ack: Callable[..., None], body: dict[str, Any], context: BoltContext) -> None:
        ack()
        respond = Responder(body)
        submit(bot.command, body, respond, context.get(SIGNATURE_KEY), on_error=bot.tell_privately(respond))

    @app.event("message")
    def on_message(ack: Callable[..., None], event: dict[str, Any], body: dict[str, Any]) -> None:
        ack()
        if bot.is_direct_question(event):
            submit(bot.ask, body.get("team_id"), event, on_error=bot.tell_in_thread(event))
        elif bot.is_thread_change(event):
            submit(bot.thread_reply, body.get("team_id"), event, on_error=bot.tell_in_thread(event))

    @app.event("app_mention")
    def on_mention(ack: Callable[..., None], event: dict[str, Any], body: dict[str, Any]) -> None:
        ack()
        if not bot.from_a_bot(event):
            submit(bot.mention, body.get("team_id"), event, on_error=bot.tell_in_thread(event))

    @app.event("app_home_opened")
    def on_home(ack: Callable[..., None], event: dict[str, Any], body: dict[str, Any]) -> None:
        ack()
        if event.get("tab", "home") == "home" and event.get("user"):
            submit(bot.home, body.get("team_id"), event["user"])

    # Every other event is acknowledged (Slack would retry and finally disable a 404ing app).
    @app.event(re.compile(".*"))
    def on_other(ack: Callable[..., None]) -> None:
        ack()

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
        # Listener failures before the ack: log with the traceback, answer 200 so Slack does not retry.
        log.exception("Slack listener failed on %s", body.get("type") or body.get("command"), exc_info=error)
        return BoltResponse(status=200, body="")

    return app


class _Bot:
    """What the listeners do after the ack (runs in the work pool)."""

    def __init__(
        self,
        *,
        service: Service,
        client: WebClient,
        events: EventClaims,
        work: Work,
        backoff_s: float = 1.0,
        search: ModelSearch | None = None,
    ) -> None:
        self.service = service
        self.client = client
        self.events = events
        self.work = work
        self.backoff_s = backoff_s
        self.search = search
        self._held: dict[tuple[str, str], float] = {}  # (method, channel) -> monotonic time of its next try
        self._held_lock = threading.Lock()

    # -- delivery: Slack's rate limits and transient failures, without holding a worker ---------------
    def deliver(
        self,
        key: tuple[str, str],
        step: Callable[[], object],
        on_error: Tell | None,
        attempt: int = 1,
        *,
        fallback: Callable[[], None] | None = None,
    ) -> None:
        """Run one delivery step (its Slack calls); retry it later on a 429, a 5xx or a lost connection.

        ``key`` is (method, channel): a rate limit holds back that key only, so one busy channel never
        delays another. After the last try ``fallback`` delivers the answer another way (privately);
        without one the failure is raised, for the guard to tell the user in a sentence.
        """
        with self._held_lock:
            wait = self._held.get(key, 0.0) - time.monotonic()
        if wait > 0:
            self._again(wait, key, step, on_error, attempt, fallback)
            return
        try:
            step()
        except Exception as err:
            retry = retry_delay(err, attempt, self.backoff_s)
            if retry is None:
                raise
            delay, rate_limited = retry
            if rate_limited:
                with self._held_lock:
                    self._held[key] = max(self._held.get(key, 0.0), time.monotonic() + delay)
            if attempt >= MAX_TRIES:
                log.warning(
                    "Slack %s in %s failed %d times (%s): answering the user another way", key[0], key[1], attempt, err
                )
                if fallback is None:
                    raise
                fallback()
                return
            log.info("Slack %s in %s failed (%s): trying again in %.1f s", key[0], key[1], err, delay)
            self._again(delay, key, step, on_error, attempt + 1, fallback)

    def _again(
        self,
        delay: float,
        key: tuple[str, str],
        step: Callable[[], object],
        on_error: Tell | None,
        attempt: int,
        fallback: Callable[[], None] | None,
    ) -> None:
        retry = functools.partial(
            self.guard,
            functools.partial(self.deliver, fallback=fallback),
            key,
            step,
            on_error,
            attempt,
            on_error=on_error,
        )
        self.work.later(delay, retry, on_error=on_error)

    def _dm(self, user: str, msg: Message) -> None:
        """The last way to reach someone: a message from the bot in its DM with them."""
        self.client.chat_postMessage(channel=user, unfurl_links=False, unfurl_media=False, **msg.kwargs())

    def tell_privately(self, respond: Responder) -> Tell:
        """How to tell a slash command's asker something: its response_url, else a DM from the bot."""

        def tell_user(sentence: str) -> None:
            msg = blocks.error_message(sentence)
            try:
                self._respond(respond, msg)
            except (SlackClientError, URLError, ConnectionError, TimeoutError) as err:
                log.warning("could not answer %s through response_url (%s): sending a DM", respond.user, err)
                self._dm(respond.user, msg)

        return tell_user

    def answer(self, text: str, who: Conversation, *, slash: bool = False) -> Answer:
        """Grammar through the service; a question in plain words read first, its reading leading the answer.
        Small talk ("thanks!", "ok") asks nothing: a one-line pointer, not an error, and nothing kept.

        ``slash``: typed as ``/vram``, which nobody else sees, so a public answer says who asked what; a
        message (a mention, a DM, a thread reply) stands just above its answer and is not repeated."""
        asker = who.user if slash else None
        if is_small_talk(text):
            return Answer(blocks.notice_message(SMALL_TALK_REPLY))
        if asks_what_it_does(text):
            return render(self.service.run("help", who), asker=asker)
        if self.search is None or not is_question(text):
            return render(self.service.run(text, who), asker=asker)
        try:
            ans = ask.answer(text, service=self.service, who=who, search=self.search)
        except VramError as err:
            return Answer(blocks.error_message(str(err)))
        out = ans.outcome
        if out.estimate is None:
            return Answer(blocks.error_message(f"{out.error or INTERNAL_ERROR} (read as {ans.read_as})"))
        lead = ask.slack_lead(ans)
        asked = (asker, text) if asker else None
        others = ans.match.others if ans.match is not None else ()
        # The public answer and the asker's private copy differ only in who asked and the hint.
        message = functools.partial(
            blocks.estimate_message,
            out.estimate,
            record_id=out.record_id,
            note=out.note,
            lead=lead,
            others=others,
            answered=True,
        )
        return Answer(
            message(asked=asked),
            public=True,
            record_id=out.record_id,
            private=message(hint=False, private=True),
        )

    # -- the one error handler for work after the ack --------------------------------------------
    def guard(self, fn: Callable[..., None], *args: Any, on_error: Callable[[str], None] | None) -> None:
        try:
            fn(*args)
        except (SlackClientError, URLError, ConnectionError, TimeoutError) as err:
            log.warning("Slack call failed in %s: %s", getattr(fn, "__name__", fn), err)
            self._tell(on_error, slack_error_sentence(err))
        except VramError as err:  # the one root: it carries the sentence for the user
            self._tell(on_error, str(err))
        except Exception:
            log.exception("unexpected failure in %s", getattr(fn, "__name__", fn))
            self._tell(on_error, INTERNAL_ERROR)

    def _first_sighting(self, signature: str) -> bool:
        """False for a replayed request. With the database down, answer anyway (as for claims)."""
        try:
            return self.events.first_sighting(signature)
        except StoreError as err:
            log.warning("could not check for a replay (%s): answering anyway", err)
            return True

    def _claim(self, key: str) -> bool:
        """True the first time a message is seen. With the database down, answer anyway: a retry might
        then be answered twice, which beats never answering (the slash command answers too)."""
        try:
            return self.events.claim_event(key)
        except StoreError as err:
            log.warning("could not record %s as handled (%s): answering anyway", key, err)
            return True

    _tell = staticmethod(tell)

    # -- filters (cheap: they run before the ack returns) -------------------------------------------
    @staticmethod
    def from_a_bot(event: dict[str, Any]) -> bool:
        return bool(event.get("bot_id")) or event.get("subtype") == "bot_message" or bool(event.get("bot_profile"))

    def is_direct_question(self, event: dict[str, Any]) -> bool:
        """A human's top-level message in the bot's own DM (the app's Messages tab)."""
        if event.get("channel_type") != "im" or self.from_a_bot(event) or event.get("subtype") is not None:
            return False
        thread_ts = event.get("thread_ts")
        return (not thread_ts or thread_ts == event.get("ts")) and bool((event.get("text") or "").strip())

    def is_thread_change(self, event: dict[str, Any]) -> bool:
        """A human's reply in a thread that might change something (``key=value``, or plain words that
        name a setting and nothing else)."""
        # Edits, joins, deletions... are not questions; a reply also sent to the channel is.
        if self.from_a_bot(event) or event.get("subtype") not in (None, "thread_broadcast"):
            return False
        thread_ts = event.get("thread_ts")
        if not thread_ts or thread_ts == event.get("ts"):
            return False
        return _reads_as_change(event.get("text") or "")

    # -- slash command ------------------------------------------------------------------------------
    def command(self, body: dict[str, Any], respond: Responder, signature: str | None = None) -> None:
        if signature is not None and not self._first_sighting(signature):
            log.warning(
                "replayed slash command ignored (its signature was seen before): %s in %s",
                body.get("user_id"),
                body.get("channel_id"),
            )
            return
        # A DM or a group DM: "directmessage" and "mpdm-..." (between people, or the bot's own DM).
        channel_name = str(body.get("channel_name") or "")
        who = Conversation(
            platform=PLATFORM,
            workspace=body.get("team_id"),
            channel=body.get("channel_id"),
            user=body.get("user_id"),
            private=channel_name == "directmessage" or channel_name.startswith("mpdm-"),
        )
        answer = self.answer(from_slack(body.get("text") or ""), who, slash=True)
        # A DM or group DM between people (never one with the bot: it can post there).
        between_people = who.private
        on_error = self.tell_privately(respond)
        if answer.public:
            hint = blocks.DM_HINT if between_people else blocks.INVITE_HINT
            # Slack would not take the post: the asker still gets the answer, privately.
            self.deliver(
                ("chat.postMessage", respond.channel),
                lambda: self._post_or_respond(who, answer, respond, hint=hint),
                on_error,
                fallback=lambda: self._respond_or_dm(respond, answer.private or answer.message),
            )
        else:
            self.deliver(
                ("response_url", respond.channel),
                lambda: self._respond(respond, answer.message),
                on_error,
                fallback=lambda: self._dm(respond.user, answer.message),
            )

    def _respond_or_dm(self, respond: Responder, msg: Message) -> None:
        try:
            self._respond(respond, msg)
        except (SlackClientError, URLError, ConnectionError, TimeoutError) as err:
            log.warning("could not answer %s through response_url (%s): sending a DM", respond.user, err)
            self._dm(respond.user, msg)

    def _post_or_respond(self, who: Conversation, answer: Answer, respond: Responder, *, hint: str) -> None:
        """Post in the channel; where the bot cannot, answer privately and say how to invite it."""
        assert who.channel is not None
        try:
            resp = self.client.chat_postMessage(
                channel=who.channel, unfurl_links=False, unfurl_media=False, **answer.message.kwargs()
            )
        except SlackApiError as err:
            if _slack_code(err) not in CANNOT_POST:
                raise
            log.info("cannot post in %s (%s): answering privately", who.channel, _slack_code(err))
            # The private copy has no thread to reply in: no "reply in this thread" hint, the invite instead
            # (or, where inviting would not help, why only the asker sees it).
            if _slack_code(err) in ("restricted_action", "is_archived"):
                hint = blocks.RESTRICTED_HINT
            msg = answer.private or answer.message
            private = Message(blocks=(*msg.blocks, blocks._context(hint)), text=msg.text + "\n" + hint)
            self._respond(respond, private)
            return
        self._remember_post(answer, resp, thread_ts=None)

    def _remember_post(self, answer: Answer, resp: Any, *, thread_ts: str | None) -> None:
        """Where an answer was posted, for each stored query in it (a comparison's two), so a reply in
        its thread finds them; posted also means the conversation's listings show them."""
        ids = (answer.record_id,) if answer.record_id is not None else answer.shown
        for record_id in ids:
            self.service.set_posted(record_id, channel=resp["channel"], ts=resp["ts"], thread_ts=thread_ts)

    @staticmethod
    def _respond(respond: Responder, msg: Message) -> None:
        respond(response_type="ephemeral", replace_original=False, **msg.kwargs())

    # -- threads ------------------------------------------------------------------------------------
    def thread_reply(self, team: str | None, event: dict[str, Any]) -> None:
        """A reply in a vram thread: re-estimate the thread's latest estimate with the changes."""
        channel, thread_ts, ts = event.get("channel"), event.get("thread_ts"), event.get("ts")
        if not channel or not thread_ts or not ts:
            return
        base = self.service.latest_in_thread(team=team, channel=channel, thread_ts=thread_ts)
        if base is None:  # not a thread we answered in
            return
        # One claim per message: Slack's retries repeat the event id, and a reply that mentions the
        # bot arrives twice (message + app_mention, two event ids) - the message is the same.
        if not self._claim(f"msg:{team}:{channel}:{ts}"):
            return
        who = Conversation(
            platform=PLATFORM,
            workspace=team,
            channel=channel,
            user=event.get("user"),
            private=event.get("channel_type") in ("im", "mpim"),
        )
        text = from_slack(event.get("text") or "")
        answer = self.service.thread_answer(base)
        if len(answer) == 2 and _COMPARE_OPENER.match(text) and not self.service.is_compare_command(text):
            self._thread_error(
                "this thread compares two models already: ask `/vram compare <model> <model>` for others, "
                "or reply with a setting to change both",
                channel=channel,
                thread_ts=thread_ts,
                user=who.user,
            )
            return
        if is_new_question(text) or self.service.is_compare_command(text):
            # Asked in the thread, answered in it as asked: its own model(s) and settings.
            fresh = self.answer(text, who)
            self.deliver(
                ("chat.postMessage", channel),
                lambda: self._post_in_thread(fresh, channel=channel, thread_ts=thread_ts, user=who.user),
                self.tell_in_thread(event),
            )
            return
        if self._change(event, answer, text, who, channel=channel, thread_ts=thread_ts, user=who.user):
            return
        if len(answer) == 2 and is_question(text) and mentions_the_thread_model(text):
            # A question about them that asks nothing vram answers for both ("can they run?").
            self._thread_error(
                'this thread compares two models: ask what to know of both ("how many users can they serve '
                'at 32k?", "how many GPUs do they need?"), reply with a setting to change both, or ask one '
                "model with `/vram <model> ...`",
                channel=channel,
                thread_ts=thread_ts,
                user=who.user,
            )

    def _change(
        self,
        event: dict[str, Any],
        answer: tuple[QueryRecord, ...],
        text: str,
        who: Conversation,
        *,
        channel: str,
        thread_ts: str | None,
        user: str | None,
    ) -> bool:
        """A reply's change to an answer (one estimate, or a comparison's two sides), in its thread or
        below it in the bot's DM: a comparison with another model ("compare with X", one estimate only),
        else a what-if. False where the reply reads as no change. ``user``: who is told a mistake
        privately (None: said as a message, as in the DM)."""
        if len(answer) == 2:
            pair = self.service.compare_what_if(a=answer[0], b=answer[1], text=text, who=who)
            if pair is None:
                return False
            self.deliver(
                ("chat.postMessage", channel),
                lambda: self._compare_in_thread(pair, channel=channel, thread_ts=thread_ts, user=user),
                self.tell_in_thread(event),
            )
            return True
        try:
            command = self.service.compare_command(answer[0], text, self.search)
        except VramError as err:  # no model named, or one the Hub search could not find or reach
            self._thread_error(str(err), channel=channel, thread_ts=thread_ts, user=user)
            return True
        if command is not None:
            fresh = self.answer(command, who)
            self.deliver(
                ("chat.postMessage", channel),
                lambda: self._post_in_thread(fresh, channel=channel, thread_ts=thread_ts, user=user),
                self.tell_in_thread(event),
            )
            return True
        outcome = self.service.what_if(base=answer[0], text=text, who=who, search=self.search)
        if outcome is None:
            return False
        self.deliver(
            ("chat.postMessage", channel),
            lambda: self._answer_in_thread(outcome, channel=channel, thread_ts=thread_ts, user=user),
            self.tell_in_thread(event),
        )
        return True

    def _post_in_thread(self, answer: Answer, *, channel: str, thread_ts: str | None, user: str | None = None) -> None:
        if not answer.public and user:
            # A mistake or a failed lookup: only the one who asked needs to see it.
            self.client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, **answer.message.kwargs())
            return
        resp = self.client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, unfurl_links=False, unfurl_media=False, **answer.message.kwargs()
        )
        self._remember_post(answer, resp, thread_ts=thread_ts)

    def _answer_in_thread(self, out: Outcome, *, channel: str, thread_ts: str | None, user: str | None) -> None:
        if out.estimate is None and out.error is None and out.note:
            self._thread_notice(out.note, channel=channel, thread_ts=thread_ts, user=user)
            return
        if out.estimate is None:
            self._thread_error(out.error or INTERNAL_ERROR, channel=channel, thread_ts=thread_ts, user=user)
            return
        if out.base is not None:
            msg = blocks.what_if_message(
                out.estimate,
                out.base,
                out.changes,
                record_id=out.record_id,
                note=out.note,
                answer=ask.question_answer(out.question_text, out.estimate),
                unused=out.unused,
                fit_change=not ask.asks_a_limit(out.question_text),
            )
        else:
            msg = blocks.estimate_message(out.estimate, record_id=out.record_id, note=out.note, hint=False)
        resp = self.client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, unfurl_links=False, unfurl_media=False, **msg.kwargs()
        )
        if out.record_id is not None:
            self.service.set_posted(out.record_id, channel=resp["channel"], ts=resp["ts"], thread_ts=thread_ts)

    def _compare_in_thread(self, reply: CompareReply, *, channel: str, thread_ts: str | None, user: str | None) -> None:
        if reply.a.estimate is None and reply.a.error is None and reply.a.note:
            self._thread_notice(reply.a.note, channel=channel, thread_ts=thread_ts, user=user)
            return
        if reply.a.estimate is None or reply.b.estimate is None:
            self._thread_error(compare_errors(reply), channel=channel, thread_ts=thread_ts, user=user)
            return
        msg = compare_what_if(reply)
        resp = self.client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, unfurl_links=False, unfurl_media=False, **msg.kwargs()
        )
        for out in (reply.a, reply.b):
            if out.record_id is not None:
                self.service.set_posted(out.record_id, channel=resp["channel"], ts=resp["ts"], thread_ts=thread_ts)

    def tell_in_thread(self, event: dict[str, Any]) -> Callable[[str], None]:
        """How to tell the author of ``event`` that answering it failed (privately, in its thread)."""

        def tell(sentence: str) -> None:
            channel = event.get("channel")
            thread_ts = event.get("thread_ts") or event.get("ts")
            if channel and thread_ts:
                self._thread_error(sentence, channel=channel, thread_ts=thread_ts, user=event.get("user"))

        return tell

    def _thread_error(self, sentence: str, *, channel: str, thread_ts: str | None, user: str | None) -> None:
        self._thread_notice(sentence, channel=channel, thread_ts=thread_ts, user=user, error=True)

    def _thread_notice(
        self, sentence: str, *, channel: str, thread_ts: str | None, user: str | None, error: bool = False
    ) -> None:
        msg = blocks.error_message(sentence) if error else blocks.notice_message(sentence)
        if not user:
            self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, **msg.kwargs())
            return
        try:  # only the one who typed it needs to see the mistake
            self.client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, **msg.kwargs())
        except (SlackClientError, URLError, ConnectionError, TimeoutError) as err:
            log.warning("could not tell %s in the thread (%s): sending a DM", user, err)
            self.client.chat_postMessage(channel=user, **msg.kwargs())

    # -- @vram and the bot's DM -------------------------------------------------------------------
    def mention(self, team: str | None, event: dict[str, Any]) -> None:
        """``@vram ...``: a change in one of our threads, else a question answered in a thread."""
        channel, ts = event.get("channel"), event.get("ts")
        if not channel or not ts:
            return
        thread_ts = event.get("thread_ts")
        if (
            thread_ts
            and thread_ts != ts
            and self.service.latest_in_thread(team=team, channel=channel, thread_ts=thread_ts) is not None
        ):
            # Our thread: the message event for the same reply may be handled already (claimed).
            if self.is_thread_change(event):
                self.thread_reply(team, event)
            elif event.get("user") and self._claim(f"msg:{team}:{channel}:{ts}"):
                # Addressed to the bot but nothing to change: say how, to the asker only.
                self.client.chat_postEphemeral(
                    channel=channel,
                    user=event["user"],
                    thread_ts=thread_ts,
                    **blocks.notice_message(THREAD_HOWTO).kwargs(),
                )
            return
        self.ask(team, event)

    def ask(self, team: str | None, event: dict[str, Any]) -> None:
        """A question put to the bot: ``@vram <text>`` in a channel, or any message in its own DM."""
        channel, ts, user = event.get("channel"), event.get("ts"), event.get("user")
        if not channel or not ts:
            return
        # Slack's retries repeat the event; a mention also arrives as a message: one answer per message.
        if not self._claim(f"msg:{team}:{channel}:{ts}"):
            return
        dm = event.get("channel_type") == "im"
        # In a channel the answer goes in the thread it was asked in, or starts one under the question;
        # a DM is already a conversation with the bot, so the answer follows the question there.
        reply_ts = event.get("thread_ts") or (None if dm else ts)
        who = Conversation(
            platform=PLATFORM,
            workspace=team,
            channel=channel,
            user=user,
            private=dm or event.get("channel_type") == "mpim",
        )
        text = from_slack(event.get("text") or "")
        if dm and reply_ts is None and self._dm_change(team, event, who, text):
            return
        answer = self.answer(text, who)
        if answer.public or dm:  # in the DM only the asker and the bot are there: no need to whisper

            def post() -> None:
                resp = self.client.chat_postMessage(
                    channel=channel,
                    thread_ts=reply_ts,
                    unfurl_links=False,
                    unfurl_media=False,
                    **answer.message.kwargs(),
                )
                self._remember_post(answer, resp, thread_ts=reply_ts)

            self.deliver(("chat.postMessage", channel), post, self.tell_in_thread(event))
        elif user:  # help, history, mistakes: only the asker needs to see them
            self.deliver(
                ("chat.postEphemeral", channel),
                lambda: self.client.chat_postEphemeral(
                    channel=channel, user=user, thread_ts=reply_ts, **answer.message.kwargs()
                ),
                self.tell_in_thread(event),
            )

    def _dm_change(self, team: str | None, event: dict[str, Any], who: Conversation, text: str) -> bool:
        """A top-level message in the bot's DM that only changes settings ("what about 64k?", "b=8"): a
        what-if of the latest answer there, answered in the DM as a reply in its thread would be. False
        where it is not one (it names a model, asks a question of its own, is a command) or there is no
        single answer to change."""
        channel = str(event.get("channel"))
        compare = _COMPARE_OPENER.match(text) is not None and not self.service.is_compare_command(text)
        if is_new_question(text) or not _reads_as_change(text):
            return False
        if not compare and _whole_query(text):
            return False  # a command or a whole query of its own ("Qwen/Qwen3-8B s=32k", "history")
        base = self.service.latest_posted(team=team, channel=channel)
        if base is None:
            return False
        answer = self.service.thread_answer(base)
        if len(answer) == 2 and compare:
            return False  # "compare with X" below a comparison: answered as a command of its own
        # user=None: in the DM a mistake or a note is a message like the answers, not a whisper.
        return self._change(event, answer, text, who, channel=channel, thread_ts=None, user=None)

    # -- App Home -----------------------------------------------------------------------------------
    def home(self, team: str | None, user: str) -> None:
        """Publish the Home tab with the user's recent queries."""
        reply = self.service.own_history(Conversation(platform=PLATFORM, workspace=team, user=user))
        if isinstance(reply, HistoryReply):
            view = blocks.home_view(reply.records, compares=reply.compares)
        else:  # the history could not be read: say so, rather than "no queries yet"
            view = blocks.home_view((), error=reply.message)
        self.deliver(("views.publish", user), lambda: self.client.views_publish(user_id=user, view=view), None)
