"""The mail domains of the ministry: every académie's, overseas included, and the ministries' own.

A voter's *personal* address (where a réassort link may be sent) must not be one of the employer's mailboxes:
the voter may have lost access to it (that is often why they ask), and it is what an impostor inside the
institution could read. The réassort refused ``ac-*.fr`` only, so ``ac-noumea.nc``, ``ac-polynesie.pf``,
``ac-wf.wf`` and ``education.gouv.fr`` passed as "personal". This is the one list; ``is_ministry_domain`` also
matches every sub-domain (``etu.ac-dijon.fr``, ``dgesco.education.gouv.fr``) and, for an académie created after
this list was written, any ``ac-<name>.fr``.

Sources of the list: the 30 académies of 2024 (regions académiques), the former académies of Caen and Rouen
(merged into Normandie in 2020, addresses still in use), the vice-rectorats of New Caledonia, French Polynesia and
Wallis-et-Futuna and the service of Saint-Pierre-et-Miquelon, and the domains of the ministries in charge of
education, higher education and research, youth and sports.
"""

from __future__ import annotations

import re

ACADEMIES: frozenset[str] = frozenset(
    {
        "ac-aix-marseille.fr",
        "ac-amiens.fr",
        "ac-besancon.fr",
        "ac-bordeaux.fr",
        "ac-caen.fr",
        "ac-clermont.fr",
        "ac-corse.fr",
        "ac-creteil.fr",
        "ac-dijon.fr",
        "ac-grenoble.fr",
        "ac-guadeloupe.fr",
        "ac-guyane.fr",
        "ac-lille.fr",
        "ac-limoges.fr",
        "ac-lyon.fr",
        "ac-martinique.fr",
        "ac-mayotte.fr",
        "ac-montpellier.fr",
        "ac-nancy-metz.fr",
        "ac-nantes.fr",
        "ac-nice.fr",
        "ac-normandie.fr",
        "ac-noumea.nc",
        "ac-orleans-tours.fr",
        "ac-paris.fr",
        "ac-poitiers.fr",
        "ac-polynesie.pf",
        "ac-reims.fr",
        "ac-rennes.fr",
        "ac-reunion.fr",
        "ac-rouen.fr",
        "ac-spm.fr",
        "ac-strasbourg.fr",
        "ac-toulouse.fr",
        "ac-versailles.fr",
        "ac-wf.wf",
    }
)

MINISTRIES: frozenset[str] = frozenset(
    {
        "education.gouv.fr",
        "enseignementsup-recherche.gouv.fr",
        "recherche.gouv.fr",
        "enseignementsup.gouv.fr",
        "jeunesse-sports.gouv.fr",
        "sports.gouv.fr",
        "jeunesse.gouv.fr",
        "education.fr",
    }
)

MINISTRY_DOMAINS: frozenset[str] = ACADEMIES | MINISTRIES

#: An académie not (yet) in the list: ``ac-<name>.fr``.
_ANY_ACADEMY = re.compile(r"ac-[a-z0-9]+(?:-[a-z0-9]+)*\.fr", re.ASCII)


def is_ministry_domain(domain: str) -> bool:
    """Whether ``domain`` (case and a final dot ignored) is one of the ministry's, or a sub-domain of one."""
    name = domain.strip().lower().rstrip(".")
    labels = name.split(".")
    suffixes = {".".join(labels[i:]) for i in range(len(labels) - 1)}
    return bool(suffixes & MINISTRY_DOMAINS) or any(_ANY_ACADEMY.fullmatch(s) for s in suffixes)
