"""Load on real ``vram serve`` processes: N signed slash commands at C concurrency (a script, not a test).

Each command asks for an estimate in a channel of its own, so every answer (a ``chat.postMessage`` to the
mock Slack) and every stored query can be counted per command. Reports lost acks (no HTTP 200), ack
latency percentiles, commands answered exactly once, and queries stored exactly once.

    .venv/bin/python bench/bench_serve.py --n 1000 --concurrency 100                  # one replica, SQLite
    .venv/bin/python bench/bench_serve.py --n 1000 --concurrency 100 --replicas 2 --postgres

The mock Slack (tests/mockslack.py) and the fake Hub (tests/fakehub.py) run in this process; the
replicas are ``vram serve`` subprocesses on 127.0.0.1. Postgres: ``TEST_DATABASE_URL`` or the local
default; a fresh schema is made and dropped.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from tests.fakehub import standard_hub  # noqa: E402
from tests.mockslack import MockSlack, sign  # noqa: E402

SECRET = "bench-signing-secret"
MODEL = "Qwen/Qwen3-0.6B"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_replica(env: dict[str, str], log_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main()", "serve"],
        cwd=ROOT,
        env={**env, "PORT": str(port)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, port
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"vram serve did not start: {log_path.read_text()}") from None
            time.sleep(0.1)


class AnswerClock:
    """When each channel's first answer reached the mock Slack (polled every 20 ms)."""

    def __init__(self, slack: MockSlack) -> None:
        self.slack = slack
        self.seen: dict[str, float] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True, name="answer-clock")
        self._thread.start()

    def _poll(self) -> None:
        read = 0
        while not self._done.wait(0.02):
            calls = self.slack.calls[read:]
            read += len(calls)
            stamp = time.monotonic()
            for call in calls:
                if call.method == "chat.postMessage":
                    self.seen.setdefault(str(call.args.get("channel")), stamp)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def send(port: int, response_url: str, n: int) -> tuple[int, float, float]:
    """One signed slash command in channel C<n>: (HTTP status or 0 for a failed connection, start, seconds)."""
    body = urlencode(
        {
            "team_id": "T0001",
            "channel_id": f"C{n:06d}",
            "channel_name": f"bench-{n}",
            "user_id": f"U{n % 97:04d}",
            "command": "/vram",
            "text": f"{MODEL} s=4k",
            "response_url": response_url,
            "trigger_id": f"t.{n}",
        }
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(SECRET, body)}
    start = time.monotonic()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/slack/events", body=body, headers=headers)
        status = conn.getresponse().status
        conn.close()
    except OSError:
        status = 0
    return status, start, time.monotonic() - start


def burst(ports: list[int], response_urls: list[str], concurrency: int) -> list[tuple[int, float, float]]:
    """Every command, ``concurrency`` at a time, round-robin over the replicas (in the client process)."""
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(lambda i: send(ports[i % len(ports)], response_urls[i], i), range(len(response_urls))))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(n: int, concurrency: int, replicas: int, postgres: bool) -> dict[str, object]:
    # Slack's and the Hub's servers do not drop connections: a listen backlog of 5 (socketserver's
    # default) made the answers' posts wait for SYN retransmits (1 s) under the burst.
    ThreadingHTTPServer.request_queue_size = 1024
    slack = MockSlack().start()
    hub = standard_hub().start()
    workdir = Path(tempfile.mkdtemp(prefix="vram-bench-serve-"))
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = None
    if postgres:
        base = os.environ.get("TEST_DATABASE_URL") or PG_DEFAULT
        admin = create_engine(base, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
    else:
        url = f"sqlite:///{workdir / 'vram.sqlite3'}"
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
        "DATABASE_URL": url,
        "HF_ENDPOINT": hub.url,
        "VRAM_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("SLACK_APP_TOKEN", None)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # Replicas start one after the other (the first applies the migrations).
        ports = []
        for i in range(replicas):
            proc, port = start_replica(env, workdir / f"replica{i}.log")
            procs.append(proc)
            ports.append(port)
        clock = AnswerClock(slack)
        # The client runs in a process of its own: in this one, its threads would share one GIL with the
        # mock Slack and the fake Hub, and the time they wait for it would count as ack latency.
        with multiprocessing.get_context("spawn").Pool(1) as client:
            urls = [slack.response_url(f"cmd{i}") for i in range(n)]
            client.apply(time.monotonic)  # started and imported before the clock starts
            start = time.monotonic()
            results = client.apply(burst, (ports, urls, concurrency))
        sent_s = time.monotonic() - start
        sent_at = {f"C{i:06d}": began for i, (_, began, _) in enumerate(results)}
        acked = [s for status, _, s in results if status == 200]
        # Every acked command should get its answer: wait until they stop coming.
        deadline = time.monotonic() + 180
        last, still = -1, 0
        while time.monotonic() < deadline:
            got = len(slack.of("chat.postMessage")) + len(slack.of("response_url"))
            if got >= len(acked):
                break
            still = still + 1 if got == last else 0
            if still > 100:  # 10 s without a new answer
                break
            last = got
            time.sleep(0.1)
        time.sleep(0.05)
        clock.stop()
        # From sending a command to its answer's arrival (20 ms resolution).
        answer_s = [clock.seen[ch] - t for ch, t in sent_at.items() if ch in clock.seen]
        answers = Counter(c.args.get("channel") for c in slack.of("chat.postMessage"))
        errors = len(slack.of("response_url"))
        engine = create_engine(url, poolclass=NullPool)
        with engine.connect() as conn:
            stored = Counter(r[0] for r in conn.execute(text("SELECT channel_id FROM queries")))
        engine.dispose()
        return {
            "n": n,
            "concurrency": concurrency,
            "replicas": replicas,
            "database": "postgres" if postgres else "sqlite",
            "lost": n - len(acked),
            "statuses": dict(Counter(str(status) for status, _, _ in results)),
            "ack_p50_ms": round(1000 * statistics.median(acked), 1) if acked else None,
            "ack_p95_ms": round(1000 * percentile(acked, 0.95), 1) if acked else None,
            "ack_p99_ms": round(1000 * percentile(acked, 0.99), 1) if acked else None,
            "ack_max_ms": round(1000 * max(acked), 1) if acked else None,
            "acks_over_3s": sum(1 for s in acked if s >= 3.0),
            "answer_p50_s": round(statistics.median(answer_s), 2) if answer_s else None,
            "answer_p99_s": round(percentile(answer_s, 0.99), 2) if answer_s else None,
            "answer_max_s": round(max(answer_s), 2) if answer_s else None,
            "answered_once": sum(1 for c in answers.values() if c == 1),
            "answered_twice_or_more": sum(1 for c in answers.values() if c > 1),
            "error_answers": errors,
            "stored_once": sum(1 for c in stored.values() if c == 1),
            "stored_twice_or_more": sum(1 for c in stored.values() if c > 1),
            "send_seconds": round(sent_s, 2),
        }
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        slack.stop()
        hub.stop()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--postgres", action="store_true", help="share one Postgres (default: one SQLite file)")
    args = parser.parse_args()
    if args.replicas > 1 and not args.postgres:
        parser.error("several replicas need --postgres (SQLite is for one replica)")
    print(json.dumps(run(args.n, args.concurrency, args.replicas, args.postgres), indent=2))


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
