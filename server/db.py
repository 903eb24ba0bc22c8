"""Engine and session factory. Nothing is created at import time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, MetaData, TypeDecorator, create_engine, event, text
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware.

    SQLite has no time zones, so naive values read back are UTC by convention.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


# A pooled connection idle for longer than this is checked with a round trip before use; one
# used more recently is trusted (HikariCP's "alive bypass window"). Under load every connection
# is recent, so no request pays for a ping; after a quiet spell, or a server restart noticed by
# no one yet, the first checkout finds the dead connection and takes a new one.
PING_AFTER_IDLE_SECONDS = 1.0


def make_engine(
    url: str, *, ping_after_idle: float | None = PING_AFTER_IDLE_SECONDS, **kwargs: Any
) -> Engine:
    """An engine for `url`; SQLite gets its folder created, foreign keys and WAL switched on;
    elsewhere a pooled connection idle for more than `ping_after_idle` seconds is checked
    before use (None: never). Statement parameters (phones, message bodies, names) are never
    part of an error's text."""
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if database and database != ":memory:":
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    engine = create_engine(url, **kwargs)
    if ping_after_idle is not None and not kwargs.get("pool_pre_ping"):
        _ping_idle_connections(engine, ping_after_idle)
    return engine


def _ping_idle_connections(engine: Engine, idle_seconds: float) -> None:
    """Pessimistic disconnect handling for connections that sat idle in the pool.

    A connection used within the window that turns out dead fails its statement; SQLAlchemy
    sees the disconnect and invalidates the whole pool, so only that request fails (a webhook
    answers 503 and Twilio retries it).
    """

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        # `info` lives as long as this DBAPI connection (cleared when it is replaced).
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < idle_seconds:
            return  # just connected, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            if engine.dialect.is_disconnect(exc, dbapi_connection, None):
                # The pool drops this connection and checks out a fresh one.
                raise DisconnectionError("idle connection closed by the server") from exc
            raise


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to `engine`; objects stay usable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def bulk_insert(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert many rows in the session's transaction, as fast as the database allows.

    On PostgreSQL with psycopg the rows are streamed with COPY (several times faster than
    INSERTs); elsewhere one executemany. Every row must have the same keys; values are
    written as given (no column defaults are applied on the COPY path).
    """
    if not rows:
        return
    connection = session.connection()
    name = table.__tablename__ if hasattr(table, "__tablename__") else table.name
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        columns = list(rows[0])
        statement = f"COPY {name} ({', '.join(columns)}) FROM STDIN"
        dbapi: Any = connection.connection.driver_connection
        with dbapi.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
        return
    from sqlalchemy import insert

    target = Base.metadata.tables[name]
    for start in range(0, len(rows), 10_000):
        session.execute(insert(target), rows[start : start + 10_000])


def refresh_statistics(engine: Engine, *tables: str) -> None:
    """After a bulk load, let PostgreSQL's planner know the tables' new sizes (ANALYZE).

    Without statistics (a fresh database, or autovacuum off) PostgreSQL guesses, and a
    lookup of one elder by phone can read every elder through the wrong index. A no-op on
    other databases."""
    if engine.dialect.name != "postgresql" or not tables:
        return
    with engine.connect() as connection:
        connection.execute(text(f"ANALYZE {', '.join(tables)}"))
        connection.commit()



class DriverStatement:
    """A Core statement for a hot path: on PostgreSQL it runs straight on the psycopg
    connection under the SQLAlchemy connection (same transaction), skipping SQLAlchemy's
    per-execution work (cache lookup, parameter and result set-up: about 50 µs a statement,
    a third of an inbound SMS's CPU); elsewhere it runs through SQLAlchemy as usual.

    Parameters go through the statement's own bind processors (JSON, UTC timestamps), errors
    come out as SQLAlchemy's exceptions and a lost connection is invalidated, as with
    `Connection.execute`. Rows are plain tuples; values are what the driver returns.
    """

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._compiled: tuple[Dialect, str, dict[str, Any], dict[str, Any]] | None = None

    def _compile(self, dialect: Dialect) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """The SQL, the statement's own values (literals in it), the bind processors."""
        cached = self._compiled
        if cached is not None and cached[0] is dialect:
            return cached[1], cached[2], cached[3]
        compiled = self.statement.compile(dialect=dialect)
        prefetch = (*compiled.insert_prefetch, *compiled.update_prefetch)
        defaults = [column.name for column in prefetch]
        if defaults:
            # SQLAlchemy computes those defaults at execution: name the columns explicitly
            raise ValueError(f"give these columns explicit values: {', '.join(defaults)}")
        processors = {}
        literals = {}
        for bind, name in compiled.bind_names.items():
            if bind.expanding:
                raise ValueError(f"{name}: expanding (IN) parameters are not supported here")
            if not bind.required:
                literals[name] = bind.effective_value
            processor = bind.type.bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
        self._compiled = (dialect, compiled.string, literals, processors)
        return compiled.string, literals, processors

    def rows(self, connection: Any, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Every row the statement returns (none for a statement without RETURNING)."""
        dialect = connection.dialect
        if dialect.name != "postgresql":
            result = connection.execute(self.statement, params)
            return [tuple(row) for row in result] if result.returns_rows else []
        if not connection.in_transaction():
            connection.begin()  # what `execute` would do: the caller's commit or rollback ends it
        sql, literals, processors = self._compile(dialect)
        values = {**literals, **params} if literals else dict(params)
        for name, processor in processors.items():
            if name in values:  # a missing one is reported by the driver
                values[name] = processor(values[name])
        driver = connection.connection.driver_connection
        cursor = driver.cursor()
        try:
            cursor.execute(sql, values)
            result = cursor.pgresult
            if result is None or result.status != _TUPLES_OK:
                return []
            return cursor.fetchall()
        except dialect.loaded_dbapi.Error as exc:
            disconnected = dialect.is_disconnect(exc, driver, cursor)
            if disconnected:
                connection.invalidate(exc)
            raise DBAPIError.instance(
                sql, values, exc, dialect.loaded_dbapi.Error,
                hide_parameters=True,  # phones and message bodies stay out of errors and logs
                connection_invalidated=disconnected, dialect=dialect,
            ) from exc  # fmt: skip
        finally:
            cursor.close()

    def first(self, connection: Any, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row, or None."""
        found = self.rows(connection, params)
        return found[0] if found else None

    def scalar(self, connection: Any, params: dict[str, Any]) -> Any:
        """The first column of the first row, or None."""
        row = self.first(connection, params)
        return row[0] if row else None


_TUPLES_OK = 2  # libpq's PGRES_TUPLES_OK (psycopg.pq.ExecStatus.TUPLES_OK)
