"""Real servers on 127.0.0.1 for the delivery tests: an SMTP server (aiosmtpd) and a Twilio-style SMS gateway
(http.server), both recording what they received and able to refuse on demand."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import email
import email.policy
import ipaddress
import json
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from idp.db import get_db
from idp.delivery import Message, enqueue, outbox_sealer
from idp.models import AuditEvent, OutboxMessage

# Numbers of the ranges ARCEP reserves for fiction (never assigned to anyone).
FICTION_LANDLINE = "01 99 00 12 34"
FICTION_MOBILE = "06 39 98 12 34"  # in the block of Mayotte, hence +262


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- SMTP -----------------------------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool = False
    authenticated: bool = False


@dataclass
class SmtpRecorder:
    """aiosmtpd handler: keeps accepted messages; refuses DATA ``fail_data`` times, or some recipients."""

    data_reply: str = "451 4.3.0 Try again later"
    fail_data: int = 0
    unknown_recipients: set[str] = field(default_factory=set)
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: DATA commands begun (a message being handed over, ``delay`` seconds before its answer).
    data_started: int = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        if address in self.unknown_recipients:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_started += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            if self.fail_data > 0:
                self.fail_data -= 1
                return self.data_reply
            parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            self.received.append(
                Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    parsed,
                    # STARTTLS fills session.ssl; implicit TLS shows only on the transport.
                    tls=session.ssl is not None or server.transport.get_extra_info("sslcontext") is not None,
                    authenticated=bool(session.authenticated),
                )
            )
        return "250 2.0.0 Message accepted"


class SmtpServer:
    """``options`` go to aiosmtpd: ``ssl_context`` (implicit TLS), ``tls_context`` and ``require_starttls``,
    ``authenticator``..."""

    def __init__(self, *, port: int | None = None, **options: Any) -> None:
        self.handler = SmtpRecorder()
        self.port = port or free_port()  # a port: a relay back where it was before an outage
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **options)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def config(self) -> dict[str, Any]:
        return {"MAIL_BACKEND": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": self.port, "SMTP_TIMEOUT": 5}


def password_authenticator(username: str, password: str) -> Callable[..., AuthResult]:
    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        accepted = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            username.encode(),
            password.encode(),
        )
        return AuthResult(success=accepted, handled=False)

    return authenticate


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and its key), to serve TLS and to be trusted through ``SSL_CERT_FILE``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relais SMTP de test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "relay.pem", directory / "relay.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def server_tls_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


# --- SMS gateway ----------------------------------------------------------------------------------------------


@dataclass
class SmsRequest:
    path: str
    form: dict[str, str]
    authorised: bool


@dataclass
class GatewayState:
    account_sid: str
    auth_token: str
    #: Statuses to answer to the next requests, in order (then 201).
    replies: list[int] = field(default_factory=list)
    #: Seconds to wait before answering (timeouts).
    delay: float = 0.0
    #: Answer 2xx with a body that is not the protocol's.
    omit_sid: bool = False
    requests: list[SmsRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def path(self) -> str:
        return f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"


def _gateway_handler(state: GatewayState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            expected = base64.b64encode(f"{state.account_sid}:{state.auth_token}".encode()).decode()
            authorised = self.headers.get("Authorization") == f"Basic {expected}"
            with state.lock:
                state.requests.append(SmsRequest(self.path, form, authorised))
                forced = state.replies.pop(0) if state.replies else None
            if state.delay:
                time.sleep(state.delay)
            if self.path != state.path:
                return self._answer(404, {"code": 20404, "message": "The requested resource was not found"})
            if not authorised:
                return self._answer(401, {"code": 20003, "message": "Authenticate"})
            if forced is not None:
                return self._answer(forced, {"code": 21211, "message": "forced by the test"})
            if state.omit_sid:
                return self._answer(200, {"status": "ok"})
            self._answer(201, {"sid": "SM" + uuid.uuid4().hex, "status": "queued", "to": form.get("To")})

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the test output clean

    return Handler


class SmsGateway:
    def __init__(
        self, account_sid: str = "AC0123456789abcdef0123456789abcdef", auth_token: str = "test-token-not-a-secret"
    ) -> None:
        self.state = GatewayState(account_sid, auth_token)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _gateway_handler(self.state))
        self.server.daemon_threads = True
        # A short poll interval: shutdown() waits for it, at every test's teardown.
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> SmsGateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def requests(self) -> list[SmsRequest]:
        with self.state.lock:
            return list(self.state.requests)

    def config(self) -> dict[str, Any]:
        return {
            "SMS_BACKEND": "http",
            "SMS_GATEWAY_URL": self.url,
            "SMS_ACCOUNT_SID": self.state.account_sid,
            "SMS_AUTH_TOKEN": self.state.auth_token,
            "SMS_SENDER": "ELECTIONS",
            "SMS_TIMEOUT": 5,
        }


# --- Outbox helpers -------------------------------------------------------------------------------------------


def queue(app: Any, *messages: Message, purpose: str = "activation") -> list[int]:
    """Enqueue messages the way the application does (in a transaction, with the message.queued event)."""
    with app.app_context(), get_db(app).transaction() as session:
        sealer = outbox_sealer(app)
        return [
            enqueue(session, message, sealer=sealer, purpose=purpose, subject="pseudo-ref-test").id
            for message in messages
        ]


def outbox_row(app: Any, message_id: int) -> OutboxMessage:
    with get_db(app).transaction() as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        session.expunge(row)
        return row


def update_row(app: Any, message_id: int, **values: Any) -> None:
    """Move a message in time (or into another worker's hands) as a test needs."""
    with get_db(app).transaction() as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)


def audit_events(app: Any, prefix: str = "message.") -> list[AuditEvent]:
    with get_db(app).transaction() as session:
        events = list(
            session.execute(
                select(AuditEvent).where(AuditEvent.type.startswith(prefix)).order_by(AuditEvent.id)
            ).scalars()
        )
        session.expunge_all()
        return events


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()
