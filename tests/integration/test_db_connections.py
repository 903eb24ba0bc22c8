"""Pooled PostgreSQL connections: a connection that sat idle is checked before use, so a
server that dropped it (a restart, an idle timeout) costs no request; a connection used a
moment ago is trusted, as HikariCP does, and a disconnect on it invalidates the whole pool."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from server.db import make_engine


def _backend_pid(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.scalar(text("SELECT pg_backend_pid()")))


def _kill(postgres_url: str, pid: int) -> None:
    admin = make_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()
    time.sleep(0.1)  # the server closes the socket


def test_an_idle_connection_dropped_by_the_server_is_replaced_before_use(postgres_url: str):
    engine = make_engine(postgres_url, ping_after_idle=0.2)
    try:
        first = _backend_pid(engine)
        _kill(postgres_url, first)
        time.sleep(0.3)  # idle longer than the window: checked at checkout
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT 1")) == 1  # no error reaches the caller
            assert conn.scalar(text("SELECT pg_backend_pid()")) != first
    finally:
        engine.dispose()


def test_a_connection_used_a_moment_ago_is_not_pinged(postgres_url: str):
    engine = make_engine(postgres_url, ping_after_idle=60)
    statements: list[str] = []
    try:
        _backend_pid(engine)
        from sqlalchemy import event

        event.listen(engine, "before_cursor_execute",
                     lambda *args: statements.append(args[2]))
        with engine.connect() as conn:
            conn.scalar(text("SELECT 2"))
        assert statements == ["SELECT 2"]  # no ping before it
    finally:
        engine.dispose()


def test_a_disconnect_on_a_recently_used_connection_fails_once_then_the_pool_recovers(
    postgres_url: str,
):
    engine = make_engine(postgres_url, ping_after_idle=60, pool_size=3)
    try:
        # Two connections in the pool, both recently used; the server then drops both.
        with engine.connect() as a, engine.connect() as b:
            pids = [a.scalar(text("SELECT pg_backend_pid()")),
                    b.scalar(text("SELECT pg_backend_pid()"))]
        for pid in pids:
            _kill(postgres_url, int(pid))
        with pytest.raises(OperationalError), engine.connect() as conn:
            conn.scalar(text("SELECT 1"))
        # The disconnect invalidated the pool: the other dropped connection is not handed out.
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT pg_backend_pid()")) not in pids
    finally:
        engine.dispose()
