"""``idp deliver``: the delivery worker as an operator's command (run one or more, on any machine)."""

from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import with_appcontext


def register(main: click.Group) -> None:
    main.add_command(deliver)


@click.command("deliver")
@click.option("--once", is_flag=True, help="Send what is due now, then exit (cron, tests, demo).")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="Seconds between two rounds when looping.",
)
@with_appcontext
def deliver(once: bool, interval: float) -> None:
    """Send the queued e-mails and SMS; loops until SIGTERM or SIGINT unless --once."""
    from idp.db import get_db
    from idp.delivery.senders import ConfigurationError
    from idp.delivery.worker import run_forever, run_once
    from idp.migrate import SchemaNotCurrent, check_current

    if not logging.getLogger().handlers:
        # A long-running worker: operators follow it in its output (message ids and outcomes, no recipient).
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        check_current(get_db().engine)
        if once:
            click.echo(f"{run_once(app)} message(s) handled")
        else:
            run_forever(app, interval)
    except (SchemaNotCurrent, ConfigurationError) as exc:
        raise click.ClickException(str(exc)) from None
