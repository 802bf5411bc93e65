"""peers.py: the real test peers from Debian, each on free ports and stopped by pid.

SmtpSink (/usr/sbin/smtp-sink, counts and dumps what it receives), smtp_source()
(/usr/sbin/smtp-source, runs to completion), Dnsmasq (MX and host records on a loopback
port), swaks(), and PostfixInstance (in postfix.py) — see /work/shared/PEERS.md.
Every constructor takes the test's processes.Registry, which stops what it started.
"""
import collections
import email.parser
import email.policy
import os
import re

from . import dns
from .ports import free_port
from .postfix import PostfixInstance  # noqa: F401 (a peer too; it lives in its own file)
from .processes import wait_for, wait_port
from .system import give_to, is_root

SMTP_SINK = "/usr/sbin/smtp-sink"
SMTP_SOURCE = "/usr/sbin/smtp-source"
DNSMASQ = "/usr/sbin/dnsmasq"
SWAKS = "/usr/bin/swaks"
_SWAKS_HEADERS = {name.lower(): name for name in ("Date", "To", "From", "Subject", "Message-Id", "X-Mailer")}
_COUNTERS = re.compile(r"sess=(\d+) quit=(\d+) mesg=(\d+)")


class SmtpSink:
    """/usr/sbin/smtp-sink listening on host:port (a free port unless given).

    counts() reads its -c counters; with dump=True every message is also written to a file
    of its own (messages(), message_ids()). exit_after=N passes -M N: it exits after N
    messages (wait_exit()).
    """

    def __init__(self, registry, host="127.0.0.1", port=None, max_sessions=1000, exit_after=None, dump=True,
                 backlog=1000, hostname="smtp-sink.test", extra_args=()):
        self.registry, self.host = registry, host
        self.port = port or free_port()
        self.max_sessions, self.exit_after, self.backlog = max_sessions, exit_after, backlog
        self.hostname, self.extra_args = hostname, list(extra_args)
        self.dump_dir = os.path.join(registry.tmp, f"smtp-sink-{self.port}") if dump else None
        self.process = None

    def __repr__(self):
        return f"<SmtpSink {self.host}:{self.port}>"

    def start(self):
        """Starts smtp-sink and waits until it accepts connections; returns self."""
        argv = [SMTP_SINK]
        if is_root():
            argv += ["-u", "nobody"]  # smtp-sink refuses to run as root without it
        argv += ["-c", "-m", str(self.max_sessions), "-h", self.hostname]
        if self.exit_after:
            argv += ["-M", str(self.exit_after)]
        if self.dump_dir:
            os.makedirs(self.dump_dir, mode=0o755)
            give_to(self.dump_dir, "nobody")
            argv += ["-d", os.path.join(self.dump_dir, "msg.")]
        argv += self.extra_args + [f"{self.host}:{self.port}", str(self.backlog)]
        self.process = self.registry.spawn(argv, name="smtp-sink")
        wait_port(self.port, self.host, process=self.process)
        return self

    def stop(self):
        """Stops smtp-sink by pid."""
        if self.process is not None:
            self.process.stop()

    def counts(self):
        """{"sess", "quit", "mesg"}: smtp-sink's latest counters (zeros before the first)."""
        with open(self.process.log_path, encoding="utf-8", errors="replace") as f:
            found = _COUNTERS.findall(f.read())
        sess, quit_, mesg = found[-1] if found else (0, 0, 0)
        return {"sess": int(sess), "quit": int(quit_), "mesg": int(mesg)}

    def wait_messages(self, count, timeout=30.0):
        """Waits until smtp-sink counted count messages; returns the counts."""
        wait_for(lambda: self.counts()["mesg"] >= count, timeout,
                 lambda: f"{count} messages at {self!r} (counted {self.counts()['mesg']})", process=None)
        return self.counts()

    def wait_exit(self, timeout=30.0):
        """Waits for smtp-sink to exit by itself (after -M N messages); returns its exit code."""
        return self.process.wait(timeout)

    def message_files(self):
        """The dump files, one per message received (dump mode only)."""
        if not self.dump_dir:
            raise ValueError("SmtpSink: started without dump=True")
        return sorted(os.path.join(self.dump_dir, name) for name in os.listdir(self.dump_dir))

    def messages(self):
        """Each dumped message's header section (email.message.Message); smtp-sink adds
        X-Client-Addr, X-Helo-Args, X-Mail-Args and X-Rcpt-Args fields before the message."""
        parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
        parsed = []
        for path in self.message_files():
            with open(path, "rb") as f:
                parsed.append(parser.parsebytes(f.read()))
        return parsed

    def message_ids(self):
        """A Counter of the dumped messages' Message-IDs (duplicates have counts over 1)."""
        return collections.Counter((m.get("Message-ID") or "").strip() for m in self.messages())


