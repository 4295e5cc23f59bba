"""A mock Slack Web API on 127.0.0.1 that records every call and answers like Slack.

Point ``SLACK_API_URL`` (a ``WebClient``'s ``base_url``) at ``MockSlack.api_url`` and use
``MockSlack.response_url(...)`` as the ``response_url`` of the slash commands a test sends.
Tests then assert on ``MockSlack.calls``: the method, its arguments, and the token sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode

from tests.blockkit import block_errors, phone_errors, view_errors

BOT_USER_ID = "UVRAMBOT"
BOT_ID = "BVRAMBOT"
TEAM_ID = "T0001"


@dataclass(frozen=True)
class Call:
    """One recorded request: a Web API method, or a post to a ``response_url``."""

    method: str  # "chat.postMessage", ..., or "response_url"
    args: dict[str, Any]  # form fields or JSON body (blocks decoded to lists)
    token: str | None  # the bearer token sent, if any
    path: str
    status: int = 200  # what the mock answered (429 and 5xx when told to fail that way)


@dataclass
class MockSlack:
    """Records calls; channels in ``private`` answer not_in_channel, in ``missing`` channel_not_found."""

    private: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)
    # method -> Slack error code, to make any method fail the way Slack fails it
    fail: dict[str, str] = field(default_factory=dict)
    socket_url: str | None = None  # what apps.connections.open hands out (Socket Mode)
    # How many of the next calls answer HTTP 429 (with Retry-After: retry_after_s) or HTTP 500, per
    # "method" or "method channel" (e.g. "chat.postMessage C0001"); "response_url" for response URLs.
    rate_limit: dict[str, int] = field(default_factory=dict)
    retry_after_s: int = 1
    server_errors: dict[str, int] = field(default_factory=dict)
    # How many of the next calls of a method get the connection closed without an answer.
    drop: dict[str, int] = field(default_factory=dict)
    # OAuth: code -> what oauth.v2.access answers for it (client id and secret are checked)
    oauth_codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # token rotation: refresh token -> what oauth.v2.access (grant_type=refresh_token) answers, once
    refresh_grants: dict[str, dict[str, Any]] = field(default_factory=dict)
    client_id: str = "111.222"
    client_secret: str = "oauth-client-secret"
    # Block Kit or phone-width problems in what the app sent: stop() fails the test with them
    violations: list[str] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ts: int = 0
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> MockSlack:
        mock = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8")
                ctype = self.headers.get("Content-Type") or ""
                args: dict[str, Any]
                if ctype.startswith("application/json"):
                    args = json.loads(raw) if raw else {}
                else:
                    args = dict(parse_qsl(raw, keep_blank_values=True))
                    # WebClient form-encodes list arguments as JSON strings
                    for key in ("blocks", "view", "attachments", "unfurls"):
                        if isinstance(args.get(key), str):
                            args[key] = json.loads(args[key])
                auth = self.headers.get("Authorization") or ""
                token = auth.removeprefix("Bearer ") if auth else args.get("token")
                path = self.path.partition("?")[0]
                method = "response_url" if path.startswith("/response/") else path.removeprefix("/api/")
                with mock._lock:
                    dropped = mock.drop.get(method, 0) > 0
                    if dropped:
                        mock.drop[method] -= 1
                        mock.calls.append(Call(method, args, token, path, 0))
                if dropped:  # a connection lost mid-call: no status line at all
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                status, body = mock._answer(path, args, token)
                data = json.dumps(body).encode()
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", str(mock.retry_after_s))
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self.violations:
            raise AssertionError("the app sent Slack what it rejects or a phone wraps:\n" + "\n".join(self.violations))

    def _check(self, method: str, args: dict[str, Any]) -> str | None:
        """Slack's checks on a message or view (and the phone-width rule); the error code Slack gives."""
        errors: list[str] = []
        if isinstance(args.get("view"), dict):
            errors += view_errors(args["view"])
            errors += phone_errors(args["view"].get("blocks") or [])
        if isinstance(args.get("blocks"), list):
            errors += block_errors(args["blocks"])
            errors += phone_errors(args["blocks"], args.get("text"))
            if not args.get("text"):
                errors.append("no fallback text")
        if isinstance(args.get("unfurls"), dict):
            for unfurl in args["unfurls"].values():
                errors += block_errors(unfurl.get("blocks") or [])
                errors += phone_errors(unfurl.get("blocks") or [])
        if len(str(args.get("text") or "")) > 40000:
            errors.append("text over 40,000 characters")
        if not errors:
            return None
        with self._lock:
            self.violations += [f"{method}: {e}" for e in errors]
        return "invalid_blocks"

    @property
    def base(self) -> str:
        assert self._server is not None, "start() the mock first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    def response_url(self, name: str = "cmd") -> str:
        return f"{self.base}/response/{name}"

    # -- answers ---------------------------------------------------------------------------
    def _next_ts(self) -> str:
        with self._lock:
            self._ts += 1
            return f"1700000000.{self._ts:06d}"

    def _injected(self, method: str, channel: Any) -> int:
        """The status a told-to-fail call gets (429 or 500), else 200; counts the failure down."""
        with self._lock:
            for table, status in ((self.rate_limit, 429), (self.server_errors, 500)):
                for key in (f"{method} {channel}", method):
                    if table.get(key, 0) > 0:
                        table[key] -= 1
                        return status
        return 200

    def _answer(self, path: str, args: dict[str, Any], token: str | None) -> tuple[int, dict[str, Any]]:
        if path.startswith("/response/"):
            status = self._injected("response_url", None)
            self._record(Call("response_url", args, token, path, status))
            if status != 200:
                return status, {"ok": False}
            if self._check("response_url", args):
                return 400, {"ok": False, "error": "invalid_blocks"}
            return 200, {"ok": True}
        if not path.startswith("/api/"):
            return 404, {"ok": False, "error": "unknown_path"}
        method = path.removeprefix("/api/")
        status = self._injected(method, args.get("channel"))
        self._record(Call(method, args, token, path, status))
        if status == 429:
            return 429, {"ok": False, "error": "ratelimited"}
        if status == 500:
            return 500, {"ok": False, "error": "internal_error"}
        if method == "oauth.v2.access":
            return 200, self._oauth_access(args, token)
        if not token:
            return 200, {"ok": False, "error": "not_authed"}
        if method in self.fail:
            return 200, {"ok": False, "error": self.fail[method]}
        channel = args.get("channel")
        if method in ("chat.postMessage", "chat.postEphemeral", "chat.update"):
            if channel in self.private:
                return 200, {"ok": False, "error": "not_in_channel"}
            if channel in self.missing or not channel:
                return 200, {"ok": False, "error": "channel_not_found"}
        if method == "auth.test":
            return 200, {
                "ok": True,
                "url": "https://vram-test.slack.com/",
                "team": "vram test",
                "user": "vram",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
                "is_enterprise_install": False,
            }
        if method == "apps.connections.open":
            if not self.socket_url:
                return 200, {"ok": False, "error": "invalid_auth"}
            return 200, {"ok": True, "url": self.socket_url}
        # Every message, view and unfurl is checked: what Slack would refuse, and what a phone would wrap.
        invalid = self._check(method, args)
        if invalid:
            return 200, {"ok": False, "error": invalid}
        if method == "chat.postMessage":
            ts = self._next_ts()
            message = {
                "type": "message",
                "user": BOT_USER_ID,
                "bot_id": BOT_ID,
                "ts": ts,
                "text": args.get("text", ""),
                "blocks": args.get("blocks", []),
            }
            if args.get("thread_ts"):
                message["thread_ts"] = args["thread_ts"]
            return 200, {"ok": True, "channel": channel, "ts": ts, "message": message}
        if method == "chat.postEphemeral":
            return 200, {"ok": True, "message_ts": self._next_ts()}
        if method == "views.publish":
            return 200, {"ok": True, "view": {"id": "V0001", **(args.get("view") or {})}}
        if method in ("views.open", "views.update", "views.push"):
            return 200, {"ok": True, "view": {"id": args.get("view_id") or "V0002", **(args.get("view") or {})}}
        if method in ("chat.update", "chat.delete"):
            return 200, {"ok": True, "channel": channel, "ts": args.get("ts")}
        return 200, {"ok": True}

    def _oauth_access(self, args: dict[str, Any], auth: str | None) -> dict[str, Any]:
        """``oauth.v2.access``: a known code, from the right client (form fields or HTTP Basic), once."""
        client = (args.get("client_id"), args.get("client_secret"))
        if auth and auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
            client = (client_id, secret)
        if client != (self.client_id, self.client_secret):
            return {"ok": False, "error": "invalid_client_id"}
        with self._lock:
            if args.get("grant_type") == "refresh_token":
                granted = self.refresh_grants.pop(str(args.get("refresh_token")), None)
                if granted is None:
                    return {"ok": False, "error": "invalid_refresh_token"}
                return {"ok": True, **granted}
            granted = self.oauth_codes.pop(str(args.get("code")), None)
        if granted is None:
            return {"ok": False, "error": "invalid_code"}
        return {"ok": True, **granted}

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    # -- assertions helpers ----------------------------------------------------------------
    def of(self, method: str, *, failed: bool = False) -> list[Call]:
        """The recorded calls of one method that succeeded (or, with ``failed``, those told to fail)."""
        with self._lock:
            return [c for c in self.calls if c.method == method and (c.status != 200) == failed]

    def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """Wait until ``count`` calls of ``method`` arrived; return them (fails the test if not)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.of(method)
            if len(got) >= count:
                return got
            time.sleep(0.01)
        raise AssertionError(f"expected {count} {method} call(s), got {len(self.of(method))}: {self.calls}")

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()


# -- what Slack sends: signed requests ------------------------------------------------------------
def sign(secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """Slack's v0 request signature headers for ``body`` (HMAC-SHA256 of ``v0:<ts>:<body>``)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


