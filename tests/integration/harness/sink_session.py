"""sink_session.py: one SMTP connection to the Python test sink (sinks.MailSink).

A SinkSession runs in its own thread: greeting, ESMTP commands, STARTTLS (with the
client-certificate modes of the sink), DATA, QUIT. It is also the handle a test's raw
hook receives, to send bytes of its own choosing, stall, or cut the connection.
"""
import re
import socket
import ssl
import struct
import threading
import time

_MAIL = re.compile(r"^MAIL FROM:\s*<([^>]*)>\s*(.*)$", re.IGNORECASE)
_RCPT = re.compile(r"^RCPT TO:\s*<([^>]*)>\s*(.*)$", re.IGNORECASE)
_CERTIFICATE_MESSAGE = 11
_HANDSHAKE = 22
_TLS13 = 0x0304
COMMAND_LINE_LIMIT = 64 * 1024


class Disconnect(Exception):
    """The session is over (the peer left, or the sink or a hook ended it)."""


def certificate_list_nonempty(version, message):
    """True when a TLS Certificate handshake message (header included) carries a certificate.

    TLS 1.3 puts a request context before the list (RFC 8446 4.4.2); TLS 1.2 does not."""
    body = message[4:]
    if version == _TLS13:
        if not body:
            return False
        body = body[1 + body[0]:]
    return len(body) >= 3 and int.from_bytes(body[:3], "big") > 0


def on_tls_message(conn, direction, version, content_type, msg_type, data):
    """SSLContext message callback: notices the client's Certificate message as it arrives,
    before it is verified, and kills the connection there when the sink is in "kill" mode."""
    if direction != "read" or content_type != _HANDSHAKE or msg_type != _CERTIFICATE_MESSAGE:
        return
    session = getattr(conn, "harness_session", None)
    if session is None or not certificate_list_nonempty(version, data):
        return
    session.client_cert_presented = True
    if session.sink.client_certs == "kill":
        session.kill("client presented a certificate")


