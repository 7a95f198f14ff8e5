"""E-mail of raised alerts: to each active member of staff with an address (``UserContactSet``)
who works at one of the alert's sites, or is bound to no site (reads every case).

The mail says what the alert says: kind, severity, subject (a label, tracking number or order
id), the case's pseudonymous COI and the message; never patient data, which alerts do not carry.
Sending is at least once: a worker killed after sending and before marking the timer done sends
it again when the timer is taken over.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal

from sqlalchemy import Connection

from .alert_timers import Timer
from .common import loads, sql


def recipients(conn: Connection, sites: Iterable[str]) -> list[str]:
    """The addresses of the active staff who may read an alert of ``sites``: staff of one of them,
    and those who read every case (``reads_all``, the read rule's; not everyone bound to no site)."""
    wanted = set(sites)
    found = conn.execute(sql("SELECT email, sites, reads_all FROM alert_contacts "
                             "WHERE active = 1 AND email IS NOT NULL"))
    return sorted({email for email, user_sites, reads_all in found if reads_all or wanted & set(loads(user_sites))})


def compose(timer: Timer, sender: str, to: list[str]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"[ledger alert] {timer.severity}: {timer.kind.replace('_', ' ')} {timer.subject}"
    message["From"] = sender
    message["To"] = ", ".join(to)
    lines = [f"Alert {timer.alert_id} ({timer.severity})", "", timer.message, "",
             f"Subject: {timer.subject}", f"Sites: {', '.join(timer.sites) or '-'}"]
    if timer.coi:
        lines.append(f"Case: {timer.coi}")
    message.set_content("\n".join(lines) + "\n")
    return message


@dataclass(frozen=True)
class SmtpMailer:
    """Sends through one SMTP server (``LEDGER_SMTP_*``)."""

    host: str
    port: int
    sender: str
    tls: Literal["none", "starttls", "ssl"] = "starttls"
    user: str | None = None
    password: str | None = None
    timeout: float = 10.0

    def send(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        if self.tls == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            if self.tls == "starttls":
                client.starttls(context=context)
            if self.user:
                client.login(self.user, self.password or "")
            client.send_message(message)
