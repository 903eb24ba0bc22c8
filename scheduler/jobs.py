"""The timed jobs: module-level functions named by id, so a persistent job store can hold them.

Each job reloads what it needs from the database and does nothing when there is nothing to
do. `run_job` runs only while this process holds the scheduler lease, so a process that lost
the lease (a long pause, a network split) cannot run a job beside the new holder.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from scheduler.lease import Lease
from server.db import utcnow
from server.runtime import Runtime

log = logging.getLogger(__name__)

JobFunction = Callable[[Runtime, datetime], None]

JOB_FUNCTIONS: dict[str, JobFunction] = {}

_bound: dict[str, object] = {}


def job(job_id: str) -> Callable[[JobFunction], JobFunction]:
    """Register a function as the job `job_id`."""

    def decorator(function: JobFunction) -> JobFunction:
        JOB_FUNCTIONS[job_id] = function
        return function

    return decorator


def bind(rt: Runtime, lease: Lease | None) -> None:
    """Give the jobs the process's runtime and lease (called when the process turns active)."""
    _bound["runtime"] = rt
    _bound["lease"] = lease


def unbind() -> None:
    """Forget the runtime (the process turned standby or stopped)."""
    _bound.clear()


def run_job(job_id: str) -> None:
    """Entry point the scheduler calls with a job id."""
    rt = _bound.get("runtime")
    lease = _bound.get("lease")
    if not isinstance(rt, Runtime):
        log.warning("job %s skipped: the scheduler is not active", job_id)
        return
    if isinstance(lease, Lease) and not lease.held():
        log.warning("job %s skipped: this process no longer holds the lease", job_id)
        return
    function = JOB_FUNCTIONS.get(job_id)
    if function is None:
        log.error("job %s has no function", job_id)
        return
    started = time.monotonic()
    try:
        function(rt, utcnow())
    except Exception:
        log.exception("job %s failed", job_id)
        raise
    # the outbox job runs every few seconds: its routine line would drown the log
    log.debug("job %s done in %.2f s", job_id, time.monotonic() - started)
