"""The root command group and what every command shares: configuration and a runtime."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session

from server.config import Config, ConfigError
from server.db import transaction
from server.runtime import Runtime

EXIT_INVALID = 1
EXIT_MISUSE = 2


class InvalidInput(click.ClickException):
    """Bad input data: printed to stderr, exit status 1."""

    exit_code = EXIT_INVALID


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """Tanfang (探访): monthly care visits for elderly people in special-difficulty families."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    ctx.ensure_object(dict)


def load_config() -> Config:
    """The configuration from the environment; a bad setting is misuse (exit 2)."""
    try:
        return Config.from_env()
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc


@contextmanager
def open_runtime(config: Config | None = None) -> Iterator[Runtime]:
    """A runtime for one command, disposed of at the end."""
    rt = Runtime.build(config or load_config())
    try:
        yield rt
    finally:
        rt.dispose()


@contextmanager
def unit_of_work(config: Config | None = None) -> Iterator[tuple[Runtime, Session]]:
    """A runtime and one transaction, committed when the block succeeds."""
    with open_runtime(config) as rt, transaction(rt.sessions) as session:
        yield rt, session
