"""Install in any workspace: Slack's OAuth v2 through Bolt, with its stores in vram's database.

``/slack/install`` sends a user to Slack with a one-time state (kept in ``slack_oauth_states``);
``/slack/oauth_redirect`` checks the state, exchanges the code (``oauth.v2.access``) and stores the
installation. Bot tokens (and refresh tokens, when the app rotates its tokens) are encrypted with
``SLACK_TOKEN_KEY`` (Fernet) before they reach the database. ``app_uninstalled`` deletes the
workspace's installation and its history; ``tokens_revoked`` deletes the revoked tokens.

Single-workspace mode (``SLACK_BOT_TOKEN``) uses none of this.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk.oauth.installation_store import Bot, Installation, InstallationStore
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from slack_sdk.oauth.token_rotation import TokenRotator
from slack_sdk.web import WebClient
from sqlalchemy import Engine, create_engine, delete

from bot.slack_install import BOTS_TABLE, INSTALLATIONS_TABLE, STATES_TABLE
from common.errors import VramError

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.settings import Settings
    from bot.slack_app import _Bot

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
# The bot scopes the features need (manifest.yml says why, one by one).
BOT_SCOPES = (
    "commands",
    "chat:write",
    "app_mentions:read",
    "channels:history",
    "groups:history",
    "im:history",
    "links:read",
    "links:write",
)
_TOKEN_FIELDS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")
ROTATE_MINUTES_BEFORE = 120  # refresh a rotating token this long before it expires


class TokenCipher:
    """Fernet encryption of tokens at rest (authenticated: a changed row fails to decrypt)."""

    def __init__(self, key: str) -> None:
        try:
            self._fernet = Fernet(key.encode())
        except ValueError:
            raise VramError(
                "SLACK_TOKEN_KEY is not a Fernet key: make one with "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
            ) from None

    def encrypt(self, token: str) -> str:
        return self._fernet.encrypt(token.encode()).decode()

    def decrypt(self, stored: str) -> str:
        try:
            return self._fernet.decrypt(stored.encode()).decode()
        except InvalidToken:
            raise VramError(
                "a stored Slack token does not decrypt with SLACK_TOKEN_KEY: was the key changed? "
                "Reinstall the app in that workspace"
            ) from None


def _with_tokens(obj: Any, change: Callable[[str], str]) -> Any:
    """A copy of an Installation or Bot with every token passed through ``change``."""
    out = copy.copy(obj)
    for name in _TOKEN_FIELDS:
        value = getattr(out, name, None)
        if value:
            setattr(out, name, change(value))
    return out


class EncryptedInstallationStore(InstallationStore):
    """slack_sdk's SQLAlchemy installation store, with tokens encrypted on the way in and out."""

    def __init__(self, *, client_id: str, engine: Engine, cipher: TokenCipher) -> None:
        self.inner = SQLAlchemyInstallationStore(
            client_id=client_id,
            engine=engine,
            bots_table_name=BOTS_TABLE,
            installations_table_name=INSTALLATIONS_TABLE,
            logger=log,
        )
        self.cipher = cipher

    @property
    def logger(self) -> logging.Logger:
        return log

    def save(self, installation: Installation) -> None:
        self.inner.save(_with_tokens(installation, self.cipher.encrypt))

    def save_bot(self, bot: Bot) -> None:
        self.inner.save_bot(_with_tokens(bot, self.cipher.encrypt))

    def find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        bot = self.inner.find_bot(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install
        )
        return None if bot is None else _with_tokens(bot, self.cipher.decrypt)

    def find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        found = self.inner.find_installation(
            enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, is_enterprise_install=is_enterprise_install
        )
        return None if found is None else _with_tokens(found, self.cipher.decrypt)

    def delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self.inner.delete_bot(enterprise_id=enterprise_id, team_id=team_id)

    def delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        self.inner.delete_installation(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id)

    def delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self.delete_bot(enterprise_id=enterprise_id, team_id=team_id)
        self.delete_installation(enterprise_id=enterprise_id, team_id=team_id)


_current_team = threading.local()


class TeamClients:
    """A Web API client per workspace, with the stored (rotated when due) bot token of that workspace.

    Work after the ack does not run inside Bolt's request context, so it names its workspace here
    (:meth:`run_as`) and every call it makes through :attr:`client` uses that workspace's token.
    """

    def __init__(self, *, store: EncryptedInstallationStore, rotator: TokenRotator, base_url: str) -> None:
        self.store = store
        self.rotator = rotator
        self.base_url = base_url
        self.client = _RoutedClient(self)

    def token(self, team: str | None) -> str:
        bot = self.store.find_bot(enterprise_id=None, team_id=team)
        if bot is None:
            raise VramError("vram is not installed in this workspace: install it from /slack/install")
        if bot.bot_refresh_token:
            rotated = self.rotator.perform_bot_token_rotation(bot=bot, minutes_before_expiration=ROTATE_MINUTES_BEFORE)
            if rotated is not None:
                self.store.save_bot(rotated)
                bot = rotated
        assert bot.bot_token is not None
        return bot.bot_token

    def for_team(self, team: str | None) -> WebClient:
        # No retry handlers: the bot's delivery schedules retries (429, 5xx, connection) on a timer.
        return WebClient(token=self.token(team), base_url=self.base_url, timeout=15, retry_handlers=[])

    @staticmethod
    def current() -> str | None:
        """The workspace the running job works for (:meth:`run_as`)."""
        return getattr(_current_team, "team", None)

    def run_as(self, team: str | None, fn: Callable[..., object], *args: Any, **kwargs: Any) -> None:
        previous = getattr(_current_team, "team", None)
        _current_team.team = team
        try:
            fn(*args, **kwargs)
        finally:
            _current_team.team = previous


