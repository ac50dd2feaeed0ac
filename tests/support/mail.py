"""A real SMTP server's handler for the tests (aiosmtpd): every message it accepts."""

from __future__ import annotations

import email
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy

from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Inbox:
    """An SMTP server's handler: every message it accepts."""

    envelopes: list[Envelope] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        out = []
        for e in self.envelopes:
            assert isinstance(e.content, bytes)
            message = email.message_from_bytes(e.content, policy=default_policy)
            assert isinstance(message, EmailMessage)
            out.append(message)
        return out
