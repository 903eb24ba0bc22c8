"""What a running app or command holds: its configuration, engine and session factory."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from flask import Flask, current_app, g
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from server.config import Config
from server.db import make_engine, make_session_factory

if TYPE_CHECKING:
    from server.services.rules import RuleSet
    from server.services.sms.inbound import InboundContext
    from server.services.sms.templates import TemplateSet


@dataclass
class Runtime:
    """The process-wide collaborators of one app instance."""

    config: Config
    engine: Engine
    sessions: sessionmaker[Session]

    @classmethod
    def build(cls, config: Config) -> Runtime:
        """Create the engine and session factory for `config` (nothing is connected yet)."""
        engine = make_engine(config.database_url)
        return cls(config=config, engine=engine, sessions=make_session_factory(engine))

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    @cached_property
    def templates(self) -> TemplateSet:
        """The SMS templates, loaded and checked once per process."""
        from server.services.sms.templates import load_templates

        return load_templates()

    @cached_property
    def rules(self) -> RuleSet:
        """The escalation rules (TANFANG_RULES or the shipped file), validated once."""
        from server.services.rules import load_rules

        return load_rules(self.config.rules_path)

    def inbound_context(self) -> InboundContext:
        """What inbound SMS handling needs from this runtime (built once: it is immutable)."""
        return self._inbound_context

    @cached_property
    def _inbound_context(self) -> InboundContext:
        from server.services.sms.inbound import InboundContext

        return InboundContext(
            tz=self.config.tz,
            templates=self.templates,
            signature=self.config.sms_signature,
            hotline=self.config.crisis_hotline,
            rules=self.rules,
        )


def runtime(app: Flask | None = None) -> Runtime:
    """The runtime of `app` (default: the current app)."""
    target = app or current_app
    rt: Runtime = target.extensions["tanfang"]
    return rt


def config() -> Config:
    """The current app's configuration."""
    return runtime().config


def db_session() -> Session:
    """The request's database session, opened on first use and closed at teardown.

    Views commit once at the end of their unit of work; services never commit.
    """
    if "db_session" not in g:
        g.db_session = runtime().sessions()
    session: Session = g.db_session
    return session


def close_db_session(_exc: BaseException | None = None) -> None:
    """Teardown: roll back anything uncommitted and close the request's session."""
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.close()
