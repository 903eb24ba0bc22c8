"""A scheduler process for tests: one fast `probe` job that records each run.

python -m tests.support.scheduler_probe DATABASE_URL INTERVAL_S TTL_S HEARTBEAT_S
"""

from __future__ import annotations

import logging
import signal
import sys
from dataclasses import replace
from datetime import datetime, timedelta

from scheduler import jobs
from scheduler.process import JobSpec, SchedulerProcess
from server.config import Config
from server.db import transaction
from server.models import AuditEntry
from server.runtime import Runtime


def main() -> None:
    url, interval, ttl, heartbeat = (
        sys.argv[1],
        float(sys.argv[2]),
        float(sys.argv[3]),
        float(sys.argv[4]),
    )
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    rt = Runtime.build(replace(Config(), database_url=url, secret_key="probe"))
    process = SchedulerProcess(
        rt,
        # anchored fire times (multiples of the interval since 2020) so tests know the phase
        schedule=(
            JobSpec(
                "probe",
                {"type": "interval", "seconds": interval, "start_date": "2020-01-01 00:00:00"},
                None,
            ),
        ),
        ttl=timedelta(seconds=ttl),
        heartbeat=heartbeat,
    )

    def probe(runtime: Runtime, now: datetime) -> None:
        with transaction(runtime.sessions) as session:
            session.add(
                AuditEntry(
                    action="probe",
                    object_type="job",
                    object_id=process.lease.holder,
                    detail={"at": now.isoformat()},
                )
            )

    jobs.JOB_FUNCTIONS["probe"] = probe
    signal.signal(signal.SIGTERM, lambda *_: process.stop())
    print(process.lease.holder, flush=True)
    process.run_forever()


if __name__ == "__main__":
    main()
