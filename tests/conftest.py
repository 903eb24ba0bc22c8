"""Shared fixtures: a migrated database (SQLite by default, PostgreSQL when
TANFANG_TEST_DATABASE_URL says so), an app, a client, a CLI runner.

The schema is migrated once per run; every test starts from empty tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from server.config import Config
from server.db import Base, make_engine, make_session_factory
from server.migrate import upgrade

TEST_SECRET = "test-secret-key-not-for-production"


def _database_url(tmp_root: Path) -> str:
    url = os.environ.get("TANFANG_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_root / 'tanfang-test.db'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of the database the suite runs on."""
    return _database_url(tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="session")
def migrated_engine(database_url: str) -> Iterator[Engine]:
    """An engine on a database migrated to head once for the whole run."""
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _empty_tables(engine: Engine) -> None:
    tables = [t for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture
def engine(migrated_engine: Engine) -> Iterator[Engine]:
    """The test database, emptied before the test."""
    _empty_tables(migrated_engine)
    yield migrated_engine


@pytest.fixture
def config(database_url: str, engine: Engine) -> Config:
    """A configuration on the test database."""
    return replace(
        Config(),
        database_url=database_url,
        secret_key=TEST_SECRET,
        pin_pepper="test-pepper",
    )


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the test database; the test commits what it wants others to see."""
    factory = make_session_factory(engine)
    with factory() as s:
        yield s


@pytest.fixture
def app(config: Config) -> Iterator[Flask]:
    """The app on the test database."""
    from server.app import create_app
    from server.runtime import runtime

    application = create_app(config)
    application.config.update(TESTING=True)
    yield application
    runtime(application).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the app."""
    return app.test_client()


class Cli:
    """Runs `tanfang ...` against the test database."""

    def __init__(self, database_url: str) -> None:
        self.env = {
            "TANFANG_DATABASE_URL": database_url,
            "TANFANG_SECRET_KEY": TEST_SECRET,
            "TANFANG_PIN_PEPPER": "test-pepper",
        }

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Result:
        from server.cli import main

        runner = CliRunner()
        return runner.invoke(
            main, list(args), env={**self.env, **(env or {})}, catch_exceptions=False
        )


@pytest.fixture
def cli(database_url: str, engine: Engine) -> Cli:
    """The command line on the test database."""
    return Cli(database_url)


@pytest.fixture
def unique() -> str:
    """A short unique string."""
    return uuid.uuid4().hex[:8]


def _server_url(url: str, database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_url(database_url: str) -> Iterator[str]:
    """A migrated PostgreSQL database: the suite's own when it runs on PostgreSQL, else a
    fresh one on the local server (dropped afterwards). Skips when there is no server."""
    if database_url.startswith("postgresql"):
        yield database_url
        return
    base = os.environ.get("TANFANG_TEST_POSTGRES_URL") or (
        "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    name = f"tanfang_pytest_{os.getpid()}"
    admin = make_engine(_server_url(base, "postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server, no rights: the PostgreSQL-only tests skip
        admin.dispose()
        pytest.skip(f"PostgreSQL is not available: {type(exc).__name__}")
    url = _server_url(base, name)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    """An engine on an emptied PostgreSQL database."""
    engine = make_engine(postgres_url)
    _empty_tables(engine)
    yield engine
    engine.dispose()
