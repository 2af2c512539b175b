"""The scrutins as the pages show them, kept in each web process for a few seconds.

Every signed-in page of a journey (home, « Je vote », the ballot, the cast, the receipt) shows the voter's scrutins
with their lists and candidates, and the ballot pages their election (manifest, hash, key). Those rows are loaded
by the election import and the key ceremony and do not change while the vote runs, yet reading them through the
ORM cost about 40 % of the portal's CPU per journey (four queries and a few dozen objects per page, and the
manifest hashed again each time: ``python -m benchmarks.voter_journey --profile``). So each process keeps what it
read, per scrutin, for ``PORTAL_ELECTION_CACHE_SECONDS`` (an operator's change shows within that time), and a page
asks the database only what is the voter's own and live: their roll entries and their émargements, in one query.

What stays authoritative in the database: casting a ballot reads the scrutin again inside its transaction (the
opening window, the roll) and the émargement's unique key decides "already voted", whatever a page showed.

The cached rows are ORM objects detached from any session, every attribute the pages read loaded (lists and their
candidates; the PDF of a profession de foi stays deferred and is read by its own query). They are shared by the
threads of a process: read them, never change them or add them to a session.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from relying_party.db import Database
from relying_party.models import CandidateList, Scrutin
from relying_party.voting.election import ElectionInfo, election_info

EXTENSION = "portal.catalogue"


@dataclass(frozen=True)
class Entry:
    """One scrutin as read at ``loaded_at`` (monotonic): the row with its lists and candidates, and its election
    (None while it has no complete key ceremony)."""

    scrutin: Scrutin
    election: ElectionInfo | None
    loaded_at: float
    #: Parts of pages that depend on this scrutin alone, rendered once from these rows (:meth:`Catalogue.fragment`).
    fragments: dict[tuple[str, ...], str] = field(default_factory=dict, compare=False, repr=False)


class Catalogue:
    """Scrutins by id, each re-read from ``database`` once older than ``max_age`` seconds (0: read every time)."""

    def __init__(self, database: Database, max_age: float) -> None:
        self.database = database
        self.max_age = max_age
        self._entries: dict[int, Entry] = {}
        #: The id of each scrutin code read (a code names one scrutin; :meth:`by_code` checks it still does).
        self._ids: dict[str, int] = {}
        self._lock = threading.Lock()

    def entries(self, scrutin_ids: Iterable[int]) -> dict[int, Entry]:
        """The entries of ``scrutin_ids`` that exist, fresh ones from memory, the others read in one query."""
        wanted = set(scrutin_ids)
        now = time.monotonic()
        found = {i: e for i in wanted if (e := self._entries.get(i)) is not None and now - e.loaded_at < self.max_age}
        missing = wanted - found.keys()
        if missing:
            loaded = self._load(missing)
            with self._lock:
                self._entries.update(loaded)
                self._ids.update((entry.scrutin.code, i) for i, entry in loaded.items())
            found.update(loaded)
        return found

    def fragment(self, scrutin: Scrutin, key: tuple[str, ...], render: Callable[[], str]) -> str:
        """What ``render`` makes of ``scrutin`` (a part of a page that depends on it alone), rendered once per entry:
        again when the entry is read again. ``key`` names the part and whatever else it depends on. A scrutin that
        is not this catalogue's current row (read elsewhere, or since replaced) is rendered every time."""
        entry = self._entries.get(scrutin.id)
        if entry is None or entry.scrutin is not scrutin:
            return render()
        found = entry.fragments.get(key)
        if found is None:
            found = entry.fragments[key] = render()
        return found

    def by_code(self, code: str) -> Entry | None:
        """The entry of the scrutin ``code`` if this process has read it before (re-read once older than
        ``max_age``), else None: the caller finds it through the voter's roll instead. Whether the voter is on its
        roll is for the caller to check."""
        scrutin_id = self._ids.get(code)
        if scrutin_id is None:
            return None
        entry = self.entries([scrutin_id]).get(scrutin_id)
        return entry if entry is not None and entry.scrutin.code == code else None

    def _load(self, scrutin_ids: set[int]) -> dict[int, Entry]:
        with self.database.reader() as session:
            scrutins = (
                session.execute(
                    select(Scrutin)
                    .where(Scrutin.id.in_(scrutin_ids))
                    .options(selectinload(Scrutin.lists).selectinload(CandidateList.candidates))
                )
                .scalars()
                .all()
            )
            elections = {scrutin.id: election_info(session, scrutin) for scrutin in scrutins}
            # Detached before the transaction ends: a rollback would expire what was loaded.
            session.expunge_all()
            session.rollback()
        loaded_at = time.monotonic()
        return {scrutin.id: Entry(scrutin, elections[scrutin.id], loaded_at) for scrutin in scrutins}


def init_app(app: Flask, database: Database) -> None:
    app.extensions[EXTENSION] = Catalogue(database, float(app.config["ELECTION_CACHE_SECONDS"]))


def election_of(scrutin: Scrutin) -> ElectionInfo | None:
    """The election of ``scrutin`` (a request's), as the catalogue has it: None while it has no complete key
    ceremony."""
    entry = get_catalogue().entries([scrutin.id]).get(scrutin.id)
    return entry.election if entry is not None else None


def get_catalogue() -> Catalogue:
    catalogue = current_app.extensions[EXTENSION]
    assert isinstance(catalogue, Catalogue)
    return catalogue
