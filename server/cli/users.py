"""`tanfang user create` and `tanfang user set-pin`."""

from __future__ import annotations

import secrets

import click
from sqlalchemy import select

from server.cli.base import InvalidInput, main, unit_of_work
from server.i18n import mask_phone
from server.models import Area, Worker
from server.services.auth import AuthError, revoke_all_tokens, set_pin
from server.services.phones import PhoneError, normalize_phone
from server.vocab import ROLES


@main.group("user")
def user_group() -> None:
    """Logins: people who sign in to the web app, the API or the worker PWA."""


def _phone(raw: str) -> str:
    try:
        return normalize_phone(raw)
    except PhoneError as exc:
        raise InvalidInput(f"--phone: {exc}") from exc


@user_group.command("create")
@click.option("--phone", required=True, help="Mobile number; any common Chinese form.")
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--area", "area_codes", multiple=True, help="Area code served or overseen.")
@click.option("--pin", default=None, help="4-12 digit PIN (else set it later with set-pin).")
@click.option("--locale", type=click.Choice(["zh_CN", "en"]), default=None)
def user_create(
    phone: str,
    name: str,
    role: str,
    area_codes: tuple[str, ...],
    pin: str | None,
    locale: str | None,
) -> None:
    """Create a login, or update the person with this phone."""
    number = _phone(phone)
    with unit_of_work() as (rt, session):
        areas = []
        for code in area_codes:
            area = session.scalar(select(Area).where(Area.code == code))
            if area is None:
                raise InvalidInput(f"--area: unknown area {code!r}")
            areas.append(area)
        worker = session.scalar(select(Worker).where(Worker.phone == number))
        created = worker is None
        if worker is None:
            worker = Worker(
                # not derived from the phone: ids end up in exports and logs
                external_id=f"U{secrets.token_hex(5).upper()}",
                phone=number,
                name=name,
                role=role,
                locale=locale or rt.config.locale,
                monthly_capacity=0,
            )
            session.add(worker)
        else:
            worker.name, worker.role = name, role
            if locale:
                worker.locale = locale
        if areas:
            worker.areas = areas
        session.flush()
        if pin is not None:
            try:
                set_pin(session, worker, pin, rt.config.pepper)
            except AuthError as exc:
                raise InvalidInput(f"--pin: {exc}") from exc
        click.echo(
            f"{'created' if created else 'updated'} {worker.role} {worker.external_id}"
            f" ({mask_phone(number)})"
        )


@user_group.command("set-pin")
@click.argument("phone")
@click.argument("pin")
def user_set_pin(phone: str, pin: str) -> None:
    """Set or reset the PIN of the login with this phone; signs out its sessions."""
    number = _phone(phone)
    with unit_of_work() as (rt, session):
        worker = session.scalar(select(Worker).where(Worker.phone == number))
        if worker is None:
            raise InvalidInput(f"PHONE: no login with phone {mask_phone(number)}")
        try:
            set_pin(session, worker, pin, rt.config.pepper)
        except AuthError as exc:
            raise InvalidInput(f"PIN: {exc}") from exc
        revoke_all_tokens(session, worker.id)
        click.echo(f"PIN set for {worker.external_id}")
