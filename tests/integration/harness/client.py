"""client.py: make test messages and send them with smtplib.

make_message() builds an RFC 5322 message with a unique Message-ID; smtp_send() runs one
SMTP transaction (optionally over STARTTLS, optionally with a client certificate) and
returns what every step answered instead of raising on a refusal.
"""
import email.utils
import smtplib
import ssl
import uuid
from dataclasses import dataclass, field


def new_message_id(domain="harness.test"):
    """A fresh, unique Message-ID value (with the angle brackets)."""
    return f"<{uuid.uuid4().hex}@{domain}>"


def make_message(mail_from="sender@example.test", to=("rcpt@example.test",), subject="postern test",
                 body="Hello from the postern test harness.\n", message_id=None, headers=None, body_size=None):
    """The bytes of a message with CRLF line ends. body_size pads the body to about that many
    bytes with short lines; headers is a dict of extra header fields."""
    fields = {"From": mail_from, "To": ", ".join(to), "Subject": subject,
              "Date": email.utils.formatdate(localtime=False), "Message-ID": message_id or new_message_id()}
    fields.update(headers or {})
    if body_size is not None:
        line = "0123456789" * 7 + "\n"
        body = body + line * max(0, (body_size - len(body)) // len(line))
    head = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    return (head + "\r\n" + body.replace("\r\n", "\n").replace("\n", "\r\n")).encode("utf-8")


@dataclass
class SendResult:
    """What the server said: code/reply of the last step reached, refused recipients
    ({address: (code, text)}), the queue ID from "queued as ID", the Message-ID sent."""
    code: int
    reply: str
    refused: dict = field(default_factory=dict)
    queue_id: str = None
    message_id: str = None
    tls: bool = False
    stage: str = "data"

    @property
    def ok(self):
        """True when the message was accepted (2xx after the dot)."""
        return self.stage == "data" and 200 <= self.code < 300


def client_tls_context(cert=None, ca_file=None):
    """A client context: verifies against ca_file when given, else checks nothing; presents
    cert (a certs.CertPair) when given."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_file:
        context.load_verify_locations(ca_file)
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert is not None:
        context.load_cert_chain(cert.cert, cert.key)
    return context


def _queue_id(reply):
    words = reply.split()
    if "as" in words and words.index("as") + 1 < len(words):
        return words[words.index("as") + 1].strip(".")
    return None


def smtp_send(port, host="127.0.0.1", mail_from="sender@example.test", rcpt_to=("rcpt@example.test",), data=None,
              starttls=False, tls_context=None, ehlo="client.test", timeout=30.0, mail_options=(),
              rcpt_options=(), **message_fields):
    """Sends one message to host:port; returns a SendResult. data defaults to make_message()
    built from mail_from, rcpt_to and message_fields (subject, body, message_id, headers...)."""
    if isinstance(rcpt_to, str):
        rcpt_to = (rcpt_to,)
    message_id = message_fields.pop("message_id", None) or new_message_id()
    if data is None:
        data = make_message(mail_from, rcpt_to, message_id=message_id, **message_fields)
    elif isinstance(data, str):
        data = data.encode("utf-8")
    with smtplib.SMTP(host, port, local_hostname=ehlo, timeout=timeout) as smtp:
        smtp.ehlo()
        if starttls:
            smtp.starttls(context=tls_context or client_tls_context())
            smtp.ehlo()
        tls = starttls
        code, text = smtp.mail(mail_from, list(mail_options))
        if code != 250:
            return SendResult(code, text.decode("utf-8", "replace"), message_id=message_id, tls=tls, stage="mail")
        refused = {}
        for rcpt in rcpt_to:
            code, text = smtp.rcpt(rcpt, list(rcpt_options))
            if code not in (250, 251):
                refused[rcpt] = (code, text.decode("utf-8", "replace"))
        if len(refused) == len(rcpt_to):
            smtp.rset()
            return SendResult(code, text.decode("utf-8", "replace"), refused, message_id=message_id, tls=tls,
                              stage="rcpt")
        try:
            code, text = smtp.data(data)
        except smtplib.SMTPDataError as e:
            return SendResult(e.smtp_code, e.smtp_error.decode("utf-8", "replace"), refused,
                              message_id=message_id, tls=tls, stage="data-command")
        reply = text.decode("utf-8", "replace")
        return SendResult(code, reply, refused, queue_id=_queue_id(reply) if code == 250 else None,
                          message_id=message_id, tls=tls)
