"""The two ways out: e-mail through SMTP (STARTTLS or TLS, certificates verified, a private
CA through `ca_file`) and a JSON webhook (Slack and Teams read its `text`).

A failure is a SageSyncError with the exit code it would mean for a command of its own
(`digest --send`): refused credentials 77, a certificate or address the operator must fix 2,
a server that is down or slow 75. The alert evaluation only logs them and sends again next
time. No message names a password or the webhook's URL (a Slack URL is its own secret).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol
from urllib.parse import urlsplit

from sagesync.alerts.message import Message
from sagesync.errors import AuthError, SageSyncError, TransientError, UsageError
from sagesync.recipe import AlertSettings


class Channel(Protocol):
    name: str

    def send(self, message: Message) -> None: ...


def tls_context(settings: AlertSettings) -> ssl.SSLContext:
    """Verification on, always: the system's CAs, or only `ca_file` when the recipe names one."""
    return ssl.create_default_context(
        cafile=str(settings.ca_file) if settings.ca_file else None)


def email_message(settings: AlertSettings, message: Message) -> EmailMessage:
    """Plain text, plus HTML as multipart/alternative when the message has it."""
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = settings.sender or ""
    mail["To"] = ", ".join(settings.recipients)
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = make_msgid(domain=(settings.sender or "sagesync").rpartition("@")[2])
    mail.set_content(message.text)
    if message.html is not None:
        mail.add_alternative(message.html, subtype="html")
    return mail


class EmailChannel:
    name = "email"

    def __init__(self, settings: AlertSettings) -> None:
        self.settings = settings

    def send(self, message: Message) -> None:
        s = self.settings
        where = f"the SMTP server {s.smtp_host}:{s.smtp_port}"
        mail = email_message(s, message)
        try:
            context = tls_context(s)
            smtp = (smtplib.SMTP_SSL(s.smtp_host or "", s.smtp_port, timeout=s.timeout_seconds,
                                     context=context) if s.security == "tls" else
                    smtplib.SMTP(s.smtp_host or "", s.smtp_port, timeout=s.timeout_seconds))
            with smtp:
                if s.security == "starttls":
                    smtp.ehlo()
                    if not smtp.has_extn("starttls"):
                        raise UsageError(f"{where} does not offer STARTTLS: nothing was sent "
                                         'in clear text. Set [alerts] security = "tls" (port '
                                         "465) if it takes TLS from the start.")
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if s.username:
                    smtp.login(s.username, s.password or "")
                smtp.send_message(mail)
        except SageSyncError:
            raise
        except smtplib.SMTPAuthenticationError as error:
            raise AuthError(f"{where} refused the username {s.username!r} and its password "
                            f"({error.smtp_code}): fix [alerts] username / the password in "
                            ".env.") from None
        except ssl.SSLCertVerificationError as error:
            raise UsageError(f"Cannot verify the certificate of {where} ({error.verify_message})"
                             ": verification stays on; set [alerts] ca_file to a PEM with the "
                             "server's CA, or fix its certificate.") from None
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as error:
            raise UsageError(f"{where} refused the addresses: {error}. Check [alerts] from "
                             "and to.") from None
        except smtplib.SMTPNotSupportedError as error:
            raise UsageError(f"{where}: {error}") from None
        except (OSError, smtplib.SMTPException) as error:
            raise TransientError(f"Cannot send through {where}: {error}") from None


class WebhookChannel:
    name = "webhook"

    def __init__(self, settings: AlertSettings) -> None:
        self.settings = settings

    def send(self, message: Message) -> None:
        import requests

        url = self.settings.webhook_url or ""
        parts = urlsplit(url)
        shown = f"the webhook at {parts.scheme}://{parts.netloc}"  # the path is the secret
        verify: str | bool = str(self.settings.ca_file) if self.settings.ca_file else True
        try:
            answer = requests.post(url, json=message.payload, timeout=self.settings.timeout_seconds,
                                   verify=verify, allow_redirects=False)
        except requests.exceptions.SSLError:
            raise UsageError(f"Cannot verify the certificate of {shown}: verification stays "
                             "on; set [alerts] ca_file to a PEM with its CA.") from None
        except requests.RequestException as error:
            raise TransientError(f"Cannot reach {shown}: {type(error).__name__}") from None
        if answer.status_code >= 500 or answer.status_code == 429:
            raise TransientError(f"{shown} answered {answer.status_code}")
        if answer.status_code >= 300:
            raise UsageError(f"{shown} answered {answer.status_code} "
                             f"{answer.text[:200]!r}: check [alerts] webhook_url")


def channels(settings: AlertSettings) -> list[Channel]:
    found: list[Channel] = []
    if settings.email:
        found.append(EmailChannel(settings))
    if settings.webhook_url:
        found.append(WebhookChannel(settings))
    return found
