"""The filters of the journal's pages, read from the query string (GET: a filtered page can be bookmarked).

Dates are typed in Paris time (the election's time zone), as ``<input type="datetime-local">`` sends them, and
compared in UTC, the log's time zone. ``debut`` is included and ``fin`` excluded, as in ``idp audit export``.
Problems are French sentences shown above the form; a page with a problem lists nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from werkzeug.datastructures import MultiDict

from idp.audit.query import BadCursor, Cursor
from idp.auditors.tokenview import JTI_RE

PARIS = ZoneInfo("Europe/Paris")
_TEXT_RE = re.compile(r"[A-Za-z0-9._~:+-]{1,100}")
_TYPE_RE = re.compile(r"[a-z0-9_.]{1,60}")


@dataclass
class Filters:
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    types: tuple[str, ...] = ()
    client_id: str | None = None
    subject: str | None = None
    jti: str | None = None
    after: Cursor | None = None
    #: What the form shows back (the raw values), and the problems found.
    raw: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def query_args(self, **changes: str | None) -> dict[str, str | list[str]]:
        """The query string of this filter (for pagination links), with ``changes`` applied."""
        args: dict[str, str | list[str]] = {k: v for k, v in self.raw.items() if v and k != "type"}
        if self.types:
            args["type"] = list(self.types)
        for key, value in changes.items():
            if value is None:
                args.pop(key, None)
            else:
                args[key] = value
        return args


def _instant(raw: str, label: str, problems: list[str]) -> dt.datetime | None:
    if not raw:
        return None
    try:
        local = dt.datetime.fromisoformat(raw)
    except ValueError:
        problems.append(f"{label} : date et heure attendues (jj/mm/aaaa hh:mm).")
        return None
    if local.tzinfo is None:
        local = local.replace(tzinfo=PARIS)
    return local.astimezone(dt.UTC)


def _text(raw: str, label: str, problems: list[str], pattern: re.Pattern[str] = _TEXT_RE) -> str | None:
    if not raw:
        return None
    if not pattern.fullmatch(raw):
        problems.append(f"{label} : valeur non reconnue.")
        return None
    return raw


def parse(args: MultiDict[str, str], *, with_jti: bool = False) -> Filters:
    problems: list[str] = []
    raw = {name: args.get(name, "").strip()[:200] for name in ("debut", "fin", "client", "sujet", "jeton", "apres")}
    types = tuple(dict.fromkeys(t.strip() for t in args.getlist("type") if t.strip()))
    for kind in types:
        if not _TYPE_RE.fullmatch(kind):
            problems.append("Type d'événement : valeur non reconnue.")
            types = ()
            break
    filters = Filters(
        since=_instant(raw["debut"], "Du", problems),
        until=_instant(raw["fin"], "Au", problems),
        types=types,
        client_id=_text(raw["client"], "Client", problems),
        subject=_text(raw["sujet"], "Sujet", problems),
        jti=_text(raw["jeton"], "Identifiant de jeton (jti)", problems, JTI_RE) if with_jti else None,
        raw=raw,
        problems=problems,
    )
    if filters.since and filters.until and filters.since >= filters.until:
        problems.append("La date de début doit précéder la date de fin.")
    if raw["apres"]:
        try:
            filters.after = Cursor.decode(raw["apres"])
        except BadCursor:
            problems.append("Lien de page non reconnu : revenez à la première page.")
    return filters
