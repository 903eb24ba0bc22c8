"""`tanfang sms inbound` and `tanfang sms wellness`: the same code as the webhook and the
scheduler's job, from the command line (the console backend's way to play a phone)."""

from __future__ import annotations

import click

from server.cli.base import InvalidInput, unit_of_work
from server.cli.sms import sms
from server.db import utcnow
from server.i18n import mask_phone


@sms.command("inbound")
@click.option("--from", "sender", required=True, help="The sender's phone number.")
@click.option("--sid", default=None, help="A provider message id (repeats are ignored).")
@click.argument("text")
def inbound_command(sender: str, sid: str | None, text: str) -> None:
    """Feed one inbound SMS through the webhook's code and print the reply."""
    from server.services.sms.inbound import handle_inbound

    with unit_of_work() as (rt, session):
        result = handle_inbound(
            session, rt.inbound_context(), sender=sender, body=text, sid=sid, now=utcnow()
        )
        phone = result.message.phone if result.message else sender
    click.echo(f"from {mask_phone(phone)}: handled as {result.handled_as}", err=True)
    if result.reply_text:
        click.echo(result.reply_text)


@sms.command("wellness")
@click.option("--area", "area_code", default=None, help="Only elders in this area.")
@click.option(
    "--elder", "elder_external_id", default=None, help="One elder (sent now, due or not)."
)
def wellness_command(area_code: str | None, elder_external_id: str | None) -> None:
    """Queue wellness checks now to the elders whose tier says one is due."""
    from sqlalchemy import select

    from server.models import Elder
    from server.services.sms.notices import send_wellness_checks

    with unit_of_work() as (rt, session):
        if elder_external_id is not None:
            elder = session.scalar(select(Elder).where(Elder.external_id == elder_external_id))
            if elder is None:
                raise InvalidInput(f"--elder: unknown elder {elder_external_id!r}")
            if elder.status != "active" or not elder.phone or elder.sms_opted_out:
                raise InvalidInput(
                    f"--elder: {elder_external_id} cannot be sent SMS"
                    " (deactivated, no phone, or opted out)"
                )
        try:
            queued = send_wellness_checks(
                session,
                tz=rt.config.tz,
                now=utcnow(),
                intervals=rt.config.wellness_days,
                area_code=area_code,
                elder_external_id=elder_external_id,
            )
        except LookupError as exc:
            raise InvalidInput(f"--area: {exc}") from exc
    click.echo(f"{queued} wellness checks queued (sent by the dispatcher, in daytime)")
