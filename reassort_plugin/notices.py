"""The notice sent to the voter's academic mailbox after every réassort (vote code or password).

A réassort proves the voter with what they know (question défi, NUMEN or NIR prefix) and sends the link wherever
the requester says. If someone else knew enough, the voter would otherwise never learn that their code or password
was replaced: a password réassort sent to an arbitrary phone number changed the password silently. So once a new
code is generated or a new password saved, the academic address — the identifier, a mailbox the requester does not
control — gets a message saying what was done, when (Paris time), through which channel (the masked destination,
e.g. ``06 •• •• •• 34`` or ``c•••@yahoo.fr``, kept in the ephemeral store for the link's lifetime only, or
"FranceConnect"), and what to do if it was not them. It goes through the delivery outbox in the transaction of the
change: written together or not at all, sent by the worker, never blocking the request.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from sqlalchemy.orm import Session

from idp.plugin_api import Message, Voter, enqueue, recall, remember, utcnow
from reassort_plugin.kinds import Kind

PURPOSE = "reassort_notice"
_PARIS = ZoneInfo("Europe/Paris")


def hint_key(link_id: int) -> str:
    return f"reassort:destination:{link_id}"


def keep_destination(link_id: int, masked: str, ttl: int) -> None:
    """Remember the masked destination of a link until it is used or expires (see the module)."""
    remember(hint_key(link_id), masked, ttl)


def _when(at: dt.datetime) -> str:
    return format_datetime(at, "EEEE d MMMM y 'à' HH'h'mm", tzinfo=_PARIS, locale="fr_FR")


def _how(channel: str, masked: str | None) -> str:
    if channel == "franceconnect":
        return "après une identification par FranceConnect"
    by = {"sms": "par SMS", "email": "par e-mail"}.get(channel, "par un lien")
    return f"à la suite d'un lien envoyé {by}" + (f" à {masked}" if masked else "")


_WHAT = {
    Kind.CODE: (
        "Portail Élections : un nouveau code de vote a été généré",
        "Un nouveau code de vote a été généré pour votre compte électeur le {when} (heure de Paris), {how}. "
        "Votre code de vote précédent ne fonctionne plus.",
        "Si ce n'est pas vous : demandez tout de suite un nouveau code depuis la page « Saisie du code de vote » "
        "du portail Élections (« Cliquez ici pour obtenir un réassort de votre code de vote ») : le code généré "
        "par quelqu'un d'autre cessera alors de fonctionner. Signalez-le aussi à l'assistance du portail "
        "(« Formulaire de demande d'assistance »).",
    ),
    Kind.PASSWORD: (
        "Portail Élections : votre mot de passe Élections a été changé",
        "Le mot de passe Élections de votre compte électeur a été changé le {when} (heure de Paris), {how}. "
        "Toutes vos sessions ouvertes ont été fermées.",
        "Si ce n'est pas vous : demandez tout de suite un nouveau mot de passe avec « Besoin du réassort de votre "
        "mot de passe Élections ? » sur la page de connexion, et signalez-le à l'assistance du portail "
        "(« Formulaire de demande d'assistance »).",
    ),
}


def notify(session: Session, voter: Voter, kind: Kind, channel: str, link_id: int) -> None:
    """Queue the notice of a réassort just done for ``voter`` (in the caller's transaction, not committed)."""
    subject, done, if_not_you = _WHAT[kind]
    masked = recall(hint_key(link_id)) if channel != "franceconnect" else None
    body = (
        "Bonjour,\n\n"
        + done.format(when=_when(utcnow()), how=_how(channel, masked))
        + "\n\nSi vous êtes à l'origine de cette demande, vous n'avez rien à faire.\n\n"
        + if_not_you
        + "\n\nCe message est envoyé à votre adresse académique après chaque réassort ; il ne contient aucun lien.\n"
    )
    enqueue(session, Message("email", voter.identifier, subject, body), purpose=PURPOSE, subject=voter.subject)
