"""The front-end service the terminal and Slack share: parse, resolve, estimate, store.

No Slack and no printing here: each front end renders the :data:`Reply` it gets back.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import Field, ValidationError

from bot.commands import (
    CompareCmd,
    EstimateCmd,
    GpusCmd,
    HelpCmd,
    HistoryCmd,
    ShowCmd,
    parse,
    parse_changes,
    split_words,
)
from bot.question import read_change, read_reply, thread_question
from bot.report import is_input_mistake, setting_value
from common.errors import InputError, StoreError, VramError
from estimator.draft import check_speculative_settings, draft_method
from estimator.engines import get_engine
from estimator.estimate import estimate
from estimator.gpus import GPU, catalog
from estimator.grammar import KEYS, is_default, parse_model, query_with
from estimator.query import Query
from estimator.result import Estimate
from estimator.spec import Frozen
from sources import Opens
from sources.local import is_local_reference
from sources.model import drafter_of
from sources.model_search import ModelSearch
from store.records import MODEL_LEN, Conversation, NewQuery, QueryRecord

log = logging.getLogger(__name__)

NOT_SAVED = "not saved to history: the database did not answer"
MAX_HISTORY = 1000  # records one listing reads at most (the store's own limit)
SIDES_APART_S = 600  # the two sides of a comparison are estimated one after the other


class Outcome(Frozen):
    """One estimate (or its failure), as stored."""

    text: str
    record_id: int | None = None
    estimate: Estimate | None = None
    error: str | None = None
    exit_code: int = 0
    error_code: str | None = None  # the error's kind (VramError.code), for --json's error object
    saved: bool = False
    note: str | None = None  # e.g. NOT_SAVED
    base: Estimate | None = None  # what-if: the estimate it changed
    base_id: int | None = None  # what-if: the stored query it changed
    # what-if: a question in plain words whose answer line leads it (the stored query's, or the reply's own)
    question_text: str | None = None
    changes: dict[str, str] = Field(default_factory=dict)  # what-if: key -> new value
    unused: tuple[str, ...] = ()  # what-if: the reply's words beside its key=value words, read as nothing


# "compare with X", "compare it to X", "vs X": a comparison asked in a thread, beside its answer.
_COMPARE_WITH = re.compile(
    r"(?:compare|vs\.?|versus)\s+"
    r"(?P<joined>(?:(?:it|this(?: one)?|that)\s+)?(?:with|to|against|and)\s+)?(?P<rest>\S.*)",
    re.IGNORECASE,
)


def _model_finder(search: ModelSearch | None) -> Callable[[str], str] | None:
    """The Hub id a reply's model name means, through ``search`` (None: names are not looked up)."""
    return (lambda phrase: search.find(phrase).model_id) if search is not None else None


def _model_word(query: Query) -> str:
    """A query's model as the grammar takes it back (``id@revision`` where a revision was asked)."""
    model = query.model or ""  # a stored query always names its model
    return f"{model}@{query.revision}" if query.revision else model


def unchanged_note(changes: dict[str, Any], query: Query) -> str:
    """What a reply that changes nothing is told: each setting it named, as the answer has it."""
    named = [f"`{key}={setting_value(key, query)}`" if key != "model" else f"`{query.model}`" for key in changes]
    what = ", ".join(named) or "those settings"
    return f"Nothing to change: this answer already has {what}. Reply with another value to see a what-if."


class EstimateReply(Frozen):
    kind: Literal["estimate"] = "estimate"
    outcome: Outcome


class HelpReply(Frozen):
    kind: Literal["help"] = "help"


class GpusReply(Frozen):
    kind: Literal["gpus"] = "gpus"
    gpus: tuple[GPU, ...]


class HistoryReply(Frozen):
    kind: Literal["history"] = "history"
    records: tuple[QueryRecord, ...]
    # Both sides of each comparison among ``records`` (a side may be one the model filter left out).
    compares: tuple[tuple[QueryRecord, QueryRecord], ...] = ()
    model: str | None = None
    mine: bool = False
    note: str | None = None
    direct: bool = False  # asked in a direct conversation (a DM), not a channel


