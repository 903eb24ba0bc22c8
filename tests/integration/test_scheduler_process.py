"""The scheduler process: one active per database, a standby that takes over, and missed
runs run once after downtime."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from server.models import AuditEntry

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


class Probe:
    """A `tests.support.scheduler_probe` subprocess."""

    def __init__(self, url: str, interval: float, ttl: float = 3.0, heartbeat: float = 0.5):
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.scheduler_probe",
                url,
                str(interval),
                str(ttl),
                str(heartbeat),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert self.proc.stdout is not None
        self.holder = self.proc.stdout.readline().strip()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)
        self._close()

    def _close(self) -> None:
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def probes() -> Iterator[list[Probe]]:
    started: list[Probe] = []
    yield started
    for probe in started:
        if probe.proc.poll() is None:
            probe.kill()
        probe._close()


def _runs(engine: Engine) -> list[tuple[str, datetime]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(AuditEntry.object_id, AuditEntry.at)
            .where(AuditEntry.action == "probe")
            .order_by(AuditEntry.at)
        ).all()
    return [(str(holder), at) for holder, at in rows]


def _wait_for(condition: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.2)


def test_two_processes_run_each_job_once_and_the_standby_takes_over(
    pg_engine: Engine, postgres_url: str, probes: list[Probe]
) -> None:
    first = Probe(postgres_url, interval=1.0)
    probes.append(first)
    _wait_for(lambda: len(_runs(pg_engine)) >= 1, 15)
    second = Probe(postgres_url, interval=1.0)
    probes.append(second)
    time.sleep(5)
    runs = _runs(pg_engine)
    assert runs, "the active scheduler ran nothing"
    assert {holder for holder, _ in runs} == {first.holder}, "the standby ran a job"
    # one run per fire time: consecutive runs are about a second apart, never doubled
    gaps = [(b - a).total_seconds() for (_, a), (_, b) in itertools.pairwise(runs)]
    assert all(gap > 0.5 for gap in gaps), gaps

    first.kill()
    killed_at = len(runs)
    _wait_for(lambda: any(h == second.holder for h, _ in _runs(pg_engine)), 20)
    time.sleep(2)
    after = _runs(pg_engine)[killed_at:]
    assert after and {holder for holder, _ in after} <= {first.holder, second.holder}
    assert any(holder == second.holder for holder, _ in after), "the standby never took over"
    # the new holder runs the missed fire times once (coalesced), then keeps the cadence
    taken_over = [at for holder, at in _runs(pg_engine) if holder == second.holder]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(taken_over[1:])]
    assert all(gap > 0.5 for gap in gaps), gaps
    assert all(at > runs[-1][1] for at in taken_over)
    second.stop()


def test_missed_runs_run_once_after_downtime(
    engine: Engine, database_url: str, probes: list[Probe]
) -> None:
    interval = 4.0
    first = Probe(database_url, interval=interval)
    probes.append(first)
    _wait_for(lambda: len(_runs(engine)) >= 1, 20)
    first.stop()  # a clean stop releases the lease
    before = len(_runs(engine))
    time.sleep(2.5 * interval)  # at least two fire times pass with no scheduler running
    second = Probe(database_url, interval=interval)
    probes.append(second)
    _wait_for(lambda: len(_runs(engine)) > before, 30)
    caught_up = _runs(engine)[before:]
    assert caught_up and caught_up[0][0] == second.holder
    first_run = caught_up[0][1].timestamp()
    # fire times are multiples of the interval (UTC, since 2020); wait for the next one
    next_fire = (first_run // interval + 1) * interval
    time.sleep(max(0.0, next_fire - time.time() - 0.1))
    before_next = [at for _, at in _runs(engine)[before:] if at.timestamp() < next_fire - 0.05]
    assert len(before_next) == 1, f"expected one catch-up run, got {len(before_next)}"
    second.stop()
