"""``idp deliver``: the delivery worker as an operator's command (run one or more, on any machine)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from idp.db import get_db
from idp.delivery.senders import ConfigurationError
from idp.delivery.worker import run_forever, run_once
from idp.metrics import outbox_collector, serve_worker
from idp.migrate import SchemaNotCurrent, check_current
from infra.logs import configure as configure_logs


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
@click.option(
    "--metrics-port",
    type=click.IntRange(min=0),
    default=None,
    help="Serve this worker's metrics on this port (default: IDP_METRICS_PORT; 0: none).",
)
@with_appcontext
def deliver(once: bool, interval: float, metrics_port: int | None) -> None:
    """Send the queued e-mails and SMS; loops until SIGTERM or SIGINT unless --once."""
    # A long-running worker: operators follow it in its output, JSON lines (message ids and outcomes, no recipient).
    configure_logs()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        check_current(get_db().engine)
        if once:
            click.echo(f"{run_once(app)} message(s) handled")
        else:
            serve_worker(app, "idp_delivery", metrics_port, outbox_collector(app))
            run_forever(app, interval)
    except (SchemaNotCurrent, ConfigurationError) as exc:
        raise click.ClickException(str(exc)) from None
