"""``vram serve``: the Slack app over Socket Mode or HTTP (``POST /slack/events``, ``GET /healthz``)."""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.error import URLError

from slack_bolt import App, BoltRequest
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.exc import ArgumentError

from bot.service import Service
from bot.settings import Settings
from bot.slack_app import create_app
from common.errors import StoreError, VramError
from sources import make_resolver
from store.store import Store, default_database_url

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
MAX_BODY_BYTES = 1024 * 1024  # Slack payloads are far smaller; refuse anything bigger unread


class SlackHTTPServer(ThreadingHTTPServer):
    """One thread per request, so a slow client never holds up another request's ack."""

    daemon_threads = True
    allow_reuse_address = True


def make_http_server(
    app: App | None, *, host: str = "0.0.0.0", port: int = 3000, health: Callable[[], bool] | None = None
) -> SlackHTTPServer:
    """An HTTP server for ``app``: Slack requests at ``/slack/events``, a health check at ``/healthz``.

    With ``app=None`` only the health check is served (Socket Mode: events never come over HTTP).
    """

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

        def do_GET(self) -> None:
            if self.path.partition("?")[0] != HEALTH_PATH:
                self._send(404, {"ok": False, "error": "not found"})
                return
            ok = True
            if health is not None:
                try:
                    ok = health()
                except Exception:
                    log.exception("health check failed")
                    ok = False
            self._send(200 if ok else 503, {"ok": ok})

        def do_POST(self) -> None:
            path, _, query = self.path.partition("?")
            if app is None or path != EVENTS_PATH:
                self._send(404, {"ok": False, "error": "not found"})
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_BODY_BYTES:
                self._send(413, {"ok": False, "error": "payload too large"})
                self.close_connection = True
                return
            body = self.rfile.read(length).decode("utf-8", errors="replace")
            headers = {k.lower(): [v] for k, v in self.headers.items()}
            resp = app.dispatch(BoltRequest(body=body, query=query, headers=headers))
            out_headers = {k: list(v) for k, v in resp.headers.items()}
            self._send_raw(resp.status, resp.body or "", out_headers)

        def _send(self, status: int, obj: dict[str, Any]) -> None:
            self._send_raw(status, json.dumps(obj), {"content-type": ["application/json"]})

        def _send_raw(self, status: int, body: str, headers: dict[str, list[str]]) -> None:
            data = body.encode("utf-8")
            self.send_response(status)
            for key, values in headers.items():
                if key.lower() == "content-length":
                    continue
                for value in values:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return SlackHTTPServer((host, port), Handler)


def check_settings(settings: Settings) -> None:
    """Fail at once, with what to set, when the Slack credentials are missing."""
    if settings.slack_bot_token is None:
        raise VramError("SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token from the Slack app settings")
    if settings.slack_app_token is None and settings.slack_signing_secret is None:
        raise VramError(
            "SLACK_SIGNING_SECRET is not set: copy it from the Slack app's Basic Information page "
            "(or set SLACK_APP_TOKEN for Socket Mode)"
        )


def build(settings: Settings) -> tuple[App, Store]:
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
        return create_app(settings, service, events=store), store
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
    """The health check: the database answers."""

    def check() -> bool:
        try:
            store.schema_revision()
        except StoreError:
            return False
        return True

    return check


def serve(settings: Settings, *, on_ready: Callable[[Callable[[], None]], None] | None = None) -> None:
    """Run the bot until interrupted: Socket Mode with SLACK_APP_TOKEN, else HTTP on PORT.

    ``on_ready`` is called once Slack can reach the bot, with a function that stops it (for tests
    and for embedding; from the command line, Ctrl-C or SIGTERM stops it).
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    elif settings.vram_log_level is None:
        # `vram` logs WARNING and up for terminal commands; a server tells its operator how it runs.
        logging.getLogger("bot").setLevel(logging.INFO)
    app, store = build(settings)
    restore = _stop_on_sigterm()
    try:
        if settings.slack_app_token is not None:
            _serve_socket_mode(app, store, settings, on_ready)
        else:
            _serve_http(app, store, settings, on_ready)
    finally:
        restore()
        store.close()


def _listen(app: App | None, port: int, *, health: Callable[[], bool]) -> SlackHTTPServer:
    try:
        return make_http_server(app, port=port, health=health)
    except OSError as err:  # another process has the port (or a low port needs privileges)
        raise VramError(f"PORT {port} is not free: {err.strerror or err}; set PORT to a free port") from err


def _stop_on_sigterm() -> Callable[[], None]:
    """SIGTERM (``docker stop``, orchestrators) stops the bot as Ctrl-C does; returns the undo.

    Without a handler Python dies at once on SIGTERM, and as PID 1 in a container it ignores it, so
    ``docker stop`` waited its 10 seconds and killed the bot mid-answer.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # embedded in a thread: signals are the host's business

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    return lambda: signal.signal(signal.SIGTERM, previous)


def _serve_http(app: App, store: Store, settings: Settings,
                on_ready: Callable[[Callable[[], None]], None] | None) -> None:
    server = _listen(app, settings.port, health=database_ok(store))
    log.info("vram: HTTP on port %d, Slack events at %s", settings.port, EVENTS_PATH)
    if on_ready is not None:
        on_ready(server.shutdown)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _serve_socket_mode(app: App, store: Store, settings: Settings,
                       on_ready: Callable[[Callable[[], None]], None] | None) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    assert settings.slack_app_token is not None
    # The health check still listens on PORT (for Docker and orchestrators); events do not.
    health_server = _listen(None, settings.port, health=database_ok(store))
    threading.Thread(target=health_server.serve_forever, daemon=True, name="vram-health").start()
    handler = SocketModeHandler(app, settings.slack_app_token.get_secret_value())
    stopped = threading.Event()
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
            on_ready(stopped.set)
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        handler.close()
        health_server.shutdown()
        health_server.server_close()
