"""smtpd.py: one postern smtpd started alone (`smtpd -c FILE --standalone`), for the tests
of the receiver without master, qmgr or smtp workers; and RawSmtp, a byte-exact SMTP client
for what smtplib will not send (pipelining, smuggling sequences, BDAT, half messages).

    smtpd = StandaloneSmtpd(self.registry, smtpd={"recipient_limit": 2}).start()
    with RawSmtp(smtpd.port) as client:
        client.expect("220")
        ...
    [queued] = smtpd.wait_queued(1)          # harness.queuefile.QueueFile objects
"""
import os
import re
import signal
import socket
import time

from . import libconfig, queuefile
from .base import PosternTestCase
from .ports import free_port
from .postern import daemon_binary
from .processes import LogFile, tail, wait_for, wait_port
from .system import give_to, is_root, user_exists


class StandaloneSmtpd(LogFile):
    """smtpd in registry.tmp/NAME with its own queue and log. Keyword arguments are
    configuration settings merged over the test defaults (nested dicts merge)."""

    def __init__(self, registry, name="smtpd", prlimit_nofile=None, **config):
        self.registry = registry
        self.folder = os.path.join(registry.tmp, name)
        os.makedirs(self.folder, mode=0o755, exist_ok=True)
        self.conf_path = os.path.join(self.folder, "postern.conf")
        self.queue_directory = os.path.join(self.folder, "queue")
        self.log_path = os.path.join(self.folder, "postern.log")
        self.port = free_port()
        defaults = {
            "myhostname": "mx.postern.test",
            "queue_directory": self.queue_directory,
            "log_file": self.log_path,
            "mynetworks": ["127.0.0.0/8"],
            "relay_domains": ["relay.test"],
            "smtpd": {"listen": [f"127.0.0.1:{self.port}"], "error_sleep_time": 0},
        }
        self.config = libconfig.deep_merge(defaults, config)
        self.prlimit_nofile = prlimit_nofile
        self.process = None
        registry.add_log(f"{name} log", self.log_path)

    def __repr__(self):
        return f"<StandaloneSmtpd 127.0.0.1:{self.port}>"

    def start(self, timeout=15.0):
        """Writes the configuration, starts smtpd and waits for its 220 greeting."""
        with open(self.conf_path, "w") as f:
            f.write(libconfig.dumps(self.config))
        os.chmod(self.conf_path, 0o644)
        os.makedirs(self.queue_directory, mode=0o755, exist_ok=True)
        if not os.path.exists(self.log_path):
            open(self.log_path, "a").close()
        os.chmod(self.log_path, 0o666)
        owner = self.config.get("mail_owner", "postern")
        if is_root() and user_exists(owner):
            give_to(self.log_path, owner)
        argv = [daemon_binary("smtpd"), "-c", self.conf_path, "--standalone"]
        if self.prlimit_nofile:
            argv = ["prlimit", f"--nofile={self.prlimit_nofile}:{self.prlimit_nofile}", "--"] + argv
        self.process = self.registry.spawn(argv, name="smtpd")
        try:
            wait_port(self.port, timeout=timeout, process=self.process, greeting=b"220")
        except AssertionError as e:
            raise AssertionError(f"{e}\n--- {self.log_path}:\n{tail(self.log_path, 30)}") from None
        return self

    @property
    def pid(self):
        return self.process.pid

    def kill(self, sig=signal.SIGKILL):
        """Sends sig to smtpd and waits for it to exit."""
        os.kill(self.process.pid, sig)
        self.process.wait(15)

    def submit_path(self):
        """The local submission socket, public/submit."""
        return os.path.join(self.queue_directory, "public", "submit")

    # ---- the queue ---------------------------------------------------------------------
    def queue_names(self, queue="incoming"):
        """Every name in a queue folder (temporaries included), sorted."""
        try:
            return sorted(os.listdir(os.path.join(self.queue_directory, queue)))
        except FileNotFoundError:
            return []

    def queued_ids(self):
        """The queue IDs in incoming/."""
        return [n for n in self.queue_names() if re.fullmatch(r"[0-9A-Za-z]{17}", n)]

    def read(self, queue_id):
        """The parsed queue file incoming/ID."""
        return queuefile.read(os.path.join(self.queue_directory, "incoming", queue_id))

    def wait_queued(self, count, timeout=10.0):
        """Waits until incoming/ holds count messages; returns them parsed, in ID order."""
        wait_for(lambda: len(self.queued_ids()) >= count, timeout, f"{count} messages in incoming/",
                 process=self.process)
        return [self.read(i) for i in self.queued_ids()]


