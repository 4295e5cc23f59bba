"""The HTTP side of ``vram serve``: Bolt's WSGI adapter on waitress, behind a gate for hostile requests.

waitress reads every request in one event loop and hands complete requests to a few threads, so idle
or half-sent connections cost a socket, not a thread; it listens with a large backlog, closes
connections idle past a timeout and caps how many it keeps open. The gate in front of Bolt answers
what Bolt would choke on (unsigned, stale, malformed) with a status and one log line.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from slack_bolt import App, BoltRequest
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from slack_bolt.context import BoltContext
from slack_bolt.request.internals import build_context
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier
from waitress import wasyncore
from waitress.server import TcpWSGIServer, create_server

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
MAX_BODY_BYTES = 1024 * 1024  # Slack payloads are far smaller; waitress refuses bigger bodies with 413

# waitress settings. Slack expects the ack within 3 s: a burst must queue in the kernel (backlog), not
# be reset; a client that opens connections and sends nothing (or half a request) is cut off after
# IDLE_TIMEOUT_S, checked every CLEANUP_S; beyond MAX_CONNECTIONS open ones, new ones wait in the backlog.
BACKLOG = 2048
MAX_CONNECTIONS = 1000
IDLE_TIMEOUT_S = 10
CLEANUP_S = 2
ACK_THREADS = 8  # requests only verify, parse and ack here; the answers run in the work pool


# Where the gate leaves a request's signature in Bolt's context, for the replay check after the ack.
SIGNATURE_KEY = "vram_request_signature"


class _FormAwareRequest(BoltRequest):
    """A BoltRequest whose body was parsed by the gate rather than by Bolt.

    slack_bolt 1.30 ``parse_body`` reads any form body that contains the word "payload" anywhere as
    an interactivity payload, so a slash command from channel ``payload-eng`` or with the text
    ``acme/payload-llm`` becomes ``{}`` and is answered 404. The raw body is kept as it came (Bolt
    still verifies its signature); only the parsed body and the context built from it are replaced.
    Drop this class when Bolt parses the form by its ``payload`` field (tests/bot/test_slack_http.py
    pins the version this was written against).
    """

    def __init__(self, *, body: str, parsed: dict[str, Any], query: str, headers: dict[str, Any]) -> None:
        super().__init__(body=body, query=query, headers=headers)
        if self.body != parsed:
            self.body = parsed
            self.context = build_context(BoltContext({}), parsed)


def parse_slack_body(body: str, content_type: str) -> dict[str, Any]:
    """Slack's body as a dict: JSON (events), a form with a JSON ``payload`` (interactivity), or a form
    (slash commands). Raises ValueError for anything else."""
    if content_type.startswith("application/json") or body.lstrip().startswith("{"):
        parsed = json.loads(body)
    else:
        form = dict(parse_qsl(body, keep_blank_values=True))
        parsed = json.loads(form["payload"]) if "payload" in form else form
    if not isinstance(parsed, dict):
        raise ValueError("not an object")
    return parsed


class SlackGate(SlackRequestHandler):
    """Bolt's WSGI adapter with ``/healthz``, a gate in front of ``/slack/events`` and, when the app
    installs through OAuth, Bolt's install page and redirect.

    With ``app=None`` (Socket Mode) only the health check is served. ``on_request`` is told of every
    POST to the events path before it is answered (the work pool defers answers while requests come).
    """

    def __init__(
        self,
        app: App | None,
        *,
        signing_secret: str | None = None,
        health: Callable[[], bool] | None = None,
        on_request: Callable[[], None] | None = None,
    ) -> None:
        if app is not None:
            super().__init__(app, path=EVENTS_PATH)
        self.bolt = app
        self.health = health
        self.on_request = on_request
        self.verifier = SignatureVerifier(signing_secret) if signing_secret else None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = WsgiHttpRequest(environ)
        if request.method == "GET" and request.path == HEALTH_PATH:
            ok = self._healthy()
            return _reply(start_response, 200 if ok else 503, {"ok": ok})
        flow = self.bolt.oauth_flow if self.bolt is not None else None
        if flow is not None and request.method == "GET" and request.path in (flow.install_path, flow.redirect_uri_path):
            # Installs in any workspace: Bolt's own install page and OAuth redirect (state checked there).
            response = self._get_http_response(request)
            start_response(response.status, response.get_headers())
            return response.get_body()
        if self.bolt is None or request.method != "POST" or request.path != EVENTS_PATH:
            return _reply(start_response, 404, {"ok": False, "error": "not found"})
        response = self._gate(request)
        start_response(response.status, response.get_headers())
        return response.get_body()

    def _healthy(self) -> bool:
        if self.health is None:
            return True
        try:
            return self.health()
        except Exception as err:  # a health probe must answer, whatever broke
            log.warning("health check failed: %s", err)
            return False

    def _gate(self, request: WsgiHttpRequest) -> WsgiHttpResponse:
        if self.on_request is not None:
            self.on_request()
        headers = request.get_headers()
        peer = request.environ.get("REMOTE_ADDR", "?")
        try:
            body = request.get_body()
        except (UnicodeDecodeError, ValueError):
            return _refuse(400, "body is not UTF-8", peer)
        timestamp = str(headers.get("x-slack-request-timestamp") or "")
        signature = str(headers.get("x-slack-signature") or "")
        if not signature and body.startswith("ssl_check=1"):
            # Slack's certificate probe (a form with ssl_check=1): Bolt answers it with an empty 200.
            bolt_ssl = _FormAwareRequest(
                body=body, parsed=dict(parse_qsl(body)), query=request.query_string, headers=headers
            )
            return self._dispatch(bolt_ssl)
        if not timestamp.isascii() or not timestamp.isdigit():
            return _refuse(400 if timestamp else 401, "missing or non-numeric request timestamp", peer)
        if not signature:
            return _refuse(401, "unsigned request", peer)
        if self.verifier is not None and not self.verifier.is_valid(body, timestamp, signature):
            return _refuse(401, "bad or expired signature", peer)
        try:
            parsed = parse_slack_body(body, str(headers.get("content-type") or ""))
        except (ValueError, KeyError):  # json.JSONDecodeError is a ValueError
            return _refuse(400, "signed body is not a Slack payload", peer)
        bolt_request = _FormAwareRequest(body=body, parsed=parsed, query=request.query_string, headers=headers)
        # The listener checks for a replay after the ack (a database write must not delay it).
        bolt_request.context[SIGNATURE_KEY] = signature
        return self._dispatch(bolt_request)

    def _dispatch(self, bolt_request: BoltRequest) -> WsgiHttpResponse:
        assert self.bolt is not None
        resp: BoltResponse = self.bolt.dispatch(bolt_request)
        return WsgiHttpResponse(status=resp.status, headers=resp.headers, body=resp.body)


def _refuse(status: int, why: str, peer: str) -> WsgiHttpResponse:
    log.warning("refused a request from %s: %s (HTTP %d)", peer, why, status)
    body = json.dumps({"ok": False, "error": why})
    return WsgiHttpResponse(status=status, headers={"content-type": ["application/json"]}, body=body)


def _reply(start_response: StartResponse, status: int, obj: dict[str, Any]) -> list[bytes]:
    data = json.dumps(obj).encode()
    reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}.get(status, "")
    start_response(f"{status} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


class HttpServer:
    """waitress serving one WSGI app; ``run`` blocks, ``stop_accepting``/``close`` come from any thread."""

    def __init__(self, wsgi: Callable[..., Iterable[bytes]], *, host: str = "0.0.0.0", port: int = 3000) -> None:
        server = create_server(
            wsgi,
            host=host,
            port=port,
            threads=ACK_THREADS,
            backlog=BACKLOG,
            connection_limit=MAX_CONNECTIONS,
            channel_timeout=IDLE_TIMEOUT_S,
            cleanup_interval=CLEANUP_S,
            max_request_body_size=MAX_BODY_BYTES,
            max_request_header_size=64 * 1024,
            asyncore_use_poll=True,  # select() stops at 1024 sockets
            ident="vram",
            clear_untrusted_proxy_headers=True,
        )
        assert isinstance(server, TcpWSGIServer)
        self._server = server
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    @property
    def host(self) -> str:
        return str(self._server.effective_host)

    def run(self) -> None:
        self._server.run()

    def start(self) -> HttpServer:
        """Serve in a background thread (tests, and the health check in Socket Mode)."""
        self._thread = threading.Thread(target=self.run, daemon=True, name="vram-http")
        self._thread.start()
        return self

    def stop_accepting(self) -> None:
        """Close the listening socket; connections already open are still served."""
        server = self._server
        server.trigger.pull_trigger(lambda: wasyncore.dispatcher.close(server))

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is queued or running (the acks in flight went out)."""
        deadline = time.monotonic() + timeout
        dispatcher = self._server.task_dispatcher
        while time.monotonic() < deadline:
            busy = bool(dispatcher.queue) or any(ch.requests for ch in list(self._server.active_channels.values()))
            if not busy:
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        """Close every connection and stop the loop (``run`` returns)."""
        server = self._server
        try:
            server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map, ignore_all=True))
            if self._thread is not None:
                self._thread.join(2)
        except OSError as err:  # the loop is gone already: close what is left from here
            log.debug("closing the HTTP server directly (%s)", err)
        if self._thread is None or not self._thread.is_alive():
            wasyncore.close_all(server._map, ignore_all=True)
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
