"""The ``vram`` terminal command: the same grammar as ``/vram``, printed as a table or JSON.

    vram <model>[@rev] [key=value ...] [--json]     one estimate (model id, config.json or folder)
    vram                                            asks the questions one at a time
    vram gpus | help | history [model] [mine] [--limit N] [--json] | show <id> [<model>] [key=value ...] [--json]
    vram compare <model> <model> [key=value ...]
    vram "can Qwen/Qwen3-8B run 32k for 4 users on an L4?"   a question in plain words (one argument)
    vram serve                                      the Slack app
    vram db upgrade                                 apply the database migrations
    vram --version                                  the installed version (--json: {"vram_version": ...})

Exit status: 0 success (an answer, a guessed total included: read --json's fit and refusal for the verdict),
2 invalid input, 1 anything else; errors are one sentence on stderr (with --json also an error object on stdout).
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from rich.console import Console
from rich.text import Text

from bot import render_text, report
from bot.commands import GpusCmd, HelpCmd, limit_value, parse
from bot.console import make_console, plain
from bot.echo import neutral
from bot.names import model_name, shorten_paths
from bot.question import is_question
from bot.service import (
    CompareReply,
    ErrorReply,
    EstimateReply,
    GpusReply,
    HelpReply,
    HistoryReply,
    Reply,
    Service,
    ShowReply,
    stored_estimate,
)
from bot.settings import Settings, load_settings
from common.errors import InputError, StoreError, VramError
from estimator.result import SCHEMA_VERSION, Estimate
from sources import make_resolver
from store.records import Conversation

log = logging.getLogger("vram")


def _fail(message: str, code: int, err: TextIO, *, json_out: TextIO | None = None, error_code: str = "error") -> int:
    """The error's one sentence on stderr, always after "vram: "; with --json (``json_out``) also
    ``{"error": {"code", "message", "exit_code"}}`` on stdout, so a script reads JSON either way."""
    # The sentence may echo what was typed: a 3,000-digit number or model id is cut as Slack cuts it.
    text = neutral(plain(message))
    # A sentence that names vram itself ("vram does not model ...") keeps one "vram" before its verb.
    print(f"vram: {text.removeprefix('vram ')}", file=err)
    if json_out is not None:
        error = {"code": error_code, "message": text, "exit_code": code}
        print(json.dumps({"error": error}, indent=2), file=json_out)
    return code


def _take_flags(argv: Sequence[str]) -> tuple[list[str], bool, int]:
    """Split off --json and --limit N; everything else is grammar."""
    words: list[str] = []
    as_json, limit = False, 20
    it = iter(argv)
    for word in it:
        if word == "--json":
            as_json = True
        elif word == "--limit" or word.startswith("--limit="):
            limit = limit_value(word.partition("=")[2] if "=" in word else next(it, ""))
        elif word.startswith("--") and word not in ("--help", "--version"):
            raise InputError(f'unknown option "{word}": the options are --json, --limit N, --help and --version')
        else:
            words.append(word)
    return words, as_json, limit


def _open_store(settings: Settings, *, upgrade: bool = False) -> Any:
    """The history store, at the current schema; None (history off, logged) when it cannot be opened."""
    from sqlalchemy.exc import SQLAlchemyError

    from store import Store, default_database_url

    url = settings.database_url or default_database_url()
    try:
        store = Store(url)
        # Created on first use; an up-to-date database costs one SELECT, not a migration run.
        store.upgrade() if upgrade else store.ensure_schema()
        return store
    except (StoreError, SQLAlchemyError) as err:
        # SQLAlchemyError: a DATABASE_URL naming an unknown dialect fails in create_engine itself.
        log.warning("history is off: %s", err)
        return None


def _needs_store(words: Sequence[str]) -> bool:
    """Whether a command line uses the history database: help and gpus answer without it."""
    try:
        cmd = parse(" ".join(words))
    except InputError:
        return True  # invalid input is kept in the history too
    return not isinstance(cmd, HelpCmd | GpusCmd)


def build_service(settings: Settings, *, with_store: bool = True) -> Service:
    """The service wired from settings: the resolver (with the store's persistent Hub cache) and the store."""
    store = _open_store(settings) if with_store else None
    resolver = make_resolver(settings, store_cache=store.hub_cache() if store else None)
    return Service(store=store, resolver=resolver)


def _print_show(reply: ShowReply, *, as_json: bool, console: Console, out: TextIO) -> int:
    """One stored answer as it was given: an estimate, a failure, or both sides of a comparison."""
    record = reply.record
    sides = reply.sides
    pair = [stored_estimate(side) for side in sides] if sides else []
    if as_json:
        if sides and pair[0] is not None and pair[1] is not None:
            # A comparison, as `compare --json` printed it: a list of two.
            data: Any = [
                report.estimate_json(e, record_id=side.id, what_if_of=side.parent_id)
                for e, side in zip(pair, sides, strict=True)
                if e
            ]
        elif reply.estimate is None:
            # A stored failure: what was typed and why it failed (showing it succeeds).
            data = {
                "schema_version": SCHEMA_VERSION,
                "vram_version": report.vram_version(),
                "id": record.id,
                "status": record.status,
                "error": record.error,
                "text": record.text,
            }
            if record.parent_id is not None:
                data["what_if_of"] = record.parent_id
        else:
            data = report.estimate_json(reply.estimate, record_id=record.id, what_if_of=record.parent_id)
            # A question in plain words: how it was read and its answer, as when it was asked.
            from bot import ask

            data.update(ask.stored_question_json(record.text, reply.estimate) or {})
        print(json.dumps(data, indent=2), file=out)
        return 0
    ids = " and ".join(f"#{side.id}" for side in sides) if sides else f"#{record.id}"
    parents = sorted({side.parent_id for side in (sides or (record,)) if side.parent_id is not None})
    of = f"what-if of {' and '.join(f'#{p}' for p in parents)}: " if parents else ""
    console.print(
        f"{ids} · {record.created_at:%Y-%m-%d %H:%M} UTC · {of}{shorten_paths(record.text)}",
        markup=False,
        highlight=False,
    )
    if sides and pair[0] is not None and pair[1] is not None:
        console.print(render_text.compare_title(pair[0]), soft_wrap=True)
        console.print(render_text.compare_table(pair[0], pair[1]))
        for line in render_text.compare_warnings(pair[0], pair[1]):
            console.print(Text(line, style="yellow"))
        return 0
    if reply.estimate is None:
        # Showing a stored failure succeeds (as with --json): the sentence is the record's content.
        console.print(
            f"failed: {record.error or 'no estimate was stored'}", markup=False, highlight=False, soft_wrap=True
        )
        return 0
    answered = _print_question_answer(record.text, reply.estimate, console)
    render_text.print_estimate(reply.estimate, console, answered=answered)
    return 0


def _print_question_answer(text: str | None, est: Estimate, console: Console) -> bool:
    """Where ``text`` is a question in plain words, its answer line for ``est``: the stored one shown
    again, or a what-if of it answered anew; whether there was one."""
    from bot import ask

    if (line := ask.question_answer(text, est)) is None:
        return False
    console.print(line, markup=False, highlight=False, soft_wrap=True)
    return True


def _print_reply(
    reply: Reply, *, as_json: bool, console: Console, out: TextIO, err: TextIO, answered: bool = False
) -> int:
    """One reply, as text or ``--json`` (``answered``: a question's answer line is printed above it)."""
    json_out = out if as_json else None
    if isinstance(reply, ErrorReply):
        return _fail(reply.message, reply.exit_code, err, json_out=json_out, error_code=reply.code)
    if isinstance(reply, HelpReply):
        console.print(render_text.help_text(), markup=False, highlight=False)
        return 0
    if isinstance(reply, GpusReply):
        if as_json:
            print(json.dumps([g.model_dump() for g in reply.gpus], indent=2), file=out)
        else:
            console.print(render_text.gpus_table(reply.gpus))
        return 0
    if isinstance(reply, HistoryReply):
        if as_json:
            print(json.dumps(render_text.history_json(reply.records, reply.compares), indent=2), file=out)
        else:
            console.print(render_text.history_table(reply.records, reply.compares, model=reply.model))
        return 0
    if isinstance(reply, ShowReply):
        return _print_show(reply, as_json=as_json, console=console, out=out)
    if isinstance(reply, CompareReply):
        for outcome in (reply.a, reply.b):
            if outcome.error:
                return _fail(
                    outcome.error, outcome.exit_code, err, json_out=json_out, error_code=outcome.error_code or "error"
                )
        assert reply.a.estimate and reply.b.estimate
        if as_json:
            print(
                json.dumps(
                    [
                        report.estimate_json(o.estimate, record_id=o.record_id, what_if_of=o.base_id)
                        for o in (reply.a, reply.b)
                        if o.estimate
                    ],
                    indent=2,
                ),
                file=out,
            )
        else:
            for o in (reply.a, reply.b):
                if o.base is not None and o.estimate is not None:
                    line = report.what_if_line(o.base_id, list(o.changes), o.base, o.estimate)
                    line = f"{model_name(o.estimate.model)}: {line}"
                    console.print(line, markup=False, highlight=False, soft_wrap=True)
            console.print(render_text.compare_title(reply.a.estimate), soft_wrap=True)
            console.print(render_text.compare_table(reply.a.estimate, reply.b.estimate))
            for line in render_text.compare_warnings(reply.a.estimate, reply.b.estimate):
                console.print(Text(line, style="yellow"))
            kept = [o.record_id for o in (reply.a, reply.b) if o.record_id is not None]
            if kept:
                # Either id replays the comparison (show).
                console.print(f"[dim]kept as {' and '.join(f'#{i}' for i in kept)}: vram show {kept[0]}[/dim]")
        return 0
    if isinstance(reply, EstimateReply):
        outcome = reply.outcome
        if outcome.error or outcome.estimate is None:
            return _fail(
                outcome.error or "no estimate",
                outcome.exit_code or 1,
                err,
                json_out=json_out,
                error_code=outcome.error_code or "error",
            )
        if as_json:
            data = report.estimate_json(outcome.estimate, record_id=outcome.record_id, what_if_of=outcome.base_id)
            if outcome.question_text:
                from bot import ask

                # A what-if of a question in plain words: the question answered anew, as the text says it
                # (not how it was read: the what-if changed that).
                asked = ask.stored_question_json(outcome.question_text, outcome.estimate) or {}
                data.update({k: v for k, v in asked.items() if k != "read_as"})
            print(json.dumps(data, indent=2), file=out)
        elif outcome.estimate.query.method == "classic":
            for line in render_text.classic_text(outcome.estimate):
                print(line, file=out)
        else:
            if outcome.base is not None:
                from bot import ask

                # A what-if (show 42 s=64k): which query it changed and how, as a thread reply says it.
                line = report.what_if_line(
                    outcome.base_id,
                    list(outcome.changes),
                    outcome.base,
                    outcome.estimate,
                    fit_change=not ask.asks_a_limit(outcome.question_text),
                )
                console.print(line, markup=False, highlight=False, soft_wrap=True)
                answered = _print_question_answer(outcome.question_text, outcome.estimate, console) or answered
            elif outcome.base_id is not None:
                # A what-if of a query that failed: what it changed, with no answer to compare against.
                what = ", ".join(f"{k}={report.setting_value(k, outcome.estimate.query)}" for k in outcome.changes)
                line = f"what-if of #{outcome.base_id}: {what or 'nothing changed'} (#{outcome.base_id} had no answer)"
                console.print(line, markup=False, highlight=False, soft_wrap=True)
            render_text.print_estimate(outcome.estimate, console, answered=answered)
            if outcome.record_id is not None:
                console.print(f"[dim]kept as #{outcome.record_id}: vram show {outcome.record_id}[/dim]")
        if outcome.note:
            print(f"vram: {neutral(outcome.note)}", file=err)
        return 0
    raise AssertionError(f"unhandled reply {reply!r}")


def run(
    argv: Sequence[str],
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    read: Callable[[str], str] | None = None,
    settings: Settings | None = None,
) -> int:
    """Run one ``vram`` command line; returns the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    console = make_console(out)
    # Known before the flags are read, so that an invalid option still gets its JSON error object.
    as_json = "--json" in argv
    try:
        words, as_json, limit = _take_flags(argv)
        if words == ["--version"]:
            version = report.vram_version()
            print(
                json.dumps({"vram_version": version}) if as_json else f"vram {version or '(not installed)'}", file=out
            )
            return 0
        settings = settings or load_settings()
        if words[:1] == ["serve"]:
            from bot.serve import serve

            serve(settings)
            return 0
        if words[:1] == ["db"]:
            if words[1:] != ["upgrade"]:
                raise InputError("the db command is `vram db upgrade`")
            store = _open_store(settings, upgrade=True)
            if store is None:
                return _fail(
                    "could not open the database: check DATABASE_URL",
                    1,
                    err,
                    json_out=out if as_json else None,
                    error_code="store",
                )
            print("database is up to date", file=out)
            return 0
        if words and not words[0].strip():
            # An empty argument is a model left out (an unset shell variable), not a request for help.
            raise InputError(
                "the model is empty: give a Hub repo id (microsoft/phi-4), a config.json, a model folder or a GGUF file"
            )
        asked = not words
        if asked:
            from bot import prompt

            words = prompt.ask_questions(read or prompt.terminal_reader(err=err), lambda line: print(line, file=err))
        service = build_service(settings, with_store=_needs_store(words))
        who = Conversation(platform="cli", user=_local_user(settings))
        # A quoted question, alone or with key=value settings after it (vram "will X fit ..." mtp=2).
        if " " in words[0].strip() and all("=" in w and " " not in w for w in words[1:]):
            text = " ".join(words)
            if is_question(text):
                return _question(text, service, who, settings, as_json=as_json, console=console, out=out, err=err)
        if words[0].lower() == "history":
            rest = [w for w in words[1:] if w.lower() != "mine"]
            if len(rest) > 1:
                raise InputError(f'history takes one model filter at most (got "{rest[1]}")')
            # The table's limit counts its rows; --json lists every record, so there it counts records.
            reply: Reply = service.history(who, model=rest[0] if rest else None, limit=limit, rows=not as_json)
        else:
            reply = service.run(" ".join(words), who)
        code = _print_reply(reply, as_json=as_json, console=console, out=out, err=err)
        if asked and not as_json and isinstance(reply, EstimateReply) and reply.outcome.estimate:
            # The original calculator's six lines for the same answers, under the estimate.
            print("\n".join(prompt.classic_block(reply.outcome.estimate)), file=out)
        return code
    except VramError as error:
        return _fail(str(error), error.exit_code, err, json_out=out if as_json else None, error_code=error.code)
    except (EOFError, KeyboardInterrupt):
        return _fail("cancelled", 1, err, json_out=out if as_json else None, error_code="cancelled")


def _question(
    text: str,
    service: Service,
    who: Conversation,
    settings: Settings,
    *,
    as_json: bool,
    console: Console,
    out: TextIO,
    err: TextIO,
) -> int:
    """A question in plain words (one quoted argument): how it was read, then the answer."""
    from bot import ask
    from sources import make_search

    search = make_search(settings, store_cache=service.hub_cache())
    ans = ask.answer(text, service=service, who=who, search=search)
    if as_json and ans.outcome.estimate is not None:
        print(json.dumps(ask.to_json(ans), indent=2), file=out)
        return 0
    if as_json:  # stdout holds the error object alone
        return _print_reply(EstimateReply(outcome=ans.outcome), as_json=True, console=console, out=out, err=err)
    for line in ask.intro_lines(ans):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if ans.outcome.estimate is not None:
        console.print(ask.headline(ans.outcome.estimate, ans.question), markup=False, highlight=False)
    return _print_reply(
        EstimateReply(outcome=ans.outcome), as_json=as_json, console=console, out=out, err=err, answered=True
    )


def _local_user(settings: Settings) -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return settings.user or "local"


def main() -> None:
    """Console-script entry point."""
    try:
        settings = load_settings()
    except VramError as error:
        # A script that asked for --json reads the error as JSON here too.
        json_out = sys.stdout if "--json" in sys.argv[1:] else None
        raise SystemExit(
            _fail(str(error), error.exit_code, sys.stderr, json_out=json_out, error_code=error.code)
        ) from None
    logging.basicConfig(level=settings.vram_log_level or "WARNING", format="%(levelname)s %(name)s: %(message)s")
    try:
        code = run(sys.argv[1:], settings=settings)
        sys.stdout.flush()
    except BrokenPipeError:
        # `vram ... --json | head`: the reader left; that is not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 0
    raise SystemExit(code)


__all__ = ["build_service", "main", "run"]


if __name__ == "__main__":
    main()
