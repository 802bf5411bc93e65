"""sinks.py: MailSink, a programmable SMTP server in this test process.

It records every message (envelope, data, the client's EHLO, TLS and client certificate)
and answers as the test scripts it: per-recipient replies, the greeting, STARTTLS that
works, is refused or breaks, a CertificateRequest, or Exchange Online's strict peer that
cuts the connection when the client presents a certificate. A raw hook lets hostile tests
answer anything. One thread per connection; hundreds at once are fine.
"""
import collections
import email.parser
import email.policy
import functools
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field

from .processes import wait_for
from .sink_session import SinkSession, on_tls_message

DEFAULT_RCPT_REPLIES = {
    "ok@": "250 2.1.5 Ok",
    "defer@": "450 4.2.0 Recipient temporarily unavailable (test sink)",
    "fail@": "550 5.1.1 Recipient address rejected: unknown user (test sink)",
}
DEFAULT_SIZE_LIMIT = 50 * 1024 * 1024
STARTTLS_MODES = ("ok", "refuse", "break")
CLIENT_CERT_MODES = ("ignore", "request", "kill")


@dataclass
class ReceivedMessage:
    """One message the sink took: envelope (with the ESMTP parameters of MAIL and of each
    accepted RCPT), data as received (un-dot-stuffed), and session facts."""
    mail_from: str
    rcpt_to: list
    data: bytes
    ehlo: str
    tls: bool
    tls_version: str
    client_cert_presented: bool
    peer: tuple
    session_id: int
    mail_params: list = field(default_factory=list)
    rcpt_params: list = field(default_factory=list)
    reply: str = ""

    @functools.cached_property
    def headers(self):
        """The message's header section as an email.message.Message."""
        return email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(self.data)

    @property
    def message_id(self):
        """The Message-ID header, stripped, or None."""
        value = self.headers.get("Message-ID")
        return value.strip() if value else None

    @property
    def body(self):
        """The bytes after the header section."""
        for separator in (b"\r\n\r\n", b"\n\n"):
            head, found, body = self.data.partition(separator)
            if found:
                return body
        return b""


