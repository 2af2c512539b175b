"""The e-mails and SMS that carry a réassort link (French, plain text)."""

from __future__ import annotations

from idp.plugin_api import Message
from reassort_plugin.formats import Destination
from reassort_plugin.kinds import Kind
from reassort_plugin.settings import Settings

_SUBJECTS = {
    Kind.CODE: "Portail Élections : votre lien pour obtenir un nouveau code de vote",
    Kind.PASSWORD: "Portail Élections : votre lien pour choisir un nouveau mot de passe Élections",
}

_EMAIL_BODIES = {
    Kind.CODE: (
        "Bonjour,\n\n"
        "Vous avez demandé le réassort de votre code de vote. Ouvrez le lien ci-dessous puis cliquez sur "
        "« Générer un code » : un nouveau code de vote vous sera attribué et affiché à l'écran.\n\n"
        "{url}\n\n"
        "Ce lien est valable {validity} et ne sert qu'une fois. Tant que vous n'avez pas généré de nouveau "
        "code, votre code actuel reste valable.\n\n"
        "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message et signalez-le à l'assistance du "
        "portail Élections.\n"
    ),
    Kind.PASSWORD: (
        "Bonjour,\n\n"
        "Vous avez demandé le réassort de votre mot de passe Élections. Ouvrez le lien ci-dessous pour choisir un "
        "nouveau mot de passe ; toutes vos sessions ouvertes seront alors fermées.\n\n"
        "{url}\n\n"
        "Ce lien est valable {validity} et ne sert qu'une fois. Tant que vous n'avez pas choisi de nouveau "
        "mot de passe, l'ancien reste valable.\n\n"
        "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message et signalez-le à l'assistance du "
        "portail Élections.\n"
    ),
}

_SMS_BODIES = {
    Kind.CODE: (
        "Portail Élections : pour obtenir votre nouveau code de vote, ouvrez ce lien puis cliquez sur « Générer "
        "un code » (valable {validity}, usage unique) : {url}"
    ),
    Kind.PASSWORD: (
        "Portail Élections : pour choisir un nouveau mot de passe Élections, ouvrez ce lien (valable {validity}, "
        "usage unique) : {url}"
    ),
}


def link_message(kind: Kind, destination: Destination, url: str, settings: Settings) -> Message:
    """The message carrying a link: an SMS says how long it lives in short words (« 30 min »), an e-mail in full."""
    sms = destination.channel == "sms"
    bodies = _SMS_BODIES if sms else _EMAIL_BODIES
    body = bodies[kind].format(url=url, validity=settings.link_validity("short" if sms else "long"))
    return Message(destination.channel, destination.recipient, _SUBJECTS[kind], body)
