"""The demo election of the seed: Mme Claire Jullien and M. Marc Durand, académie de Dijon, several scrutins open
now for seven more days. Dates are computed from the moment of loading; organisations and candidates are fictitious.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from relying_party.db import Database
from relying_party.elections.importer import ImportReport, import_document
from relying_party.elections.pdf import simple_pdf

DEMO_VOTERS = {
    "claire.jullien@ac-dijon.fr": "Mme JULLIEN Claire",
    "marc.durand@ac-dijon.fr": "M. DURAND Marc Antoine",
    "sophie.exemple@ac-dijon.fr": "Mme EXEMPLE Sophie",
    "julien.fictif@ac-dijon.fr": "M. FICTIF Julien",
}

#: Fictitious organisations (no real union is named in the demo).
ORGANISATIONS = [
    ("SFEP", "Syndicat fictif de l'enseignement public"),
    ("UIP", "Union imaginaire des personnels"),
    ("FEE", "Fédération exemple de l'éducation"),
    ("CDE", "Collectif démonstration des enseignants"),
]

_CANDIDATES = [
    ("Mme", "ARNAUD", "Élise"),
    ("M.", "BLANCHARD", "Hugo"),
    ("Mme", "CARON", "Inès"),
    ("M.", "DUPRÉ", "Louis"),
    ("Mme", "ÉTIENNE", "Maëlle"),
    ("M.", "FAURE", "Noé"),
    ("Mme", "GIRARD", "Océane"),
    ("M.", "HUET", "Paul"),
]

SCRUTINS = [
    (
        "CSA-MEN-2022",
        "csa_ministeriel",
        "Comité social d'administration ministériel de l'éducation nationale et de la jeunesse",
        4,
    ),
    ("CSA-ACA-DIJON-2022", "csa_academique", "Comité social d'administration académique de Dijon", 3),
    (
        "CAPA-CERT-DIJON-2022",
        "cap_academique",
        "Commission administrative paritaire académique des professeurs certifiés – Dijon",
        3,
    ),
]


def demo_window(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Opened at the previous full hour a day ago; closes seven days from now, at the next full hour."""
    hour = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return hour - dt.timedelta(days=1), hour + dt.timedelta(days=7, hours=1)


def demo_document(now: dt.datetime, pdf_names: dict[str, str]) -> dict[str, Any]:
    opens_at, closes_at = demo_window(now)
    scrutins = []
    for index, (code, kind, label, list_count) in enumerate(SCRUTINS):
        lists = []
        for position, (acronym, name) in enumerate(ORGANISATIONS[:list_count], start=1):
            chosen = [_CANDIDATES[(index + position + k) % len(_CANDIDATES)] for k in range(3)]
            lists.append(
                {
                    "position": position,
                    "organisation": f"{name} ({acronym})",
                    "profession_de_foi": pdf_names[acronym],
                    "candidates": [{"civility": c, "family_name": f, "given_name": g} for c, f, g in chosen],
                }
            )
        scrutins.append(
            {
                "code": code,
                "label": label,
                "kind": kind,
                "opens_at": opens_at.isoformat(),
                "closes_at": closes_at.isoformat(),
                "lists": lists,
                "roll": [{"identifier": identifier, "display_name": name} for identifier, name in DEMO_VOTERS.items()],
            }
        )
    return {"version": 1, "scrutins": scrutins}


def load_demo(database: Database, now: dt.datetime, *, max_pdf_bytes: int) -> ImportReport:
    with tempfile.TemporaryDirectory(prefix="portal-demo-") as directory:
        pdf_names = {}
        for acronym, name in ORGANISATIONS:
            filename = f"profession-de-foi-{acronym.lower()}.pdf"
            (Path(directory) / filename).write_bytes(
                simple_pdf(
                    [
                        "Profession de foi",
                        f"{name} ({acronym})",
                        "",
                        "Document fictif de démonstration du portail Élections.",
                        "Aucune organisation réelle n'est représentée.",
                    ]
                )
            )
            pdf_names[acronym] = filename
        return import_document(
            database,
            demo_document(now, pdf_names),
            Path(directory),
            max_pdf_bytes=max_pdf_bytes,
            source="démonstration",
        )
