"""The timed-jobs process: APScheduler 3.x, in its own process, one active per database.

`tanfang scheduler` runs `SchedulerProcess.run_forever()`; `tanfang demo` runs the same thing
in a background thread. Only the holder of the lease runs jobs; a second process waits as a
standby and takes over within `ttl + heartbeat` seconds (under a minute) when the first dies.

Jobs live in a persistent job store, so after downtime a missed run is run once (coalesced),
not once per missed fire time.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from scheduler import dispatch_job, jobs, tasks  # noqa: F401  (registers the job functions)
from scheduler.lease import Lease
from server.runtime import Runtime

log = logging.getLogger(__name__)
# APScheduler logs every run at INFO; its warnings (misfires, errors) are what matter.
logging.getLogger("apscheduler").setLevel(logging.WARNING)

JOBSTORE_TABLE = "scheduler_jobs"


@dataclass(frozen=True)
class JobSpec:
    """One timed job: its id, when it runs, and how late a missed run may still start."""

    id: str
    trigger: dict[str, Any]
    misfire_grace_s: int | None

    def build_trigger(self, timezone: str) -> CronTrigger | IntervalTrigger:
        """The APScheduler trigger in the deployment's time zone."""
        kind = self.trigger["type"]
        fields = {k: v for k, v in self.trigger.items() if k != "type"}
        if kind == "cron":
            return CronTrigger(timezone=timezone, **fields)
        return IntervalTrigger(timezone=timezone, **fields)


# Grace: None means "however late, run once"; a digest at 15:00 is worse than none.
SCHEDULE: tuple[JobSpec, ...] = (
    JobSpec("plan_next_month", {"type": "cron", "day": "last", "hour": 20, "minute": 0}, None),
    JobSpec("ensure_month_planned", {"type": "cron", "minute": 5}, None),
    JobSpec("overdue_sweep", {"type": "cron", "hour": 7, "minute": 30}, None),
    JobSpec("daily_digest", {"type": "cron", "hour": 8, "minute": 0}, 3 * 3600),
    JobSpec("wellness_checks", {"type": "cron", "hour": 10, "minute": 0}, 6 * 3600),
    JobSpec("escalation_sweep", {"type": "interval", "minutes": 5}, None),
    JobSpec("month_end", {"type": "cron", "day": "last", "hour": 18, "minute": 0}, 12 * 3600),
    # Sends the outbox; a run stops after JOB_BUDGET_S and the next one carries on.
    JobSpec("outbox_dispatch", {"type": "interval", "seconds": 3}, None),
)


class SchedulerProcess:
    """Holds the lease while alive and runs the schedule only while holding it."""

    def __init__(
        self,
        rt: Runtime,
        *,
        schedule: tuple[JobSpec, ...] = SCHEDULE,
        ttl: timedelta = timedelta(seconds=30),
        heartbeat: float = 10.0,
    ) -> None:
        self.rt = rt
        self.schedule = schedule
        self.heartbeat = heartbeat
        self.lease = Lease(rt.sessions, ttl=ttl)
        self.stop_event = threading.Event()
        self._scheduler: BackgroundScheduler | None = None

    @property
    def active(self) -> bool:
        """True while this process runs the jobs."""
        return self._scheduler is not None

    def run_forever(self) -> None:
        """Heartbeat loop: acquire or renew the lease, start or stop the jobs accordingly."""
        log.info("scheduler %s starting (standby until it holds the lease)", self.lease.holder)
        try:
            while not self.stop_event.is_set():
                try:
                    holding = self.lease.try_acquire()
                except Exception:  # the database may be down; keep trying, hold nothing
                    log.exception("scheduler: lease check failed")
                    holding = False
                if holding and not self.active:
                    self._start()
                elif not holding and self.active:
                    log.warning("scheduler: lease lost, stopping jobs")
                    self._stop()
                self.stop_event.wait(self.heartbeat)
        finally:
            if self.active:
                self._stop()
                self.lease.release()

    def stop(self) -> None:
        """Ask the loop to end (signal handlers, tests, demo shutdown)."""
        self.stop_event.set()

    def _start(self) -> None:
        log.info("scheduler %s is active", self.lease.holder)
        jobs.bind(self.rt, self.lease)
        timezone = self.rt.config.timezone
        scheduler = BackgroundScheduler(
            jobstores={
                "default": SQLAlchemyJobStore(engine=self.rt.engine, tablename=JOBSTORE_TABLE)
            },
            executors={"default": ThreadPoolExecutor(4)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=timezone,
        )
        scheduler.start(paused=True)
        for spec in self.schedule:
            trigger = spec.build_trigger(timezone)
            existing = scheduler.get_job(spec.id)
            # Re-adding a job would compute its next run from now and forget a missed run,
            # so an unchanged job is left as stored.
            if existing is not None and str(existing.trigger) == str(trigger):
                continue
            scheduler.add_job(
                jobs.run_job,
                trigger=trigger,
                args=[spec.id],
                id=spec.id,
                name=spec.id,
                replace_existing=True,
                misfire_grace_time=spec.misfire_grace_s,
            )
        for job in scheduler.get_jobs():
            if job.id not in {s.id for s in self.schedule}:
                job.remove()
        scheduler.resume()
        self._scheduler = scheduler

    def _stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        jobs.unbind()
