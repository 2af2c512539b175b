"""SMS through an HTTP gateway speaking the Twilio Messages API protocol.

Twilio's ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` (form fields ``To``, ``From``, ``Body``; HTTP
basic authentication with the account SID and auth token; ``201 Created`` and a JSON resource with a ``sid``) is
the de facto protocol of SMS gateways: many operators and self-hosted gateways accept it, so the IdP is tied to
no one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from idp.delivery.payload import Message
from idp.delivery.senders import DeliveryError

logger = logging.getLogger(__name__)

#: Overseas départements share the French numbering plan (06/07 numbers) but have country codes of their own,
#: so a national mobile number maps to them by its first digits (ARCEP plan).
OVERSEAS_MOBILE_PREFIXES = {
    "0639": "262",  # Mayotte
    "0690": "590",
    "0691": "590",  # Guadeloupe, Saint-Martin, Saint-Barthélemy
    "0692": "262",
    "0693": "262",  # La Réunion
    "0694": "594",  # Guyane
    "0696": "596",
    "0697": "596",  # Martinique
}
_SEPARATORS = re.compile(r"[\s.\-/()]")
_E164 = re.compile(r"\+[1-9]\d{6,14}")

#: HTTP statuses that say "not now" rather than "never": rate limiting, timeouts, and credentials refused (a
#: wrong token is fixed by an operator, after which the queued messages must still go out).
TEMPORARY_CLIENT_ERRORS = frozenset({401, 403, 408, 429})
#: Longest wait for the gateway to accept a connection; the answer then has ``IDP_SMS_TIMEOUT``.
CONNECT_TIMEOUT = 3.0


def to_e164(number: str) -> str:
    """Normalise a phone number to E.164, French national numbers (``06 12 34 56 78``) included.

    Raises ``ValueError`` for anything that is not a plausible number.
    """
    compact = _SEPARATORS.sub("", number.replace("(0)", ""))
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    elif re.fullmatch(r"0[1-9]\d{8}", compact):
        country = OVERSEAS_MOBILE_PREFIXES.get(compact[:4], "33")
        compact = "+" + country + compact[1:]
    if compact.startswith("+330"):  # "+33 0 6 ..." written with the trunk prefix kept
        compact = "+33" + compact[4:]
    if not _E164.fullmatch(compact):
        raise ValueError("not a phone number that can be written in E.164")
    return compact


@dataclass(frozen=True)
class TwilioSmsSender:
    gateway_url: str
    account_sid: str
    auth_token: str = field(repr=False)
    sender: str
    timeout: float = 10.0

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> TwilioSmsSender:
        return cls(
            gateway_url=str(cfg["SMS_GATEWAY_URL"]),
            account_sid=str(cfg["SMS_ACCOUNT_SID"]),
            auth_token=str(cfg["SMS_AUTH_TOKEN"]),
            sender=str(cfg["SMS_SENDER"]),
            timeout=float(cfg["SMS_TIMEOUT"]),
        )

    @property
    def endpoint(self) -> str:
        return f"{self.gateway_url.rstrip('/')}/2010-04-01/Accounts/{self.account_sid}/Messages.json"

    def send(self, message: Message) -> None:
        try:
            to = to_e164(message.recipient)
        except ValueError:
            raise DeliveryError("invalid phone number", permanent=True) from None
        try:
            response = requests.post(
                self.endpoint,
                data={"To": to, "From": self.sender, "Body": message.body},
                auth=(self.account_sid, self.auth_token),
                timeout=(min(CONNECT_TIMEOUT, self.timeout), self.timeout),
                allow_redirects=False,
            )
        except (requests.ReadTimeout, requests.exceptions.ChunkedEncodingError) as exc:
            # The request went out and no (whole) answer came: the gateway may have taken the message.
            raise DeliveryError(f"SMS gateway {type(exc).__name__}", permanent=False, uncertain=True) from None
        except requests.RequestException as exc:
            # Connection refused or not accepted in time, TLS error: the gateway did not take the message.
            raise DeliveryError(f"SMS gateway {type(exc).__name__}", permanent=False) from None
        with response:
            self._check(response)

    @staticmethod
    def _check(response: requests.Response) -> None:
        status = response.status_code
        if 200 <= status < 300:
            try:
                sid = response.json().get("sid")
            except (ValueError, AttributeError):
                sid = None
            if not isinstance(sid, str) or not sid:
                # Not the protocol: most likely IDP_SMS_GATEWAY_URL points at something else that answers 200
                # to anything. Retrying (and so showing up in the audit log) beats counting it as sent.
                raise DeliveryError(f"SMS gateway HTTP {status} without a message sid", permanent=False)
            logger.debug("SMS accepted by the gateway as %s", sid)
            return
        permanent = 400 <= status < 500 and status not in TEMPORARY_CLIENT_ERRORS
        raise DeliveryError(f"SMS gateway HTTP {status}", permanent=permanent)