class _RoutedClient:
    """Looks like a WebClient; each method call goes out with the current workspace's token."""

    def __init__(self, clients: TeamClients) -> None:
        self._clients = clients

    def __getattr__(self, name: str) -> Any:
        return getattr(self._clients.for_team(getattr(_current_team, "team", None)), name)


def team_of(args: tuple[Any, ...]) -> str | None:
    """The workspace of a job the listeners enqueue: a team id first, or the request body first."""
    if not args:
        return None
    first = args[0]
    if isinstance(first, str):
        return first
    if isinstance(first, dict):
        return first.get("team_id") or (first.get("team") or {}).get("id") or (first.get("user") or {}).get("team_id")
    return None


class OAuth:
    """Everything the app needs to be installed through OAuth (built from the settings)."""

    def __init__(self, settings: Settings, *, engine: Engine | None = None) -> None:
        if not (settings.slack_client_id and settings.slack_client_secret and settings.slack_token_key):
            raise VramError("OAuth needs SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_TOKEN_KEY together")
        from store.store import default_database_url, normalize_url

        self.engine = engine or create_engine(normalize_url(settings.database_url or default_database_url()))
        secret = settings.slack_client_secret.get_secret_value()
        self.store = EncryptedInstallationStore(
            client_id=settings.slack_client_id,
            engine=self.engine,
            cipher=TokenCipher(settings.slack_token_key.get_secret_value()),
        )
        self.states = SQLAlchemyOAuthStateStore(
            expiration_seconds=600, engine=self.engine, table_name=STATES_TABLE, logger=log
        )
        api = WebClient(base_url=settings.slack_api_url)
        self.teams = TeamClients(
            store=self.store,
            base_url=settings.slack_api_url,
            rotator=TokenRotator(client_id=settings.slack_client_id, client_secret=secret, client=api),
        )
        self.settings = OAuthSettings(
            client_id=settings.slack_client_id,
            client_secret=secret,
            scopes=list(BOT_SCOPES),
            redirect_uri=settings.slack_oauth_redirect_url,
            install_path=INSTALL_PATH,
            redirect_uri_path=REDIRECT_PATH,
            authorization_url=settings.slack_install_url,
            installation_store=self.store,
            installation_store_bot_only=True,
            state_store=self.states,
            token_rotation_expiration_minutes=ROTATE_MINUTES_BEFORE,
            logger=log,
        )

    def forget_workspace(self, team: str | None, enterprise: str | None = None) -> None:
        """The app was uninstalled: its tokens and the workspace's history go."""
        from store.models import QueryRow

        self.store.delete_all(enterprise_id=enterprise, team_id=team)
        with self.engine.begin() as conn:
            conn.execute(delete(QueryRow).where(QueryRow.team_id == team))
        log.info("app uninstalled from %s: its installation and history are deleted", team)

    def revoke(self, team: str | None, event: dict[str, Any], enterprise: str | None = None) -> None:
        """Tokens were revoked: forget them (the history stays until the app is uninstalled)."""
        tokens = event.get("tokens") or {}
        if tokens.get("bot"):
            self.store.delete_bot(enterprise_id=enterprise, team_id=team)
        for user in tokens.get("oauth") or []:
            self.store.delete_installation(enterprise_id=enterprise, team_id=team, user_id=user)

    def close(self) -> None:
        self.engine.dispose()

    def register(self, app: App, bot: _Bot, submit: Callable[..., None]) -> None:
        """Route work after the ack to its workspace's token; listen for uninstalls and revocations."""
        guard = bot.guard
        teams = self.teams

        def guard_as_team(fn: Callable[..., None], *args: Any, on_error: Callable[[str], None] | None) -> None:
            teams.run_as(team_of(args), guard, fn, *args, on_error=on_error)

        # The jobs the listeners enqueue all go through bot.guard: there they learn their workspace.
        bot.guard = guard_as_team  # type: ignore[method-assign]

        deliver = bot.deliver

        def deliver_as_team(
            key: tuple[str, str],
            step: Callable[[], object],
            on_error: Callable[[str], None] | None,
            attempt: int = 1,
            *,
            fallback: Callable[[], None] | None = None,
        ) -> None:
            # A retry runs later on a timer, outside the job that knew its workspace: its steps keep it.
            team = teams.current()

            def step_as_team() -> None:
                teams.run_as(team, step)

            def fallback_as_team() -> None:
                assert fallback is not None
                teams.run_as(team, fallback)

            def tell_as_team(sentence: str) -> None:
                assert on_error is not None
                teams.run_as(team, on_error, sentence)

            deliver(
                key,
                step_as_team,
                tell_as_team if on_error is not None else None,
                attempt,
                fallback=fallback_as_team if fallback is not None else None,
            )

        bot.deliver = deliver_as_team  # type: ignore[method-assign]

        @app.event("app_uninstalled")
        def on_uninstalled(ack: Callable[..., None], body: dict[str, Any]) -> None:
            ack()
            submit(self.forget_workspace, body.get("team_id"), body.get("enterprise_id"))

        @app.event("tokens_revoked")
        def on_revoked(ack: Callable[..., None], body: dict[str, Any], event: dict[str, Any]) -> None:
            ack()
            submit(self.revoke, body.get("team_id"), event, body.get("enterprise_id"))
