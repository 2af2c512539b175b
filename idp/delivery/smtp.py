"""E-mail through an SMTP relay, with the standard library (smtplib + email.message).

One connection per message: a relay that drops idle connections, or a worker that waits between batches, then
never meets a half-dead session, and a failure concerns one message only. The whole exchange, from the connection
to the last reply, takes at most ``IDP_SMTP_TIMEOUT`` seconds (each read and write gets only the time left), so a
send always ends within the worker's lease on the message, however slowly a relay answers.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from typing import Any

from idp.delivery.payload import Message
from idp.delivery.senders import DeliveryError
from idp.models import utcnow
from infra.smtp import bounded_smtp


def build_email(message: Message, mail_from: str, *, domain: str) -> EmailMessage:
    """A MIME message (UTF-8 text, quoted-printable so any relay carries it unchanged) ready for sending.

    Header values are checked by the ``email`` policy: a line break in a recipient or subject raises
    ``ValueError`` instead of letting a header be injected.
    """
    email = EmailMessage()
    email["From"] = mail_from
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Date"] = format_datetime(utcnow())
    email["Message-ID"] = make_msgid(domain=domain)
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a no-reply address
    email.set_content(message.body, charset="utf-8", cte="quoted-printable")
    return email


def _domain_of(mail_from: str) -> str:
    """The domain of the sender address, for Message-IDs (``make_msgid`` would otherwise look up the FQDN)."""
    address = getaddresses([mail_from])[0][1]
    return address.rpartition("@")[2] or "localhost"


def _classify(code: int, what: str) -> DeliveryError:
    # Only the numeric code is kept: a server's text often quotes the recipient address.
    return DeliveryError(f"SMTP {what} {code}", permanent=500 <= code < 600)


@dataclass(frozen=True)
class SmtpSender:
    host: str
    port: int
    mail_from: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    use_ssl: bool = False
    timeout: float = 10.0

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> SmtpSender:
        return cls(
            host=cfg["SMTP_HOST"],
            port=int(cfg["SMTP_PORT"]),
            mail_from=cfg["MAIL_FROM"],
            username=cfg["SMTP_USERNAME"] or None,
            password=cfg["SMTP_PASSWORD"] or None,
            starttls=bool(cfg["SMTP_STARTTLS"]),
            use_ssl=bool(cfg["SMTP_SSL"]),
            timeout=float(cfg["SMTP_TIMEOUT"]),
        )

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context() if self.use_ssl else None
        return bounded_smtp(self.host, self.port, timeout=self.timeout, tls_context=context)

    def send(self, message: Message) -> None:
        try:
            Address(addr_spec=message.recipient)
            email = build_email(message, self.mail_from, domain=_domain_of(self.mail_from))
        except (ValueError, IndexError, MessageError):
            # Not one plain ASCII address, or a line break in a header: no relay will ever take it.
            raise DeliveryError("invalid e-mail address or header", permanent=True) from None
        try:
            smtp = self._connect()
        except (smtplib.SMTPException, OSError) as exc:
            raise _connection_error(exc) from None
        try:
            self._transmit(smtp, email)
        finally:
            _close_quietly(smtp)

    def _transmit(self, smtp: smtplib.SMTP, email: EmailMessage) -> None:
        handed_over = False
        try:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            handed_over = True
            smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _text in exc.recipients.values()]
            raise _classify(max(codes, default=450), "recipient refused") from None
        except smtplib.SMTPDataError as exc:
            raise _classify(exc.smtp_code, "data refused") from None
        except smtplib.SMTPResponseException as exc:
            # HELO, MAIL FROM or AUTH refused: a problem of the relay or of our settings, not of this message,
            # so it is retried until an operator fixes it rather than abandoned.
            raise DeliveryError(f"SMTP {type(exc).__name__} {exc.smtp_code}", permanent=False) from None
        except smtplib.SMTPNotSupportedError:
            raise DeliveryError(
                "SMTP extension not supported by the relay (STARTTLS, AUTH or SMTPUTF8)", permanent=False
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            # Dropped or timed out while the message was being handed over: the relay may have taken it.
            raise _connection_error(exc, uncertain=handed_over) from None


def _connection_error(exc: BaseException, *, uncertain: bool = False) -> DeliveryError:
    # Connection refused or dropped, timeout, TLS failure, unexpected greeting.
    code = getattr(exc, "smtp_code", None)
    return DeliveryError(
        f"SMTP {type(exc).__name__}" + (f" {code}" if code else ""), permanent=False, uncertain=uncertain
    )


def _close_quietly(smtp: smtplib.SMTP) -> None:
    """End the session once the message is accepted (or refused): a failed QUIT must not cause a resend."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
