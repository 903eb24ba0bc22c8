"""`tanfang sms ...`: the SMS commands (SPEC section 3). The group is shared: `sms inbound`
and `sms wellness` join it from their own code."""

from __future__ import annotations

import signal
import threading
from dataclasses import asdict
from datetime import timedelta
from types import FrameType

import click

from server.cli.base import load_config, main, open_runtime
from server.config import ConfigError


@main.group("sms")
def sms() -> None:
    """SMS: send the outbox, feed an inbound message, send wellness checks."""


@sms.command("dispatch")
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
@click.option(
    "--idle", default=1.0, show_default=True, help="Seconds between looks at an empty outbox."
)
@click.option(
    "--lease",
    "lease_s",
    default=30.0,
    hidden=True,
    help="Seconds a claim and the dispatcher lease last before another dispatcher takes over.",
)
def dispatch_command(once: bool, idle: float, lease_s: float) -> None:
    """Send the outbox at TANFANG_SMS_RATE (the scheduler does this too; one dispatcher
    sends at a time, others wait as standby)."""
    from scheduler.dispatch_job import LeasedDispatcher
    from server.services.sms.dispatch import build_dispatcher

    if idle <= 0 or lease_s <= 0:
        raise click.UsageError("--idle and --lease must be positive")
    config = load_config()
    with open_runtime(config) as rt:
        try:
            dispatcher = build_dispatcher(
                rt.sessions, config, claim_lease=timedelta(seconds=lease_s)
            )
        except ConfigError as exc:
            raise click.UsageError(str(exc)) from exc
        leased = LeasedDispatcher(rt.sessions, dispatcher, ttl=timedelta(seconds=lease_s))
        if once:
            report = leased.run_once()
            if report is None:
                click.echo("another dispatcher is sending; nothing done")
                return
            leased.lease.release()
        else:
            stop = threading.Event()

            def _stop(signum: int, _frame: FrameType | None) -> None:
                stop.set()

            signal.signal(signal.SIGTERM, _stop)
            signal.signal(signal.SIGINT, _stop)
            report = leased.run_forever(stop, idle_s=idle)
        counts = {k: v for k, v in asdict(report).items() if v and k != "batches"}
        click.echo("outbox: " + (", ".join(f"{k} {v}" for k, v in counts.items()) or "nothing due"))
