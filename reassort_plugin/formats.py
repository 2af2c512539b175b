"""What a voter types on the request form, normalised or refused with a precise French message.

Pure functions, no I/O. A malformed value says nothing about the voter's secrets, so it is answered precisely and
not counted towards the lockout; only well-formed values are compared with the voter's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from idp.plugin_api import InvalidValue, is_ministry_domain, normalise_nir_prefix, normalise_numen

MSG_IDENTITY_MISSING = "Saisissez votre NUMEN ou les 10 premiers caractères de votre numéro de sécurité sociale (n°SS)."
MSG_MOBILE = (
    "Numéro de téléphone portable invalide : saisissez un numéro de mobile français à 10 chiffres commençant par "
    "06 ou 07 (par exemple 06 12 34 56 78), ou sa forme internationale +33 6 12 34 56 78."
)
MSG_EMAIL = "Adresse mail invalide : saisissez une adresse complète, par exemple prenom.nom@exemple.fr."
MSG_EMAIL_ACCENTS = "Adresse mail invalide : les caractères accentués ne sont pas admis dans l'adresse."
MSG_EMAIL_IS_IDENTIFIER = (
    "Cette adresse est votre identifiant du portail Élections : saisissez une adresse mail personnelle, "
    "différente de celle qui vous sert à vous identifier."
)
MSG_EMAIL_ACADEMIC = (
    "Cette adresse est une messagerie académique ou professionnelle : saisissez une adresse mail personnelle "
    "(par exemple …@yahoo.fr, …@laposte.net), différente de celle qui vous sert à vous identifier."
)

_MOBILE_RE = re.compile(r"0[67]\d{8}", re.ASCII)
_PHONE_SEPARATORS = re.compile(r"[\s.\-/()]")
_EMAIL_RE = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}",
    re.ASCII,
)


@dataclass(frozen=True)
class IdentityNumber:
    """A NUMEN (``kind`` "numen") or the first 10 characters of a NIR ("nir"), normalised as the import stores
    them (their keyed hashes)."""

    kind: str
    value: str


@dataclass(frozen=True)
class Destination:
    """Where to send the link: used to send it, never stored (it lives only in the request and, encrypted, in the
    outbox until delivery)."""

    channel: str  # "sms" | "email"
    recipient: str

    @property
    def masked(self) -> str:
        return mask_phone(self.recipient) if self.channel == "sms" else mask_email(self.recipient)


def parse_identity_number(raw: str) -> IdentityNumber:
    """One field accepts either: a NUMEN has a letter in 3rd position (and three at the end), a NIR prefix a digit
    (the year of birth). The message of the matching format says which character is wrong."""
    compact = "".join(raw.split()).upper()
    if not compact:
        raise InvalidValue(MSG_IDENTITY_MISSING)
    looks_like_numen = (len(compact) >= 3 and compact[2].isalpha()) or (len(compact) == 13 and compact[-3:].isalpha())
    if looks_like_numen:
        return IdentityNumber("numen", normalise_numen(compact))
    return IdentityNumber("nir", normalise_nir_prefix(compact))


def parse_mobile(raw: str) -> str:
    """A French mobile number (06 or 07), from its national or +33 form, as ten digits ``06XXXXXXXX``.

    Overseas mobiles share these ranges; the SMS sender maps them to their country codes.
    """
    compact = _PHONE_SEPARATORS.sub("", raw.replace("(0)", ""))
    for international in ("+33", "0033"):
        if compact.startswith(international):
            compact = "0" + compact[len(international) :].removeprefix("0")
            break
    if not _MOBILE_RE.fullmatch(compact):
        raise InvalidValue(MSG_MOBILE)
    return compact


def parse_personal_email(raw: str, identifier: str) -> str:
    """A personal e-mail address: well formed, not the login identifier, not on a domain of the ministry (every
    académie's, overseas included, and the ministries': ``idp.ministry_domains``) nor on the identifier's own
    domain (both are the employer's mailboxes, which the voter may have lost access to and which are what an
    impostor inside the institution could read)."""
    address = raw.strip()
    if not address.isascii():
        raise InvalidValue(MSG_EMAIL_ACCENTS)
    local, _, domain = address.rpartition("@")
    domain = domain.lower()
    if len(address) > 254 or not local or not _EMAIL_RE.fullmatch(f"{local.lower()}@{domain}"):
        raise InvalidValue(MSG_EMAIL)
    normalised = f"{local}@{domain}"
    if normalised.lower() == identifier.strip().lower():
        raise InvalidValue(MSG_EMAIL_IS_IDENTIFIER)
    identifier_domain = identifier.strip().lower().rpartition("@")[2]
    if is_ministry_domain(domain) or domain == identifier_domain:
        raise InvalidValue(MSG_EMAIL_ACADEMIC)
    return normalised


def mask_email(address: str) -> str:
    """``c•••@yahoo.fr``: enough for the voter to recognise their address on the confirmation page."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}•••@{domain}"


def mask_phone(number: str) -> str:
    """``06 •• •• •• 34``."""
    return f"{number[:2]} •• •• •• {number[-2:]}"
