"""``vram serve``: the Slack app over Socket Mode or HTTP (``POST /slack/events``, ``GET /healthz``)."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.error import URLError

from slack_bolt import App
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.exc import ArgumentError

from bot.http import EVENTS_PATH, HttpServer, SlackGate
from bot.service import Service
from bot.settings import Settings
from bot.slack_app import create_app
from bot.work import Work
from common.errors import StoreError, VramError
from estimator.archconfig import preload
from sources import make_resolver
from store.store import Store, default_database_url

log = logging.getLogger(__name__)

# A stop (SIGTERM) must be over before the orchestrator's kill (Docker: 10 s): the acks in flight get
# ACK_DRAIN_S, the answers in flight what is left of STOP_BUDGET_S less TELL_S, kept to tell the askers of
# answers that could not finish.
STOP_BUDGET_S = 8.0
ACK_DRAIN_S = 1.0
TELL_S = 2.0


def check_settings(settings: Settings) -> None:
    """Fail at once, with what to set, when the Slack credentials are missing."""
    oauth = settings.slack_bot_token is None and settings.slack_client_id is not None
    if settings.slack_bot_token is None and not oauth:
        raise VramError(
            "SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token from the Slack app settings "
            "(or set SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_TOKEN_KEY to install in any workspace)"
        )
    if oauth:
        missing = [
            name
            for name, value in (
                ("SLACK_CLIENT_SECRET", settings.slack_client_secret),
                ("SLACK_TOKEN_KEY", settings.slack_token_key),
            )
            if not value
        ]
        if missing:
            raise VramError(
                f"{' and '.join(missing)} not set: installing in any workspace (SLACK_CLIENT_ID) "
                "needs the app's client secret and a key to encrypt the stored tokens"
            )
        if settings.slack_app_token is not None:
            raise VramError(
                "installing in any workspace needs HTTP mode (the install page and redirect are "
                "web pages): unset SLACK_APP_TOKEN, or set SLACK_BOT_TOKEN for one workspace"
            )
    if settings.slack_app_token is None and settings.slack_signing_secret is None:
        raise VramError(
            "SLACK_SIGNING_SECRET is not set: copy it from the Slack app's Basic Information page "
            "(or set SLACK_APP_TOKEN for Socket Mode)"
        )


@dataclass
class Built:
    """What ``vram serve`` runs: the Bolt app, its store and the work pool answering after the ack."""

    app: App
    store: Store
    work: Work

    def __iter__(self) -> Any:  # ``app, store = build(...)``
        return iter((self.app, self.store))


def build(settings: Settings) -> Built:
    """Store (migrated), Hub resolver, service and Bolt app, wired from the settings."""
    check_settings(settings)
    try:
        store = Store(settings.database_url or default_database_url())
    except StoreError as err:
        raise VramError(str(err)) from err
    except ArgumentError as err:
        raise VramError(
            "DATABASE_URL is not a database URL: use sqlite:///path/to/vram.sqlite3 or "
            "postgresql+psycopg://user:password@host/db"
        ) from err
    try:
        store.upgrade()  # `vram serve` applies the migrations on start
        resolver = make_resolver(settings, store_cache=store.hub_cache(), local_paths=False)
        service = Service(store=store, resolver=resolver)
        work = Work(settings.workers)
        return Built(create_app(settings, service, events=store, work=work), store, work)
    except StoreError as err:
        store.close()
        raise VramError(str(err)) from err
    except VramError:
        store.close()
        raise
    except (URLError, OSError) as err:  # auth.test could not reach Slack
        store.close()
        raise VramError(
            f"Slack did not answer at {settings.slack_api_url}: check the network (or SLACK_API_URL) and retry"
        ) from err
    except Exception as err:  # Bolt's BoltError on a refused token, and the like
        store.close()
        raise VramError(f"The Slack app could not start: {err}") from err


def database_ok(store: Store) -> Callable[[], bool]:
    """The health check: the database takes a write now (a read-only file or a held lock is unhealthy)."""

    def check() -> bool:
        try:
            store.check_writable()
        except StoreError:
            return False
        return True

    return check


def serve(settings: Settings, *, on_ready: Callable[[Callable[[], None]], None] | None = None) -> None:
    """Run the bot until stopped: Socket Mode with SLACK_APP_TOKEN, else HTTP on PORT.

    ``on_ready`` is called once Slack can reach the bot, with a function that stops it (for tests
    and for embedding; from the command line, Ctrl-C or SIGTERM stops it). A stop takes no new
    requests, finishes the answers in flight (or tells their askers) and returns within STOP_BUDGET_S.
    """
    # transformers' quiet import swaps stderr: done first, before logging writes there and before the
    # workers start.
    preload()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    elif settings.vram_log_level is None:
        # `vram` logs WARNING and up for terminal commands; a server tells its operator how it runs.
        logging.getLogger("bot").setLevel(logging.INFO)
    built = build(settings)
    stop = threading.Event()
    restore = _stop_on_signals(stop)
    try:
        if settings.slack_app_token is not None:
            _serve_socket_mode(built, settings, stop, on_ready)
        else:
            _serve_http(built, settings, stop, on_ready)
    finally:
        restore()
        built.store.close()


def _listen(gate: SlackGate, port: int) -> HttpServer:
    try:
        return HttpServer(gate, port=port).start()
    except OSError as err:  # another process has the port (or a low port needs privileges)
        raise VramError(f"PORT {port} is not free: {err.strerror or err}; set PORT to a free port") from err


def _stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """SIGTERM (``docker stop``, orchestrators) and Ctrl-C start a graceful stop; returns the undo.

    Without a handler Python dies at once on SIGTERM, and as PID 1 in a container it ignores it, so
    ``docker stop`` waited its 10 seconds and killed the bot mid-answer.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # embedded in a thread: signals are the host's business

    def request_stop(signum: int, frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def _wait(stop: threading.Event) -> None:
    # A timed wait: the main thread then runs the signal handler promptly on every platform.
    while not stop.wait(0.5):
        pass


def _finish(work: Work, started: float) -> None:
    """Let the answers in flight finish within the stop budget; the rest are told to ask again."""
    left = STOP_BUDGET_S - TELL_S - (time.monotonic() - started)
    unfinished = work.drain(max(left, 0.0))
    log.info("vram: stopped (%d answer(s) could not finish)", unfinished)


def _serve_http(
    built: Built, settings: Settings, stop: threading.Event, on_ready: Callable[[Callable[[], None]], None] | None
) -> None:
    assert settings.slack_signing_secret is not None  # check_settings: HTTP mode needs it
    gate = SlackGate(
        built.app,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        health=database_ok(built.store),
        on_request=built.work.lull.request,
    )
    server = _listen(gate, settings.port)
    log.info("vram: HTTP on port %d, Slack events at %s", server.port, EVENTS_PATH)
    if on_ready is not None:
        on_ready(stop.set)
    try:
        _wait(stop)
    finally:
        started = time.monotonic()
        log.info("vram: stopping: no new requests; finishing the answers in flight")
        server.stop_accepting()
        server.wait_idle(ACK_DRAIN_S)
        _finish(built.work, started)
        server.close()


def _serve_socket_mode(
    built: Built, settings: Settings, stop: threading.Event, on_ready: Callable[[Callable[[], None]], None] | None
) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    assert settings.slack_app_token is not None
    handler = SocketModeHandler(built.app, settings.slack_app_token.get_secret_value())
    db_ok = database_ok(built.store)

    def healthy() -> bool:
        return handler.client.is_connected() and db_ok()

    # The health check still listens on PORT (for Docker and orchestrators); events do not.
    health_server = _listen(SlackGate(None, health=healthy), settings.port)
    try:
        try:
            handler.connect()
        except SlackApiError as err:  # a revoked token, or the bot token pasted as the app token
            code = err.response.get("error", "unknown error") if err.response is not None else "unknown error"
            raise VramError(
                f"SLACK_APP_TOKEN was refused by Slack ({code}): generate an app-level token (xapp-...) with "
                "the connections:write scope under Basic Information → App-Level Tokens"
            ) from err
        except (SlackClientError, URLError, OSError) as err:
            raise VramError(
                f"Slack did not answer at {settings.slack_api_url}: check the network (or SLACK_API_URL) and retry"
            ) from err
        log.info("vram: Socket Mode (SLACK_APP_TOKEN is set); health check on port %d", settings.port)
        if on_ready is not None:
            on_ready(stop.set)
        _wait(stop)
        started = time.monotonic()
        log.info("vram: stopping: no new events; finishing the answers in flight")
        handler.close()
        _finish(built.work, started)
    finally:
        handler.close()
        health_server.close()
