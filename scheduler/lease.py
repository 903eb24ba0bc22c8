"""One active scheduler per database: a lease row renewed by a heartbeat.

The holder renews the lease every `heartbeat` seconds; a standby takes it over once it has
not been renewed for `ttl` seconds. The same code works on SQLite and PostgreSQL (the
update is a single conditional statement, atomic on both).
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from server.db import utcnow
from server.models import SchedulerLease


def holder_id() -> str:
    """This process's identity: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Lease:
    """A named lease held by at most one process at a time."""

    sessions: sessionmaker[Session]
    name: str = "scheduler"
    ttl: timedelta = timedelta(seconds=30)
    holder: str = field(default_factory=holder_id)

    def try_acquire(self, now: datetime | None = None) -> bool:
        """Take or renew the lease; True when this process holds it afterwards."""
        now = now or utcnow()
        with self.sessions() as session:
            result = session.execute(
                update(SchedulerLease)
                .where(
                    SchedulerLease.name == self.name,
                    or_(SchedulerLease.holder == self.holder, SchedulerLease.expires_at < now),
                )
                .values(holder=self.holder, expires_at=now + self.ttl, heartbeat_at=now)
            )
            if getattr(result, "rowcount", 0) == 1:
                session.commit()
                return True
            exists = session.scalar(
                select(SchedulerLease.name).where(SchedulerLease.name == self.name)
            )
            if exists is not None:
                session.rollback()
                return False
            session.add(
                SchedulerLease(
                    name=self.name, holder=self.holder, expires_at=now + self.ttl, heartbeat_at=now
                )
            )
            try:
                session.commit()
            except IntegrityError:
                session.rollback()  # another process inserted it first
                return False
            return True

    def held(self, now: datetime | None = None) -> bool:
        """True while this process holds an unexpired lease (checked before each job)."""
        now = now or utcnow()
        with self.sessions() as session:
            row = session.get(SchedulerLease, self.name)
            return row is not None and row.holder == self.holder and row.expires_at > now

    def release(self) -> None:
        """Give the lease up at a clean shutdown so a standby need not wait for it to expire."""
        with self.sessions() as session:
            session.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == self.name, SchedulerLease.holder == self.holder)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
            session.commit()
