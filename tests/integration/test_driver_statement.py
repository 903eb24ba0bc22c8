"""`DriverStatement`: a hot-path statement run straight on psycopg on PostgreSQL must behave
as `Connection.execute` does: same rows, same stored values, SQLAlchemy's errors, and a lost
connection invalidated. The same statements run through SQLAlchemy on SQLite."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from server.db import Base, DriverStatement, make_engine
from server.models import SmsMessage

_messages = Base.metadata.tables["sms_messages"]
INSERT = DriverStatement(
    insert(_messages)
    .values(
        {
            _messages.c[name]: bindparam(name, type_=_messages.c[name].type)
            for name in (
                "direction", "phone", "body", "params", "status", "provider_sid", "created_at"
            )
        }
    )
    .returning(_messages.c.id, _messages.c.created_at)
)
BY_PHONE = DriverStatement(
    select(_messages.c.id, _messages.c.params, _messages.c.created_at)
    .where(_messages.c.phone == bindparam("phone"))
    .order_by(_messages.c.id)
)
TOUCH = DriverStatement(
    _messages.update().where(_messages.c.id == bindparam("key")).values(status="delivered")
)


def _values(**overrides: object) -> dict[str, object]:
    return {
        "direction": "out",
        "phone": "+8613900000001",
        "body": "【暖心探访】收到",
        "params": {"elder_code": "CDEAF", "名字": "张"},
        "status": "sent",
        "provider_sid": None,
        "created_at": datetime(2026, 12, 1, 8, 30, tzinfo=timezone(timedelta(hours=8))),
        **overrides,
    }


@pytest.fixture(params=["suite", "postgresql"])
def any_engine(request: pytest.FixtureRequest, engine: Engine) -> Engine:
    """The suite's database, and PostgreSQL where the driver path runs."""
    if request.param == "suite":
        return engine
    return request.getfixturevalue("pg_engine")  # type: ignore[no-any-return]


def test_rows_parameters_and_results_are_those_of_sqlalchemy(any_engine: Engine) -> None:
    with any_engine.begin() as conn:
        (new_id, created) = INSERT.first(conn, _values()) or ()
        assert created.astimezone(UTC) == datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
        assert TOUCH.rows(conn, {"key": new_id}) == []  # no RETURNING: no rows
        rows = BY_PHONE.rows(conn, {"phone": "+8613900000001"})
        assert [row[0] for row in rows] == [new_id]
        assert rows[0][1] == {"elder_code": "CDEAF", "名字": "张"}  # JSON round trip
        assert BY_PHONE.rows(conn, {"phone": "+8613900000002"}) == []
        core = conn.execute(select(SmsMessage.status, SmsMessage.created_at)).one()
        assert core.status == "delivered"
        assert core.created_at == datetime(2026, 12, 1, 0, 30, tzinfo=UTC)


def test_a_failed_statement_raises_sqlalchemys_error_and_the_transaction_rolls_back(
    any_engine: Engine,
) -> None:
    with any_engine.connect() as conn:
        INSERT.rows(conn, _values(provider_sid="SMdup"))
        with pytest.raises(IntegrityError) as raised:
            INSERT.rows(conn, _values(provider_sid="SMdup", phone="+8613955556666"))
        assert "+8613955556666" not in str(raised.value)  # no personal data in the error
        conn.rollback()
        assert BY_PHONE.rows(conn, {"phone": "+8613900000001"}) == []


def test_a_lost_connection_is_invalidated_and_the_next_one_works(
    pg_engine: Engine, postgres_url: str
) -> None:
    engine = make_engine(postgres_url, ping_after_idle=60)
    admin = make_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            pid = conn.scalar(text("SELECT pg_backend_pid()"))
            with admin.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            time.sleep(0.1)
            with pytest.raises(OperationalError) as raised:
                BY_PHONE.rows(conn, {"phone": "+8613900000001"})
            assert raised.value.connection_invalidated
        with engine.connect() as conn:
            assert BY_PHONE.rows(conn, {"phone": "+8613900000001"}) == []
    finally:
        engine.dispose()
        admin.dispose()
