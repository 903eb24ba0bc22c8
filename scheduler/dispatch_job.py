"""The outbox dispatcher as the `outbox_dispatch` job, and the lease that lets one dispatcher
send at a time.

TANFANG_SMS_RATE is the account's limit, so one dispatcher sends at a time: the scheduler's
job and any `tanfang sms dispatch` process take the `dispatcher` lease first, and the others
wait as standby. Several dispatchers would still never send a row twice (claims are
exclusive, see server.services.sms.dispatch), but together they would exceed the rate.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from scheduler.jobs import job
from scheduler.lease import Lease
from server.runtime import Runtime
from server.services.sms.dispatch import Dispatcher, DispatchReport, build_dispatcher

log = logging.getLogger(__name__)

DISPATCH_LEASE = "dispatcher"
# A job run stops after this long so the scheduler's lease is checked again; the next run
# (a few seconds later) goes on where it stopped.
JOB_BUDGET_S = 20.0


class LeasedDispatcher:
    """A dispatcher that sends only while it holds the `dispatcher` lease."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        dispatcher: Dispatcher,
        *,
        ttl: timedelta = timedelta(seconds=30),
    ) -> None:
        self.dispatcher = dispatcher
        self.lease = Lease(sessions, name=DISPATCH_LEASE, ttl=ttl)
        self._renew_every = ttl.total_seconds() / 3
        self._renewed_at = float("-inf")

    def _still_holding(self) -> bool:
        """Renew the lease when a third of it is gone; False once it is lost."""
        if time.monotonic() - self._renewed_at < self._renew_every:
            return True
        if self.lease.try_acquire():
            self._renewed_at = time.monotonic()
            return True
        log.warning("dispatcher %s lost the dispatcher lease", self.dispatcher.name)
        return False

    def run_once(
        self, *, budget_s: float | None = None, stop: threading.Event | None = None
    ) -> DispatchReport | None:
        """Send what is due (see Dispatcher.run_once); None when another dispatcher holds
        the lease."""
        self._renewed_at = float("-inf")
        if not self._still_holding():
            return None

        def keep_going() -> bool:
            return (stop is None or not stop.is_set()) and self._still_holding()

        return self.dispatcher.run_once(budget_s=budget_s, keep_going=keep_going)

    def run_forever(self, stop: threading.Event, *, idle_s: float = 1.0) -> DispatchReport:
        """Send until `stop` is set, looking at the outbox every `idle_s` seconds when it is
        empty; a database or provider outage is logged and waited out."""
        total = DispatchReport()
        try:
            while not stop.is_set():
                try:
                    report = self.run_once(stop=stop)
                except Exception:
                    log.exception("dispatcher %s: run failed; trying again", self.dispatcher.name)
                    report = None
                if report is not None:
                    total.add(report)
                    if report.handled:
                        _log_report(report)
                stop.wait(idle_s)
        finally:
            try:
                self.lease.release()
            except Exception:
                log.exception("dispatcher %s: could not release the lease", self.dispatcher.name)
        return total


_current: list[tuple[Runtime, LeasedDispatcher]] = []


def _for_runtime(rt: Runtime) -> LeasedDispatcher:
    """One dispatcher per runtime, built at its first run, so its pacing and HTTP
    connections carry over from one run to the next."""
    if not _current or _current[0][0] is not rt:
        _current[:] = [
            (rt, LeasedDispatcher(rt.sessions, build_dispatcher(rt.sessions, rt.config)))
        ]
    return _current[0][1]


@job("outbox_dispatch")
def outbox_dispatch(rt: Runtime, now: datetime) -> None:
    """Send the due outbox rows at TANFANG_SMS_RATE (for up to JOB_BUDGET_S seconds)."""
    report = _for_runtime(rt).run_once(budget_s=JOB_BUDGET_S)
    if report is None:
        log.debug("outbox_dispatch: another dispatcher holds the lease")
    elif report.handled:
        _log_report(report)


def _log_report(report: DispatchReport) -> None:
    # counts only
    counts = {k: v for k, v in asdict(report).items() if v}
    log.info("outbox dispatch: %s", ", ".join(f"{k} {v}" for k, v in counts.items()))