def smtp_source(registry, port, host="127.0.0.1", sessions=1, messages=1, size=None, mail_from="source@example.test",
                rcpt_to="sink@example.test", reuse=False, extra_args=(), timeout=120.0):
    """Runs /usr/sbin/smtp-source against host:port to completion; returns (rc, output)."""
    argv = [SMTP_SOURCE, "-c", "-s", str(sessions), "-m", str(messages), "-f", mail_from, "-t", rcpt_to]
    if size is not None:
        argv += ["-l", str(size)]
    if reuse:
        argv.append("-d")
    argv += list(extra_args) + [f"{host}:{port}"]
    return registry.run(argv, name="smtp-source", timeout=timeout)


def swaks(registry, port, to="rcpt@example.test", mail_from="sender@example.test", host="127.0.0.1", tls=False,
          tls_cert=None, pipeline=False, ehlo="swaks.test", headers=None, body=None, extra_args=(), timeout=60.0):
    """Runs swaks for one message to host:port; returns (rc, transcript). tls_cert is a
    certs.CertPair to present; headers a dict of header fields (replacing swaks's own)."""
    argv = [SWAKS, "--server", f"{host}:{port}", "--to", to, "--from", mail_from, "--helo", ehlo,
            "--timeout", str(int(timeout))]
    if tls or tls_cert:
        argv.append("--tls")
    if tls_cert is not None:
        argv += ["--tls-cert", tls_cert.cert, "--tls-key", tls_cert.key]
    if pipeline:
        argv.append("--pipeline")
    for name, value in (headers or {}).items():
        # swaks replaces its own header only when the name is spelled as it spells it.
        argv += ["--header", f"{_SWAKS_HEADERS.get(name.lower(), name)}: {value}"]
    if body is not None:
        argv += ["--body", body]
    argv += list(extra_args)
    return registry.run(argv, name="swaks", timeout=timeout + 10)


class Dnsmasq:
    """dnsmasq answering on 127.0.0.1:port (UDP and TCP), with only the records given:
    mx = [(domain, host, preference)], hosts = [(name, address)]. Queries are logged."""

    def __init__(self, registry, mx=(), hosts=(), port=None, extra_args=()):
        self.registry = registry
        self.mx, self.hosts = list(mx), list(hosts)
        self.port = port or free_port("both")
        self.extra_args = list(extra_args)
        self.process = None

    def __repr__(self):
        return f"<Dnsmasq 127.0.0.1:{self.port}>"

    @property
    def server(self):
        """"127.0.0.1:PORT", as postern's dns_servers wants it."""
        return f"127.0.0.1:{self.port}"

    def start(self):
        """Starts dnsmasq and waits until it answers queries; returns self."""
        argv = [DNSMASQ, "--keep-in-foreground", f"--port={self.port}", "--listen-address=127.0.0.1",
                "--bind-interfaces", "--no-resolv", "--no-hosts", "--pid-file=", "--log-facility=-",
                "--log-queries"]
        argv += [f"--mx-host={domain},{host},{pref}" for domain, host, pref in self.mx]
        argv += [f"--host-record={name},{address}" for name, address in self.hosts]
        self.process = self.registry.spawn(argv + self.extra_args, name="dnsmasq")
        wait_for(self._answers, 10, f"{self!r} to answer queries", process=self.process)
        return self

    def _answers(self):
        try:
            self.query("ready.harness.test", "A", timeout=0.3)
            return True
        except OSError:
            return False

    def query(self, name, rtype="A", timeout=2.0):
        """Asks this dnsmasq for name/rtype; returns a dns.DnsReply."""
        return dns.query(name, rtype, "127.0.0.1", self.port, timeout)

    def stop(self):
        """Stops dnsmasq by pid."""
        if self.process is not None:
            self.process.stop()