class RawSmtp:
    """A byte-exact SMTP client on a socket (TCP, or a UNIX socket path)."""

    def __init__(self, port=None, host="127.0.0.1", path=None, timeout=10.0):
        if path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(path)
        else:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buffer = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.sock.close()

    def send(self, data):
        """Sends bytes (str is encoded as UTF-8) as they are."""
        self.sock.sendall(data.encode("utf-8") if isinstance(data, str) else data)

    def reply(self, timeout=None):
        """The next whole reply as text ("250-a\\r\\n250 b\\r\\n"); "" when the server closed."""
        if timeout is not None:
            self.sock.settimeout(timeout)
        while True:
            end = self._complete()
            if end:
                text, self.buffer = self.buffer[:end], self.buffer[end:]
                return text.decode("utf-8", "replace")
            chunk = self.sock.recv(65536)
            if not chunk:
                return ""
            self.buffer += chunk

    def _complete(self):
        start = 0
        while True:
            end = self.buffer.find(b"\n", start)
            if end < 0:
                return 0
            line = self.buffer[start:end]
            if len(line) < 4 or line[3:4] != b"-":
                return end + 1
            start = end + 1

    def command(self, line):
        """Sends line + CRLF, returns the reply."""
        self.send(line + "\r\n")
        return self.reply()

    def expect(self, code, line=None):
        """Sends line (if any) and checks the reply starts with code; returns the reply."""
        text = self.command(line) if line is not None else self.reply()
        if not text.startswith(code):
            raise AssertionError(f"{line!r}: expected {code}, got {text!r}")
        return text

    def transaction(self, ehlo="client.test", mail_from="a@sender.test", rcpt_to=("x@relay.test",)):
        """EHLO (unless ehlo is None), MAIL and RCPTs, each answered with 250."""
        if ehlo is not None:
            self.expect("250", f"EHLO {ehlo}")
        self.expect("250", f"MAIL FROM:<{mail_from}>")
        for rcpt in rcpt_to:
            self.expect("250", f"RCPT TO:<{rcpt}>")

    def closed(self, timeout=5.0):
        """True when the server closes the connection within timeout (data before EOF is kept)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except ConnectionResetError:
                return True
            if not chunk:
                return True
            self.buffer += chunk
        return False


def queued_id(reply):
    """The queue ID of a "250 2.0.0 Ok: queued as ID" reply, or None."""
    found = re.search(r"queued as ([0-9A-Za-z]+)", reply)
    return found.group(1) if found else None


class SmtpdTestCase(PosternTestCase):
    """A PosternTestCase that starts smtpd alone (failing when smtpd is not built)."""

    def start_smtpd(self, **config):
        """A started StandaloneSmtpd with config merged over the defaults."""
        self.require_built(daemon_binary("smtpd"))
        return StandaloneSmtpd(self.registry, **config).start()

    def assertReply(self, reply, code, text=None):
        """Checks a reply's code (and that text appears in it)."""
        self.assertTrue(reply.startswith(code), f"expected {code}, got {reply!r}")
        if text is not None:
            self.assertIn(text, reply)


def split_received(content):
    """(the first header field with its folded lines, the rest of the content)."""
    end = 0
    while True:
        end = content.index(b"\r\n", end) + 2
        if content[end:end + 1] not in (b" ", b"\t"):
            return content[:end], content[end:]
