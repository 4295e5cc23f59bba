"""The typed records the store takes and gives back (frozen pydantic models)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

Source = Literal["slack", "cli"]
Status = Literal["ok", "error"]

# Column widths (the same numbers size the table columns in store.models).
ID_LEN = 64  # Slack team / channel / user ids, message timestamps
USER_LEN = 128  # Slack user id, or the local user name for the terminal
MODEL_LEN = 256  # Hub repo ids are at most 96 characters; local paths may be longer
REVISION_LEN = 255  # a 40-hex sha, or the branch/tag the user typed when unresolved


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Scope(Frozen):
    """Who is asking, and where: decides which records a listing may show."""

    source: Source
    team: str | None = Field(None, max_length=ID_LEN)
    channel: str | None = Field(None, max_length=ID_LEN)
    user: str | None = Field(None, max_length=USER_LEN)
    is_dm: bool = False


class NewQuery(Frozen):
    """One sizing query as it is about to be stored."""

    source: Source
    team: str | None = Field(None, max_length=ID_LEN)
    channel: str | None = Field(None, max_length=ID_LEN)
    user: str | None = Field(None, max_length=USER_LEN)
    is_dm: bool = False
    text: str  # what the user typed, as typed
    params: dict[str, JsonValue] | None = None  # the parsed parameters (JSON values only)
    requested_model: str | None = Field(None, max_length=MODEL_LEN)  # as typed
    model: str | None = Field(None, max_length=MODEL_LEN)  # the resolved, canonical id
    revision: str | None = Field(None, max_length=REVISION_LEN)  # the commit sha it was resolved to
    result: dict[str, JsonValue] | None = None  # Estimate.to_json()
    status: Status
    error: str | None = None  # the sentence shown, when status is "error"
    parent_id: int | None = None  # the query this thread reply changed
    created_at: datetime | None = None  # None: now (UTC); naive datetimes are read as UTC

    @model_validator(mode="after")
    def _consistent(self) -> NewQuery:
        if self.status == "error" and not self.error:
            raise ValueError("an error record needs the error sentence")
        if self.status == "ok" and self.error is not None:
            raise ValueError("an ok record carries no error sentence")
        # Listings rely on this: only Slack records have a team, a channel or a DM flag.
        if self.source == "cli" and (self.team is not None or self.channel is not None or self.is_dm):
            raise ValueError("a terminal (cli) record has no Slack team, channel or DM flag")
        return self


class QueryRecord(Frozen):
    """One stored query, as read back."""

    id: int
    created_at: datetime  # timezone-aware, UTC
    source: Source
    team: str | None
    channel: str | None
    user: str | None
    is_dm: bool
    text: str
    params: dict[str, JsonValue] | None
    requested_model: str | None
    model: str | None
    revision: str | None
    result: dict[str, JsonValue] | None
    status: Status
    error: str | None
    parent_id: int | None
    # Where the answer was posted in Slack (None until set_posted, and for the terminal).
    posted_channel: str | None
    posted_ts: str | None
    thread_ts: str | None

    @property
    def model_label(self) -> str | None:
        """The model to show: the resolved id, else what was typed."""
        return self.model or self.requested_model