class SinkSession:
    """One client connection: what was said and seen (ehlo, tls, client certificate, commands)."""

    def __init__(self, sink, sock, peer, number):
        self.sink = sink
        self.sock = sock
        self.peer = peer
        self.id = number
        self.ehlo = None
        self.tls = False
        self.tls_version = None
        self.cipher = None
        self.client_cert_presented = False
        self.client_cert_der = None
        self.killed = None
        self.injected = b""
        self.commands = []
        self.error = None
        self.greeting_code = "2"
        self.started = time.monotonic()
        self.ended = None
        self._buf = bytearray()
        self._pos = 0
        self._close_lock = threading.Lock()
        self._closed = False
        self._reset_transaction()

    def __repr__(self):
        return f"<SinkSession {self.id} from {self.peer[0]}:{self.peer[1]} tls={self.tls} killed={self.killed}>"

    # ---- for hooks -------------------------------------------------------------------
    def send_raw(self, data):
        """Writes bytes to the client as they are (a hook's hostile reply)."""
        if isinstance(data, str):
            data = data.encode()
        self.sink.log(f"{self.id} > {data[:200]!r}")
        self.sock.sendall(data)

    def reply(self, text):
        """Sends one reply; text may hold several lines separated by "\\n" (a multi-line reply
        gets the "-" continuation marks)."""
        lines = text.split("\n")
        if self.sink.reply_delay:
            time.sleep(self.sink.reply_delay)
        wire = []
        for i, line in enumerate(lines):
            mark = " " if i == len(lines) - 1 else "-"
            wire.append(line[:3] + mark + line[4:] if len(line) > 3 else line)
            self.sink.log(f"{self.id} > {wire[-1]}")
        self.sock.sendall(("\r\n".join(wire) + "\r\n").encode("utf-8", "replace"))

    def close(self):
        """Ends the session with a normal close: TLS close_notify (without waiting for the
        client's), then FIN."""
        if self.tls:
            try:
                self.sock.setblocking(False)
                self.sock.unwrap()
            except (ssl.SSLError, OSError, ValueError):
                pass  # SSLWantReadError: ours is sent, the client's is not awaited
        self._shutdown(reset=False)
        raise Disconnect("closed by the sink")

    def abort(self):
        """Ends the session with a TCP reset and no goodbye."""
        self._shutdown(reset=True)
        raise Disconnect("aborted by the sink")

    def kill(self, reason):
        """Cuts the connection now (reset, no TLS alert), from any thread; records why."""
        self.killed = reason
        self.sink.log(f"{self.id} killed: {reason}")
        self._shutdown(reset=True)

    def _shutdown(self, reset):
        with self._close_lock:
            if self._closed:
                return
            try:
                if reset:
                    self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                # socket.socket's own shutdown: on a TLS socket it must not touch the TLS state.
                socket.socket.shutdown(self.sock, socket.SHUT_RDWR)
            except OSError:
                pass

    def _release(self):
        with self._close_lock:
            self._closed = True
            self._buf, self._pos = bytearray(), 0  # sessions are kept: keep them small
            try:
                self.sock.close()
            except OSError:
                pass

    # ---- the conversation ------------------------------------------------------------
    def run(self):
        """The session thread's body: serves the client until it leaves or is cut off."""
        self.sink.log(f"{self.id} connect from {self.peer[0]}:{self.peer[1]}")
        try:
            self.sock.settimeout(self.sink.idle_timeout)
            self._greet()
            while True:
                line = self._read_line(COMMAND_LINE_LIMIT)
                if line is None:
                    break
                self._command(line.rstrip(b"\r\n").decode("utf-8", "replace"))
        except Disconnect:
            pass
        except (OSError, ssl.SSLError, ValueError) as e:
            self.error = repr(e)
            self.sink.log(f"{self.id} error: {e!r}")
        finally:
            self.ended = time.monotonic()
            self._release()
            self.sink.log(f"{self.id} disconnect")

    def _greet(self):
        """Sends the greeting: 4xx closes at once, 5xx refuses all but QUIT, bytes go raw."""
        greeting = self.sink.greeting
        if callable(greeting):
            greeting = greeting(self)
        if isinstance(greeting, bytes):
            self.send_raw(greeting)
            return
        self.reply(greeting)
        self.greeting_code = greeting[:1]
        if greeting.startswith("4"):
            self.close()

    def _read_line(self, limit):
        """The next line (with its ending) from the client, or None at end of stream."""
        while True:
            end = self._buf.find(b"\n", self._pos)
            if end >= 0:
                line = bytes(self._buf[self._pos:end + 1])
                self._pos = end + 1
                if self._pos > 65536:
                    del self._buf[:self._pos]
                    self._pos = 0
                return line
            if len(self._buf) - self._pos > limit:
                self.reply("500 5.5.2 Line too long")
                self.close()
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self._buf += chunk

    def _command(self, line):
        self.commands.append(line)
        self.sink.log(f"{self.id} < {line}")
        hook = self.sink.hook
        if hook is not None:
            answer = hook(self, line)
            if isinstance(answer, bytes):
                self.send_raw(answer)
                return
            if isinstance(answer, str):
                self.reply(answer)
                return
        verb = line.split(" ", 1)[0].upper()
        if self.greeting_code == "5" and verb != "QUIT":
            self.reply("503 5.5.1 Error: the greeting said no")
            return
        handler = _HANDLERS.get(verb)
        if handler is None:
            self.reply("500 5.5.2 Error: command not recognized")
            return
        handler(self, line[len(verb):].strip())

    def _reset_transaction(self):
        self.mail_from = None
        self.mail_params = []
        self.rcpt_to = []
        self.rcpt_params = []

    def _ehlo(self, args):
        self.ehlo = args
        self._reset_transaction()
        lines = [f"250 {self.sink.hostname}"] + [f"250 {ext}" for ext in self.sink.extensions_for(self)]
        self.reply("\n".join(lines))

    def _helo(self, args):
        self.ehlo = args
        self._reset_transaction()
        self.reply(f"250 {self.sink.hostname}")

    def _mail(self, args):
        found = _MAIL.match("MAIL " + args)
        if self.ehlo is None:
            return self.reply("503 5.5.1 Error: send HELO/EHLO first")
        if self.mail_from is not None:
            return self.reply("503 5.5.1 Error: nested MAIL command")
        if not found:
            return self.reply("501 5.5.4 Syntax: MAIL FROM:<address>")
        params = found.group(2).split()
        size = [p for p in params if p.upper().startswith("SIZE=")]
        if size and size[0][5:].isdigit() and int(size[0][5:]) > self.sink.size_limit:
            return self.reply("552 5.3.4 Message size exceeds fixed limit")
        answer = self.sink.mail_reply_for(found.group(1), self)
        if answer.startswith("2"):
            self.mail_from, self.mail_params = found.group(1), params
        self.reply(answer)

    def _rcpt(self, args):
        found = _RCPT.match("RCPT " + args)
        if self.mail_from is None:
            return self.reply("503 5.5.1 Error: need MAIL command")
        if not found:
            return self.reply("501 5.5.4 Syntax: RCPT TO:<address>")
        answer = self.sink.rcpt_reply_for(found.group(1), self)
        if answer.startswith("2"):
            self.rcpt_to.append(found.group(1))
            self.rcpt_params.append(found.group(2).split())
        self.reply(answer)

    def _data(self, args):
        if self.mail_from is None:
            return self.reply("503 5.5.1 Error: need MAIL command")
        if not self.rcpt_to:
            return self.reply("554 5.5.1 Error: no valid recipients")
        self.reply("354 End data with <CR><LF>.<CR><LF>")
        data, too_big = self._read_data()
        if too_big:
            self.reply("552 5.3.4 Message size exceeds fixed limit")
        else:
            self.reply(self.sink.accept_message(self, data))
        self._reset_transaction()

    def _read_data(self):
        """The message up to the lone dot, un-dot-stuffed, and whether it was over the limit."""
        chunks, size, limit = [], 0, self.sink.size_limit
        while True:
            line = self._read_line(1 << 30)
            if line is None:
                raise Disconnect("client left during DATA")
            if line in (b".\r\n", b".\n"):
                return b"".join(chunks), size > limit
            if line.startswith(b"."):
                line = line[1:]
            size += len(line)
            if size <= limit:
                chunks.append(line)

    def _rset(self, args):
        self._reset_transaction()
        self.reply("250 2.0.0 Ok")

    def _noop(self, args):
        self.reply("250 2.0.0 Ok")

    def _vrfy(self, args):
        self.reply("252 2.0.0 Cannot VRFY, but will take the message")

    def _quit(self, args):
        self.reply("221 2.0.0 Bye")
        self.close()

    def _starttls(self, args):
        mode = self.sink.starttls
        if self.tls or not self.sink.offers_starttls():
            return self.reply("502 5.5.1 Error: command not implemented")
        if mode == "refuse":
            return self.reply("454 4.7.0 TLS not available due to local problem")
        self.reply("220 2.0.0 Ready to start TLS")
        if mode == "break":
            self.killed = "STARTTLS set to break"
            self.abort()
        # Whatever the client pipelined after STARTTLS is plaintext injection: drop it.
        self.injected = bytes(self._buf[self._pos:])
        self._buf, self._pos = bytearray(), 0
        self._handshake()

    def _handshake(self):
        tls_sock = self.sink.tls_context.wrap_socket(self.sock, server_side=True, do_handshake_on_connect=False)
        tls_sock.harness_session = self
        self.sock = tls_sock
        try:
            tls_sock.do_handshake()
        except (OSError, ssl.SSLError) as e:
            if self.killed:
                raise Disconnect(self.killed)
            self.error = f"TLS handshake failed: {e}"
            raise Disconnect(self.error)
        if self.killed:
            raise Disconnect(self.killed)
        self.client_cert_der = tls_sock.getpeercert(binary_form=True)
        if self.client_cert_der:
            self.client_cert_presented = True
            if self.sink.client_certs == "kill":
                self.kill("client presented a certificate")
                raise Disconnect(self.killed)
        self.tls, self.tls_version, self.cipher = True, tls_sock.version(), tls_sock.cipher()[0]
        self.sink.log(f"{self.id} TLS {self.tls_version} {self.cipher} client_cert={self.client_cert_presented}")
        self.ehlo = None
        self._reset_transaction()


_HANDLERS = {
    "EHLO": SinkSession._ehlo, "HELO": SinkSession._helo, "MAIL": SinkSession._mail,
    "RCPT": SinkSession._rcpt, "DATA": SinkSession._data, "RSET": SinkSession._rset,
    "NOOP": SinkSession._noop, "VRFY": SinkSession._vrfy, "QUIT": SinkSession._quit,
    "STARTTLS": SinkSession._starttls,
}