class MailSink:
    """An SMTP server on host:port (port 0: a free one) run by threads in this process.

    rcpt_replies: {"user@dom": reply, "local@": reply, "@dom": reply} (case-insensitive,
    most specific first) or a callable(address, session) -> reply or None; by default
    ok@ -> 250, defer@ -> 450 4.2.0, fail@ -> 550 5.1.1, anything else rcpt_default.
    greeting: a reply ("421 4.3.2 busy" closes at once; 5xx waits for QUIT), raw bytes, or
    a callable(session) returning either. data_reply: a reply or callable(message) -> reply.
    cert: a certs.CertPair or (cert_file, key_file); STARTTLS is then offered.
    starttls: "ok", "refuse" (454) or "break" (220, then the connection is reset).
    client_certs: "ignore", "request" (CertificateRequest; certificates verified against
    client_ca, else the handshake fails) or "kill" (request, and reset the connection as
    soon as the client's Certificate message carries one, as Exchange Online does).
    hook: callable(session, line) -> None (default handling), str (a reply) or bytes (raw).
    """

    def __init__(self, host="127.0.0.1", port=0, *, hostname="sink.test", greeting=None, extensions=None,
                 size_limit=DEFAULT_SIZE_LIMIT, rcpt_replies=None, rcpt_default="250 2.1.5 Ok",
                 mail_reply="250 2.1.0 Ok", data_reply=None, cert=None, starttls="ok", client_certs="ignore",
                 client_ca=None, tls_max_version=None, hook=None, reply_delay=0.0, idle_timeout=120.0,
                 log_path=None):
        if starttls not in STARTTLS_MODES or client_certs not in CLIENT_CERT_MODES:
            raise ValueError(f"MailSink: starttls={starttls!r} client_certs={client_certs!r}")
        self.host, self.port, self.hostname = host, port, hostname
        self.greeting = greeting or f"220 {hostname} ESMTP postern test sink"
        self.extensions = extensions
        self.size_limit = size_limit
        self.rcpt_replies = rcpt_replies if callable(rcpt_replies) else {
            k.lower(): v for k, v in (DEFAULT_RCPT_REPLIES if rcpt_replies is None else rcpt_replies).items()}
        self.rcpt_default, self.mail_reply, self.data_reply = rcpt_default, mail_reply, data_reply
        self.starttls, self.client_certs, self.hook = starttls, client_certs, hook
        self.reply_delay, self.idle_timeout = reply_delay, idle_timeout
        self.tls_context = self._tls_context(cert, client_ca, tls_max_version) if cert else None
        self.log_path = log_path
        self._log_file = None
        self._lock = threading.Lock()
        self._listener = None
        self._accept_thread = None
        self._threads = set()
        self._live = set()
        self._stopping = threading.Event()
        self.reset()

    def __repr__(self):
        return f"<MailSink {self.host}:{self.port}>"

    def _tls_context(self, cert, client_ca, max_version):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert_file, key_file = (cert.cert, cert.key) if hasattr(cert, "cert") else cert
        context.load_cert_chain(cert_file, key_file)
        if max_version is not None:
            context.maximum_version = max_version
        if self.client_certs != "ignore":
            context.verify_mode = ssl.CERT_OPTIONAL
            if client_ca:
                context.load_verify_locations(client_ca)
            context._msg_callback = on_tls_message  # sees the client's Certificate before verification
        return context

    # ---- life cycle ------------------------------------------------------------------
    def start(self):
        """Binds, listens and starts accepting; returns self."""
        if self.log_path:
            self._log_file = open(self.log_path, "a", buffering=1)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(socket.SOMAXCONN)
        listener.settimeout(0.1)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._accept_thread = threading.Thread(target=self._accept_loop, name=f"sink-{self.port}", daemon=True)
        self._accept_thread.start()
        self.log(f"listening on {self.host}:{self.port}")
        return self

    def stop(self, timeout=10.0):
        """Stops accepting, cuts every open session and joins every thread."""
        if self._listener is None:
            return
        self._stopping.set()
        self._accept_thread.join(timeout)
        self._listener.close()
        with self._lock:
            live, threads = list(self._live), list(self._threads)
        for session in live:
            session.kill("sink stopped")
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        leaked = [t.name for t in threads if t.is_alive()]
        self._listener = None
        self.log("stopped")
        with self._lock:
            if self._log_file:
                self._log_file.close()
                self._log_file = None
        if leaked:
            raise AssertionError(f"{self!r}: session threads still running after stop: {leaked}")

    @property
    def address(self):
        """(host, port) to point a client at."""
        return self.host, self.port

    def _accept_loop(self):
        number = 0
        while not self._stopping.is_set():
            try:
                conn, peer = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                time.sleep(0.05)  # out of descriptors: back off instead of spinning
                continue
            number += 1
            # The sink writes each pipelined reply on its own: with Nagle's algorithm the
            # second would wait for the client's delayed ACK, 40 ms a reply.
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            session = SinkSession(self, conn, peer, number)
            thread = threading.Thread(target=self._serve, args=(session,), name=f"sink-{self.port}-{number}",
                                      daemon=True)
            with self._lock:
                self._threads.add(thread)
                self._live.add(session)
                self._sessions.append(session)
                self.max_concurrent = max(self.max_concurrent, len(self._live))
            thread.start()

    def _serve(self, session):
        try:
            session.run()
        finally:
            with self._lock:
                self._live.discard(session)
                self._threads.discard(threading.current_thread())

    def log(self, text):
        """Appends one line to the sink's transcript log (when it has one)."""
        if self._log_file is not None:
            with self._lock:
                if self._log_file is not None:
                    self._log_file.write(f"{time.strftime('%H:%M:%S')} {text}\n")

    # ---- the script ------------------------------------------------------------------
    def offers_starttls(self):
        """True when EHLO advertises STARTTLS (a certificate, or a mode that fails it anyway)."""
        return self.tls_context is not None or self.starttls != "ok"

    def extensions_for(self, session):
        """The EHLO keywords offered to session."""
        if self.extensions is not None:
            return list(self.extensions)
        offered = ["PIPELINING", f"SIZE {self.size_limit}", "8BITMIME", "DSN", "SMTPUTF8", "ENHANCEDSTATUSCODES"]
        if self.offers_starttls() and not session.tls:
            offered.append("STARTTLS")
        return offered

    def mail_reply_for(self, sender, session):
        """The reply to MAIL FROM:<sender>."""
        return self.mail_reply(sender, session) if callable(self.mail_reply) else self.mail_reply

    def rcpt_reply_for(self, address, session):
        """The reply to RCPT TO:<address>, from rcpt_replies, else rcpt_default."""
        if callable(self.rcpt_replies):
            return self.rcpt_replies(address, session) or self.rcpt_default
        lowered = address.lower()
        local, _, domain = lowered.rpartition("@")
        for key in (lowered, local + "@", "@" + domain):
            if key in self.rcpt_replies:
                return self.rcpt_replies[key]
        return self.rcpt_default

    def accept_message(self, session, data):
        """Records the message session just sent; returns the reply to its final dot."""
        message = ReceivedMessage(mail_from=session.mail_from, rcpt_to=list(session.rcpt_to), data=data,
                                  ehlo=session.ehlo, tls=session.tls, tls_version=session.tls_version,
                                  client_cert_presented=session.client_cert_presented, peer=session.peer,
                                  session_id=session.id, mail_params=list(session.mail_params),
                                  rcpt_params=list(session.rcpt_params))
        with self._lock:
            self._received += 1
            number = self._received
        reply = self.data_reply(message) if callable(self.data_reply) else self.data_reply
        message.reply = reply or f"250 2.0.0 Ok: queued as S{number}"
        with self._lock:
            (self._messages if message.reply.startswith("2") else self._rejected).append(message)
        return message.reply

    # ---- what happened ---------------------------------------------------------------
    def reset(self):
        """Forgets the messages and sessions recorded so far."""
        with self._lock:
            self._messages, self._rejected, self._sessions = [], [], []
            self._received = 0
            self.max_concurrent = 0

    @property
    def messages(self):
        """The messages accepted (2xx after the dot), in arrival order."""
        with self._lock:
            return list(self._messages)

    @property
    def rejected(self):
        """The messages whose final dot got a non-2xx reply from data_reply."""
        with self._lock:
            return list(self._rejected)

    @property
    def sessions(self):
        """Every connection so far (SinkSession), in accept order."""
        with self._lock:
            return list(self._sessions)

    @property
    def active(self):
        """How many connections are open now."""
        with self._lock:
            return len(self._live)

    def message_ids(self):
        """A Counter of the accepted messages' Message-IDs."""
        return collections.Counter(m.message_id for m in self.messages)

    def duplicates(self):
        """{Message-ID: count} for every Message-ID accepted more than once."""
        return {mid: n for mid, n in self.message_ids().items() if n > 1}

    def wait_messages(self, count, timeout=10.0):
        """Waits until at least count messages were accepted; returns them all."""
        wait_for(lambda: len(self._messages) >= count, timeout,
                 lambda: f"{count} messages at {self!r} (got {len(self._messages)})")
        return self.messages

    def wait_sessions(self, count, timeout=10.0, ended=True):
        """Waits until count sessions were seen (and, with ended, have finished); returns them."""
        def enough():
            """True once count sessions were seen (and ended, if asked)."""
            seen = self.sessions
            return len(seen) >= count and (not ended or all(s.ended for s in seen[:count]))
        wait_for(enough, timeout, lambda: f"{count} sessions at {self!r} (got {len(self._sessions)})")
        return self.sessions
