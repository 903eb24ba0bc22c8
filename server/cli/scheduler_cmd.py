"""`tanfang scheduler`: the timed-jobs process."""

from __future__ import annotations

import signal
from types import FrameType

import click

from server.cli.base import main, open_runtime


@main.command("scheduler")
@click.option(
    "--heartbeat", default=10.0, show_default=True, help="Seconds between lease renewals."
)
@click.option(
    "--ttl", default=30.0, show_default=True, help="Seconds before a silent holder's lease lapses."
)
def scheduler_command(heartbeat: float, ttl: float) -> None:
    """Run the timed jobs (one active process per database; others wait as standby)."""
    from datetime import timedelta

    from scheduler.process import SchedulerProcess

    if heartbeat <= 0 or ttl <= heartbeat:
        raise click.UsageError("--ttl must be longer than --heartbeat, both positive")
    with open_runtime() as rt:
        process = SchedulerProcess(rt, ttl=timedelta(seconds=ttl), heartbeat=heartbeat)

        def _stop(signum: int, _frame: FrameType | None) -> None:
            process.stop()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        process.run_forever()