class ShowReply(Frozen):
    kind: Literal["show"] = "show"
    record: QueryRecord
    estimate: Estimate | None
    # A comparison's two sides, in the order typed, when ``record`` is one of them and both are kept.
    sides: tuple[QueryRecord, QueryRecord] | None = None


class CompareReply(Frozen):
    kind: Literal["compare"] = "compare"
    a: Outcome
    b: Outcome


class ErrorReply(Frozen):
    kind: Literal["error"] = "error"
    message: str
    exit_code: int
    code: str = "error"  # the error's kind (VramError.code), for --json's error object


Reply = EstimateReply | HelpReply | GpusReply | HistoryReply | ShowReply | CompareReply | ErrorReply


class Stores(Protocol):
    def record(self, rec: NewQuery) -> QueryRecord: ...
    def get(self, query_id: int) -> QueryRecord | None: ...
    def visible(self, rec: QueryRecord, scope: Conversation) -> bool: ...
    def history(
        self,
        *,
        scope: Conversation,
        model: str | None = None,
        user: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> list[QueryRecord]: ...
    def set_posted(self, query_id: int, *, channel: str, ts: str, thread_ts: str | None) -> None: ...
    def mark_public(self, query_ids: tuple[int, ...]) -> None: ...
    def withdraw(self, query_ids: tuple[int, ...]) -> None: ...
    def latest_in_thread(self, *, team: str | None, channel: str, thread_ts: str) -> QueryRecord | None: ...
    def latest_posted(self, *, team: str | None, channel: str) -> QueryRecord | None: ...
    def posted_together(self, *, team: str | None, channel: str, ts: str) -> list[QueryRecord]: ...
    def own_queries(self, *, platform: str, workspace: str | None, user: str, limit: int = 20) -> list[QueryRecord]: ...
    def hub_cache(self) -> Any: ...


def _setting_text(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def stored_estimate(record: QueryRecord) -> Estimate | None:
    """The Estimate kept in a record (None for error records)."""
    if record.status != "ok" or not record.result:
        return None
    return Estimate.model_validate(record.result)


# Sub-commands whose input mistakes are not kept: they size nothing, so there is nothing to look back at.
_NOT_KEPT = ("show", "history", "gpus", "help")

# How far apart in id the two sides of one comparison may be (other people's queries stored between them).
_SIDE_GAP = 4
# What-ifs of what-ifs followed up to their comparison when pairing its sides in a listing.
_CHAIN_LIMIT = 16


def _asked_together(rec: QueryRecord, other: QueryRecord) -> bool:
    """Two records of one comparison (or of one what-if of it): the same text, in the same
    conversation, estimated within ``SIDES_APART_S`` of each other."""
    return (
        other.text == rec.text
        and other.conversation == rec.conversation
        and abs((other.created_at - rec.created_at).total_seconds()) <= SIDES_APART_S
    )


def _column(model: str | None) -> str | None:
    """A model id or path cut to the history's column (the full text stays in the record's text)."""
    if model is None or len(model) <= MODEL_LEN:
        return model
    return model[: MODEL_LEN - 3] + "..."


def plain_text(text: str) -> str:
    """``text`` as UTF-8 can carry it: a lone surrogate (a JSON ``\\ud800`` escape, or an undecodable
    byte of a terminal argument) becomes U+FFFD, so that the history, the replies and the terminal can
    write every character of it."""
    return _SURROGATE.sub("\ufffd", text)


_SURROGATE = re.compile("[\ud800-\udfff]")


class Service:
    """Parse, resolve, estimate and store; shared by ``vram`` and the Slack app."""

    def __init__(self, *, store: Stores | None, resolver: Opens) -> None:
        self._store = store
        self._resolver = resolver

    # -- one estimate ---------------------------------------------------------------------------

    def hub_cache(self) -> Any | None:
        """The store's plain-data Hub cache, shared by every lookup (None without a store)."""
        return self._store.hub_cache() if self._store is not None else None

    def _estimate(self, query: Query) -> Estimate:
        assert query.model is not None
        check_speculative_settings(query)
        model = self._resolver.open_model(query.model, query.revision)
        spec = model.spec
        if query.draft and "draft" in get_engine(query.engine).setting_keys:
            # Only an engine that reads draft= loads a drafter; the drafter is read like the model
            # (same source, caches and deadline rules).
            name, revision = parse_model(query.draft)
            drafter = self._resolver.open_model(name, revision)
            # The release first: one that runs no drafter of this kind says so, whatever the files hold.
            method = draft_method(drafter.model_id, drafter.resolved.config)
            get_engine(query.engine).check_drafter_method(method, drafter.model_id, query)
            spec = spec.model_copy(update={"drafter": drafter_of(drafter)})
        return estimate(spec, query, model_id=model.model_id, revision=model.revision, warnings=model.warnings)

    def preview(self, query: Query) -> Estimate:
        """One estimate, not stored (a link preview); raises :class:`VramError` as an estimate would."""
        return self._estimate(query)

    def _keep(self, who: Conversation, **fields: Any) -> tuple[int | None, str | None]:
        """Store one record; a failure never costs the user the answer, only the history line."""
        if self._store is None:
            return None, None
        try:
            rec = NewQuery(conversation=who, **fields)
            return self._store.record(rec).id, None
        except StoreError as err:
            log.error("query not saved: %s", err)
            return None, NOT_SAVED
        except ValidationError as err:
            # e.g. a local path longer than the model column: keep the answer, say it was not kept.
            log.error("query not saved: %s", err.errors()[0]["msg"])
            return None, "not saved to history: the query does not fit the history's columns"

    def estimate_query(
        self,
        query: Query,
        who: Conversation,
        *,
        text: str,
        parent_id: int | None = None,
        base: Estimate | None = None,
        changes: dict[str, str] | None = None,
        question_text: str | None = None,
        unused: tuple[str, ...] = (),
    ) -> Outcome:
        """Estimate one parsed query and store it, whatever happens."""
        est: Estimate | None = None
        error: VramError | None = None
        try:
            est = self._estimate(query)
        except VramError as err:
            error = err
        record_id, note = self._keep(
            who,
            text=text,
            params=_with_absolute_paths(query).model_dump(mode="json"),
            requested_model=_column(query.model),
            model=_column(est.model) if est else None,
            revision=est.revision if est else query.revision,
            result=est.model_dump(mode="json") if est else None,
            status="ok" if est else "error",
            error=str(error) if error else None,
            parent_id=parent_id,
        )
        return Outcome(
            text=text,
            record_id=record_id,
            estimate=est,
            error=str(error) if error else None,
            exit_code=error.exit_code if error else 0,
            error_code=error.code if error else None,
            saved=record_id is not None,
            note=note,
            base=base,
            base_id=parent_id,
            question_text=question_text if base is not None else None,
            changes=changes or {},
            unused=unused,
        )

    def _input_error(self, text: str, err: InputError, who: Conversation) -> ErrorReply:
        # An estimate's or comparison's invalid input is kept too, so people can see what they typed.
        words = split_words(text)
        if not words or words[0].lower() not in _NOT_KEPT:
            self._keep(who, text=text, status="error", error=str(err))
        return ErrorReply(message=str(err), exit_code=err.exit_code, code=err.code)

    # -- any text -------------------------------------------------------------------------------
    def run(self, text: str, who: Conversation) -> Reply:
        """Answer one line of ``/vram`` / ``vram`` text."""
        text = plain_text(text)
        try:
            cmd = parse(text)
        except InputError as err:
            return self._input_error(text, err, who)
        if isinstance(cmd, HelpCmd):
            return HelpReply()
        if isinstance(cmd, GpusCmd):
            return GpusReply(gpus=catalog())
        if isinstance(cmd, EstimateCmd):
            return EstimateReply(outcome=self.estimate_query(cmd.query, who, text=text))
        if isinstance(cmd, CompareCmd):
            return CompareReply(
                a=self.estimate_query(cmd.a, who, text=text), b=self.estimate_query(cmd.b, who, text=text)
            )
        if isinstance(cmd, HistoryCmd):
            return self.history(who, model=cmd.model, mine=cmd.mine, limit=cmd.limit)
        if isinstance(cmd, ShowCmd):
            if cmd.changes:
                return self.show_what_if(cmd.record_id, " ".join(cmd.changes), who)
            return self.show(cmd.record_id, who)
        raise AssertionError(f"unhandled command {cmd!r}")

    def history(
        self,
        who: Conversation,
        *,
        model: str | None = None,
        mine: bool = False,
        limit: int = 20,
        offset: int = 0,
        rows: bool = True,
    ) -> HistoryReply | ErrorReply:
        """Recent queries ``who`` may see from where they ask (``Store.visible``).

        ``rows``: ``limit`` counts the rows a listing shows (input mistakes are summed up under it, and a
        comparison's two sides are one row), so older records are read until that many; else it counts
        records."""
        if self._store is None:
            return ErrorReply(message="history is off: no database is configured", exit_code=1, code="store")
        if model is not None:
            model = _absolute_path(model) or model  # a local model is stored resolved (est.model)
        records: list[QueryRecord] = []
        compares: dict[int, tuple[QueryRecord, QueryRecord]] = {}
        try:
            while True:
                page = self._store.history(
                    scope=who, model=model, user=who.user if mine else None, limit=limit, offset=offset
                )
                for rec in page:
                    sides = self.compare_sides(rec, who)
                    if sides is not None:
                        compares[rec.id] = sides
                records += page
                if not rows:
                    break
                cut = self._rows_cut(records, compares, limit)
                if cut is not None or len(page) < limit or offset + 2 * limit > MAX_HISTORY:
                    records = records[:cut]
                    break
                offset += limit
        except StoreError as err:
            return ErrorReply(message=str(err), exit_code=err.exit_code, code=err.code)
        pairs: dict[tuple[int, int], tuple[QueryRecord, QueryRecord]] = {}
        for rec in records:
            if rec.id in compares:
                a, b = compares[rec.id]
                pairs[(a.id, b.id)] = (a, b)
        return HistoryReply(
            records=tuple(records), model=model, mine=mine, compares=tuple(pairs.values()), direct=who.private
        )

    @staticmethod
    def _rows_cut(
        records: list[QueryRecord], compares: dict[int, tuple[QueryRecord, QueryRecord]], limit: int
    ) -> int | None:
        """How many of ``records`` make ``limit`` listed rows (None: fewer rows than that)."""
        seen: set[int] = set()
        count = 0
        for i, rec in enumerate(records):
            if is_input_mistake(rec) or rec.id in seen:
                continue
            seen.update(side.id for side in compares.get(rec.id, ()))
            count += 1
            if count == limit:
                return i + 1
        return None

    def compare_sides(self, rec: QueryRecord, who: Conversation) -> tuple[QueryRecord, QueryRecord] | None:
        """Both sides of the comparison ``rec`` is one side of, in the order typed; None for anything else.

        The two sides are stored as two records with the comparison's text, one after the other; a
        posted pair is found by where it was posted, else the nearest records of the same conversation."""
        if self._store is None:
            return None
        if (
            rec.posted_channel is not None
            and rec.posted_ts is not None
            and not rec.text.lstrip().lower().startswith("compare")
        ):
            # A reply in a comparison's thread ("s=32k") is posted as one message for both sides.
            together = self._store.posted_together(
                team=rec.conversation.workspace, channel=rec.posted_channel, ts=rec.posted_ts
            )
            if len(together) == 2 and rec.id in {r.id for r in together}:
                first, second = sorted(together, key=lambda r: r.id)
                if self._store.visible(first, who) and self._store.visible(second, who):
                    return first, second
            return None
        if not rec.text.lstrip().lower().startswith("compare"):
            return self._what_if_sides(rec, who)
        try:
            cmd = parse(rec.text)
        except InputError:
            return None
        if not isinstance(cmd, CompareCmd):
            return None
        wanted = (_column(cmd.a.model), _column(cmd.b.model))
        if rec.posted_channel is not None and rec.posted_ts is not None:
            near = self._store.posted_together(
                team=rec.conversation.workspace, channel=rec.posted_channel, ts=rec.posted_ts
            )
        else:
            near = self._stored_beside(rec)
        for other in sorted(near, key=lambda r: abs(r.id - rec.id)):
            if other.id == rec.id or not _asked_together(rec, other):
                continue
            first, second = sorted((rec, other), key=lambda r: r.id)
            if (first.requested_model, second.requested_model) == wanted and self._store.visible(other, who):
                return first, second
        return None

    def _what_if_sides(self, rec: QueryRecord, who: Conversation) -> tuple[QueryRecord, QueryRecord] | None:
        """Both sides of a what-if of a comparison that is not (or no longer) posted as one message (the
        terminal's ``show 3 s=8k``, a reply whose answer was deleted): up its bases to the comparison
        (at most ``_CHAIN_LIMIT`` what-ifs), then down again, at each step the record beside it that
        changed the other side the same way."""
        assert self._store is not None
        chain = [rec]
        while True:
            node = chain[-1]
            parent = self._store.get(node.parent_id) if node.parent_id is not None else None
            if parent is None or len(chain) > _CHAIN_LIMIT:
                return None
            chain.append(parent)
            if parent.parent_id is None or parent.posted_ts is not None:
                break  # the comparison itself, or a what-if posted as one message for both sides
        top = chain[-1]
        sides = self.compare_sides(top, who) if top.parent_id is None or top.posted_ts is not None else None
        if sides is None:
            return None
        other = sides[1] if sides[0].id == top.id else sides[0]
        for node in reversed(chain[:-1]):
            partner = self._partner(node, other, who)
            if partner is None:
                return None
            other = partner
        first, second = sorted((rec, other), key=lambda r: r.id)
        return first, second

    def _partner(self, rec: QueryRecord, other_base: QueryRecord, who: Conversation) -> QueryRecord | None:
        """The record beside ``rec`` that made the same what-if of ``other_base``, the other side's base."""
        assert self._store is not None
        for other in sorted(self._stored_beside(rec), key=lambda r: abs(r.id - rec.id)):
            if other.parent_id == other_base.id and _asked_together(rec, other) and self._store.visible(other, who):
                return other
        return None

    def _stored_beside(self, rec: QueryRecord) -> list[QueryRecord]:
        """The records stored within ``_SIDE_GAP`` ids of ``rec`` (a comparison's sides are stored one
        after the other)."""
        assert self._store is not None
        ids = [rec.id + k for k in range(-_SIDE_GAP, _SIDE_GAP + 1) if k and rec.id + k > 0]
        return [r for i in ids if (r := self._store.get(i)) is not None]

    def own_history(self, who: Conversation, *, limit: int = 20) -> HistoryReply | ErrorReply:
        """The asker's own queries in every channel of their team (their App Home, seen by them only)."""
        if self._store is None or who.user is None:
            return HistoryReply(records=())
        try:
            records = self._store.own_queries(
                platform=who.platform, workspace=who.workspace, user=who.user, limit=limit
            )
        except StoreError as err:
            return ErrorReply(message=str(err), exit_code=err.exit_code, code=err.code)
        # A comparison's two sides are one row, as `history` lists them.
        pairs = {(s[0].id, s[1].id): s for rec in records if (s := self.compare_sides(rec, rec.conversation))}
        return HistoryReply(records=tuple(records), mine=True, compares=tuple(pairs.values()))

    def show(self, record_id: int, who: Conversation) -> ShowReply | ErrorReply:
        """One stored query, if ``who`` may see it."""
        if self._store is None:
            return ErrorReply(message="history is off: no database is configured", exit_code=1, code="store")
        try:
            record = self._store.get(record_id)
        except StoreError as err:
            return ErrorReply(message=str(err), exit_code=err.exit_code, code=err.code)
        if record is None or not self._store.visible(record, who):
            # Same sentence for "absent" and "not yours": ids of other channels stay private.
            return ErrorReply(
                message=f"no query #{record_id} here: `history` lists the ones you can see",
                exit_code=1,
                code="not_found",
            )
        try:
            sides = self.compare_sides(record, who)
        except StoreError:
            sides = None  # the record itself was read: show it alone
        return ShowReply(record=record, estimate=stored_estimate(record), sides=sides)

    def show_what_if(self, record_id: int, text: str, who: Conversation) -> Reply:
        """``show 42 s=64k``: the stored query (both sides of a comparison) with the changes, stored as
        a what-if of it, as a reply in its thread would be (``text`` comes through :meth:`run`)."""
        shown = self.show(record_id, who)
        if isinstance(shown, ErrorReply):
            return shown
        record = shown.record
        if not record.params:
            return ErrorReply(
                message=f"#{record_id} failed before it was sized ({record.error}): there are no settings to change",
                exit_code=2,
                code="invalid_input",
            )
        if shown.sides:
            pair = self.compare_what_if(a=shown.sides[0], b=shown.sides[1], text=text, who=who, always=True)
            if pair is not None:
                return pair
        else:
            outcome = self.what_if(base=record, text=text, who=who, always=True)
            if outcome is not None:
                return EstimateReply(outcome=outcome)
        return ErrorReply(message=f"#{record_id} holds no settings to change", exit_code=2, code="invalid_input")

    # -- threads --------------------------------------------------------------------------------
    @staticmethod
    def is_compare_command(text: str) -> bool:
        """``compare A B ...`` typed whole (not "compare with X", which compares against a thread)."""
        text = plain_text(text).strip().rstrip("?").strip()
        found = _COMPARE_WITH.fullmatch(text)
        if found is None or found["joined"] or found[0].split()[0].lower() != "compare":
            return False
        try:
            return isinstance(parse(text), CompareCmd)
        except InputError:
            return False

    @staticmethod
    def compare_command(base: QueryRecord, text: str, search: ModelSearch | None = None) -> str | None:
        """A thread reply that asks for a comparison: ``compare with Qwen/Qwen3-32B`` (the thread's
        answer beside that model, at its settings and any the reply changes) as the ``compare`` command
        it stands for; a whole ``compare A B ...`` as typed; None for any other reply."""
        text = plain_text(text).strip().rstrip("?").strip()
        if Service.is_compare_command(text):
            return text
        found = _COMPARE_WITH.fullmatch(text)
        if found is None or not base.params:
            return None
        stored = Query.model_validate(base.params)
        parsed = read_change(found["rest"], stored, find_model=_model_finder(search))
        if parsed is None or "model" not in parsed[1]:
            raise InputError(
                "name the model to compare with as a Hub id, e.g. `compare with Qwen/Qwen3-32B` "
                "(or `/vram compare <model> <model> ...`)"
            )
        other = parsed[0]
        if (other.model, other.revision) == (stored.model, stored.revision):
            raise InputError(
                f"{stored.model} is this thread's model already: name another to compare with "
                "(reply with a setting to change this one)"
            )
        settings = [f"{key.name}={setting_value(key.name, other)}" for key in KEYS if not is_default(other, key.name)]
        return " ".join(["compare", _model_word(stored), _model_word(other), *settings])

    @staticmethod
    def _changed(
        text: str, base: Query, find_model: Callable[[str], str] | None = None
    ) -> tuple[Query, dict[str, Any], tuple[str, ...]] | None:
        """A thread reply's change to ``base`` and the words it did not use: ``key=value`` words, else
        plain words; None for chat."""
        parsed = parse_changes(text, base)
        if parsed is not None:
            return (*parsed, ())
        # Plain words: "what about 128k?", "try 2 GPUs", "what about qwen3 32b?", "gpu=h100 (for prod)".
        return read_reply(text, base, find_model=find_model)

    def what_if(
        self,
        *,
        base: QueryRecord,
        text: str,
        who: Conversation,
        always: bool = False,
        search: ModelSearch | None = None,
    ) -> Outcome | None:
        """Re-estimate ``base`` with the settings in a thread reply; None when the reply is chat. A reply
        whose settings are the answer's already gets a note instead, unless ``always`` (``show 42 s=64k``
        typed in full re-estimates as asked). ``search`` looks up a model the reply names by words
        ("what about qwen3 32b?")."""
        text = plain_text(text)
        if not base.params:
            return None
        stored = Query.model_validate(base.params)
        # "how many users can it serve at 32k?": a question about the thread's model, with its settings,
        # answered as asked (read first: its "at 32k" alone would read as a change).
        unread: InputError | None = None  # a question about the thread's model that cannot be answered
        try:
            asked_in_thread = thread_question(text, stored)
        except InputError as err:
            asked_in_thread, unread = None, err
        find_model = _model_finder(search)
        try:
            parsed = self._changed(text, stored, find_model) if asked_in_thread is None else (*asked_in_thread[:2], ())
        except VramError as err:  # a bad value, or a model name the Hub search could not find or reach
            # A question about the thread's model that could not be read says why ("fine-tune it"), not
            # what its words were then taken for.
            said: VramError = unread if unread is not None else err
            self._keep(who, text=text, status="error", error=str(said), parent_id=base.id)
            return Outcome(text=text, error=str(said), exit_code=said.exit_code, error_code=said.code)
        if parsed is None and unread is not None:
            # "how many users can it serve?" under an answer with no one GPU: say what it needs, not nothing.
            self._keep(who, text=text, status="error", error=str(unread), parent_id=base.id)
            return Outcome(text=text, error=str(unread), exit_code=unread.exit_code, error_code=unread.code)
        if parsed is None:
            return None
        asked = base.text if asked_in_thread is None else asked_in_thread[2]
        query, changes, unused = parsed
        if asked_in_thread is None and query == stored and not always:
            # "s=32k" where the answer is at 32k already: nothing to re-estimate, and nothing to keep.
            return Outcome(text=text, note=unchanged_note(changes, stored))
        return self.estimate_query(
            query,
            who,
            text=text,
            parent_id=base.id,
            base=stored_estimate(base),
            changes={k: _setting_text(v) for k, v in changes.items()},
            question_text=asked,
            unused=unused,
        )

    def compare_what_if(
        self, *, a: QueryRecord, b: QueryRecord, text: str, who: Conversation, always: bool = False
    ) -> CompareReply | None:
        """A reply in a comparison's thread: the same change to both sides, each stored as a what-if of
        its side; None when the reply changes nothing."""
        text = plain_text(text)
        if not a.params or not b.params:
            return None
        models = InputError(
            "a what-if of a comparison changes the settings of both sides, not the models: "
            "ask `compare <model> <model>` for other models"
        )

        def no_model(phrase: str) -> str:
            raise models

        qa, qb = Query.model_validate(a.params), Query.model_validate(b.params)
        unread: InputError | None = None  # a question about both models that cannot be answered
        try:
            # "how many users can they serve?": a question about both models, with the thread's settings
            # and the ones it says, answered for each side.
            asked = thread_question(text, qa)
        except InputError as err:
            asked, unread = None, err
        question_text = asked[2] if asked is not None else None
        pa: tuple[Query, dict[str, Any], tuple[str, ...]] | None
        pb: tuple[Query, dict[str, Any], tuple[str, ...]] | None
        try:
            if asked is not None:
                said = asked[1]
                pa = (query_with(qa, said), said, ())
                pb = (query_with(qb, said), said, ())
            else:
                pa = self._changed(text, qa, no_model)
                pb = self._changed(text, qb, no_model)
            if (pa is None or pb is None) and unread is not None:
                raise unread  # said to its author, as under one answer
            if pa is None or pb is None:
                return None
            if not always and asked is None and pa[0] == qa and pb[0] == qb:
                same = Outcome(text=text, note=unchanged_note(pa[1], pa[0]))
                return CompareReply(a=same, b=same)
            if "model" in pa[1]:
                raise models
        except InputError as err:
            self._keep(who, text=text, status="error", error=str(err), parent_id=b.id)
            failed = Outcome(text=text, error=str(err), exit_code=err.exit_code, error_code=err.code)
            return CompareReply(a=failed, b=failed)
        sides = [
            self.estimate_query(
                query,
                who,
                text=text,
                parent_id=side.id,
                base=stored_estimate(side),
                changes={k: _setting_text(v) for k, v in changes.items()},
                question_text=question_text,
                unused=unused,
            )
            for side, (query, changes, unused) in ((a, pa), (b, pb))
        ]
        return CompareReply(a=sides[0], b=sides[1])

    def thread_answer(self, latest: QueryRecord) -> tuple[QueryRecord, ...]:
        """The answer a thread's latest record was posted in: that record, or both sides of a comparison
        (two estimates posted as one message)."""
        if self._store is None or latest.posted_channel is None or latest.posted_ts is None:
            return (latest,)
        together = self._store.posted_together(
            team=latest.conversation.workspace, channel=latest.posted_channel, ts=latest.posted_ts
        )
        return tuple(together) if len(together) == 2 and latest.id in {r.id for r in together} else (latest,)

    def latest_posted(self, *, team: str | None, channel: str) -> QueryRecord | None:
        """The latest answer posted in a conversation (the bot's DM with someone)."""
        if self._store is None:
            return None
        return self._store.latest_posted(team=team, channel=channel)

    def latest_in_thread(self, *, team: str | None, channel: str, thread_ts: str) -> QueryRecord | None:
        if self._store is None:
            return None
        return self._store.latest_in_thread(team=team, channel=channel, thread_ts=thread_ts)

    def set_posted(self, record_id: int, *, channel: str, ts: str, thread_ts: str | None) -> None:
        if self._store is None:
            return
        try:
            self._store.set_posted(record_id, channel=channel, ts=ts, thread_ts=thread_ts)
        except StoreError as err:
            log.error("could not record where query %s was posted: %s", record_id, err)

    def withdraw(self, record: QueryRecord) -> None:
        """Its asker deleted the answer's message: the answer (both sides of a comparison) is theirs alone now."""
        if self._store is None:
            return
        ids = tuple(r.id for r in self.thread_answer(record))
        try:
            self._store.withdraw(ids)
        except StoreError as err:
            log.error("could not record that queries %s were deleted: %s", ids, err)

    def mark_public(self, record_ids: tuple[int, ...]) -> None:
        """Queries whose answer the whole conversation saw (posted without a thread of their own)."""
        if self._store is None or not record_ids:
            return
        try:
            self._store.mark_public(record_ids)
        except StoreError as err:
            log.error("could not record that queries %s were posted: %s", record_ids, err)


def _with_absolute_paths(query: Query) -> Query:
    """The query as kept: a local model or drafter as an absolute path, so that ``show N`` and a
    thread's what-ifs open it again from any directory (the answer still names it as typed)."""
    update = {name: path for name in ("model", "draft") if (path := _absolute_path(getattr(query, name)))}
    return query.model_copy(update=update) if update else query


def _absolute_path(reference: str | None) -> str | None:
    """The absolute path of a local model reference that exists here, else None (a Hub id, or a
    path the system cannot resolve: the source says why when it opens it)."""
    if not reference or not is_local_reference(reference):
        return None
    try:
        path = Path(reference).expanduser()
        return str(path.resolve()) if path.exists() else None
    except (OSError, RuntimeError, ValueError):
        return None
