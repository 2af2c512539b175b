"""The portal's domain metrics: ballots cast (once their transaction commits), the waiting room, the portal's
outbox (computed at scrape by ``portal deliver --loop``).

No label names a voter or a scrutin's voter; ballots are counted, never described (the ballot box holds no
reference to the voter, and neither does a metric: a count per minute is what the console shows anyway).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge

from infra import metrics
from infra.metrics import PREFIX

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric
    from sqlalchemy.orm import Session

    from relying_party.db import Database

APP = "portal"

BALLOTS_CAST = Counter(PREFIX + "ballots_cast", "Ballots accepted into the ballot box (each with its émargement).")
WAITING_ROOM_QUEUE = Gauge(
    PREFIX + "waiting_room_queue",
    "Voters waiting in the « Salle d'attente », as counted at the latest visit of any process.",
    multiprocess_mode="mostrecent",
)
WAITING_ROOM_IN_PROGRESS = Gauge(
    PREFIX + "waiting_room_in_progress",
    "Journeys in progress (slots taken) as counted at the latest visit of any process.",
    multiprocess_mode="mostrecent",
)
WAITING_ROOM_ADMITTED = Counter(PREFIX + "waiting_room_admitted", "Voters admitted into a journey by the waiting room.")
WAITING_ROOM_HELD = Counter(
    PREFIX + "waiting_room_held", "Waiting room pages shown (a voter held back, each refresh counted)."
)


def ballot_cast(session: Session) -> None:
    """Count a ballot when the transaction that stores it (with its émargement) commits."""
    metrics.after_commit(session, BALLOTS_CAST.inc)


def outbox_collector(database: Database) -> metrics.ScrapeCollector:
    """The portal's outbox (mail to the support address): pending messages and the oldest one's age."""
    from relying_party.models import OutboxMessage

    def compute() -> Iterable[Metric]:
        with database.reader() as session:
            return metrics.outbox_families(
                session, table=OutboxMessage.__table__, group=None, app=APP, groups=("email",)
            )

    return metrics.ScrapeCollector("portal_outbox", compute)