@dataclass(frozen=True)
class Sent:
    status: int
    body: str
    seconds: float  # how long the app took to answer (the ack)


@dataclass
class SlackSender:
    """Sends the app what Slack sends: form-encoded slash commands and JSON event callbacks."""

    url: str  # the app's POST /slack/events
    secret: str
    mock: MockSlack
    team: str = TEAM_ID
    _n: int = 0

    def post(
        self,
        body: str,
        content_type: str,
        *,
        headers: dict[str, str] | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> Sent:
        all_headers = {"Content-Type": content_type, **sign(secret or self.secret, body, timestamp)}
        all_headers.update(headers or {})
        req = urllib.request.Request(self.url, data=body.encode(), headers=all_headers, method="POST")
        start = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return Sent(resp.status, resp.read().decode(), time.monotonic() - start)
        except urllib.error.HTTPError as err:
            return Sent(err.code, err.read().decode(), time.monotonic() - start)

    def command(
        self, text: str, *, channel: str = "C0001", user: str = "U0001", channel_name: str = "general", **kw: Any
    ) -> Sent:
        self._n += 1
        fields = {
            "token": "legacy-verification-token",
            "team_id": self.team,
            "team_domain": "vram-test",
            "channel_id": channel,
            "channel_name": channel_name,
            "user_id": user,
            "user_name": user.lower(),
            "command": "/vram",
            "text": text,
            "api_app_id": "A0001",
            "is_enterprise_install": "false",
            "response_url": self.mock.response_url(f"cmd{self._n}"),
            "trigger_id": f"trigger.{self._n}",
        }
        return self.post(urlencode(fields), "application/x-www-form-urlencoded", **kw)

    def event(self, event: dict[str, Any], *, event_id: str | None = None, retry: int | None = None, **kw: Any) -> Sent:
        self._n += 1
        payload = {
            "token": "legacy-verification-token",
            "team_id": self.team,
            "api_app_id": "A0001",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{self._n:08d}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
        }
        headers = dict(kw.pop("headers", None) or {})
        if retry is not None:
            headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
        return self.post(json.dumps(payload), "application/json", headers=headers, **kw)

    def interactive(self, payload: dict[str, Any], **kw: Any) -> Sent:
        """An interactivity request as Slack sends it: ``payload=<json>``, form-encoded and signed."""
        self._n += 1
        payload = {
            "token": "legacy-verification-token",
            "api_app_id": "A0001",
            "team": {"id": self.team, "domain": "vram-test"},
            "is_enterprise_install": False,
            **payload,
        }
        return self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded", **kw)

    def click(
        self,
        message: dict[str, Any],
        action: dict[str, Any],
        *,
        channel: str = "C0001",
        user: str = "U0001",
        ephemeral: bool = False,
        **kw: Any,
    ) -> Sent:
        """A ``block_actions`` click on one element of a message the bot posted (``message`` as posted)."""
        self._n += 1
        container = {
            "type": "message",
            "message_ts": message.get("ts", "0"),
            "channel_id": channel,
            "is_ephemeral": ephemeral,
        }
        payload = {
            "type": "block_actions",
            "user": {"id": user, "team_id": self.team},
            "container": container,
            "trigger_id": f"trigger.{self._n}",
            "channel": {"id": channel, "name": "general"},
            "response_url": self.mock.response_url(f"action{self._n}"),
            "actions": [action],
        }
        if not ephemeral:
            payload["message"] = message
        return self.interactive(payload, **kw)

    def message(
        self,
        text: str,
        *,
        channel: str = "C0001",
        user: str = "U0001",
        ts: str | None = None,
        thread_ts: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """A ``message`` event as Slack delivers a human's post (add bot_id/subtype via ``extra``)."""
        self._n += 1
        event: dict[str, Any] = {
            "type": "message",
            "channel": channel,
            "user": user,
            "text": text,
            "ts": ts or f"1800000000.{self._n:06d}",
            "channel_type": "channel",
            "event_ts": ts or f"1800000000.{self._n:06d}",
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        event.update(extra)
        return event


# -- Socket Mode: Slack's WebSocket end -----------------------------------------------------------
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _ws_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One unmasked server-to-client frame (RFC 6455)."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + n.to_bytes(2, "big")
    else:
        head += bytes([127]) + n.to_bytes(8, "big")
    return head + payload


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def slash_command_envelope(slack: MockSlack, text: str, *, envelope_id: str = "env-1") -> dict[str, Any]:
    """A ``/vram`` slash command as Socket Mode delivers it (from U0001 in #general of T0001)."""
    return {
        "envelope_id": envelope_id,
        "type": "slash_commands",
        "accepts_response_payload": True,
        "payload": {
            "team_id": "T0001",
            "channel_id": "C0001",
            "channel_name": "general",
            "user_id": "U0001",
            "command": "/vram",
            "text": text,
            "response_url": slack.response_url("sock"),
            "trigger_id": "t.1",
        },
    }


@dataclass
class MockSocketMode:
    """A WebSocket server that speaks Socket Mode: says hello, sends envelopes, records the acks."""

    acks: list[dict[str, Any]] = field(default_factory=list)
    _conns: list[socket.socket] = field(default_factory=list)
    _listener: socket.socket | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _send_lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> MockSocketMode:
        self._listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self._listener is not None
        return f"ws://127.0.0.1:{self._listener.getsockname()[1]}/link/?ticket=test"

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            for conn in self._conns:
                conn.close()

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            request = b""
            while b"\r\n\r\n" not in request:
                request += _recv_exact(conn, 1)
            headers = {}
            for line in request.decode().split("\r\n")[1:]:
                if ":" in line:
                    key, value = line.split(":", 1)
                    headers[key.strip().lower()] = value.strip()
            accept = base64.b64encode(
                hashlib.sha1((headers["sec-websocket-key"] + _WS_GUID).encode()).digest()
            ).decode()
            conn.sendall(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode()
            )
            hello = {
                "type": "hello",
                "num_connections": 1,
                "connection_info": {"app_id": "A0001"},
                "debug_info": {"host": "mock", "approximate_connection_time": 3600},
            }
            with self._send_lock:
                conn.sendall(_ws_frame(json.dumps(hello).encode()))
            with self._lock:
                self._conns.append(conn)
            while True:
                b0, b1 = _recv_exact(conn, 2)
                opcode, n = b0 & 0x0F, b1 & 0x7F
                if n == 126:
                    n = int.from_bytes(_recv_exact(conn, 2), "big")
                elif n == 127:
                    n = int.from_bytes(_recv_exact(conn, 8), "big")
                mask = _recv_exact(conn, 4) if b1 & 0x80 else b"\0\0\0\0"
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(_recv_exact(conn, n)))
                if opcode == 0x1:
                    with self._lock:
                        self.acks.append(json.loads(payload))
                elif opcode == 0x9:  # ping -> pong
                    with self._send_lock:
                        conn.sendall(_ws_frame(payload, 0xA))
                elif opcode == 0x8:
                    return
        except (OSError, ConnectionError, KeyError, ValueError):
            return
        finally:
            conn.close()

    def wait_connected(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._conns:
                    return
            time.sleep(0.01)
        raise AssertionError("no Socket Mode client connected")

    def send(self, envelope: dict[str, Any]) -> None:
        """Send an envelope to the newest connection, as Slack pushes a command or an event."""
        with self._lock:
            conn = self._conns[-1]
        with self._send_lock:
            conn.sendall(_ws_frame(json.dumps(envelope).encode()))

    def wait_ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for ack in self.acks:
                    if ack.get("envelope_id") == envelope_id:
                        return ack
            time.sleep(0.01)
        raise AssertionError(f"envelope {envelope_id} was not acknowledged: {self.acks}")
