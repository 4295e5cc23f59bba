"""The typed records the store takes and gives back (frozen pydantic models)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints, model_validator

# The front end a query came from ("cli" for the terminal; a chat front end names itself). The
# store keeps no list of them: a new front end needs no migration.
Platform = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,15}$")]
Status = Literal["ok", "error"]

# Column widths (the same numbers size the table columns in store.models).
PLATFORM_LEN = 16
ID_LEN = 64  # workspace / channel ids, message timestamps
USER_LEN = 128  # a chat user id, or the local user name for the terminal
MODEL_LEN = 256  # Hub repo ids are at most 96 characters; local paths may be longer
REVISION_LEN = 255  # a 40-hex sha, or the branch/tag the user typed when unresolved


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Conversation(Frozen):
    """Who asks and where: a user in a conversation of a workspace on a platform (the seam to front ends).

    It decides what a listing may show (see ``Store.visible``). The terminal is a conversation with no
    workspace and no channel. ``private``: a direct conversation (a DM), whose members are its only
    readers; a channel (public or not) is not private in this sense.
    """

    platform: Platform
    workspace: str | None = Field(None, max_length=ID_LEN)
    channel: str | None = Field(None, max_length=ID_LEN)
    user: str | None = Field(None, max_length=USER_LEN)
    private: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Conversation:
        if self.channel is None and self.private:
            raise ValueError("a direct conversation (private) needs its channel id")
        return self


class NewQuery(Frozen):
    """One sizing query as it is about to be stored."""

    conversation: Conversation
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
        return self


class QueryRecord(Frozen):
    """One stored query, as read back."""

    id: int
    created_at: datetime  # timezone-aware, UTC
    conversation: Conversation
    # Seen by the whole conversation (the answer was posted there), not only by its asker (an
    # ephemeral answer, an error, a channel the bot could not post in).
    public: bool
    text: str
    params: dict[str, JsonValue] | None
    requested_model: str | None
    model: str | None
    revision: str | None
    result: dict[str, JsonValue] | None
    status: Status
    error: str | None
    parent_id: int | None
    # Where the answer was posted in the chat (None until set_posted, and for the terminal).
    posted_channel: str | None
    posted_ts: str | None
    thread_ts: str | None

    @property
    def model_label(self) -> str | None:
        """The model to show: the resolved id, else what was typed."""
        return self.model or self.requested_model
