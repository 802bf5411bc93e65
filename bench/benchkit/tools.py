"""tools.py: the sinks and load tools as processes of the benchmark's registry.

BenchSink wraps build/bench/bench_sink (the C++ sink: STARTTLS, exact counts, the time of
every final 250), PlainSink Postfix's smtp-sink (its per-message counter line tells the count);
both answer done() and end_ns() (CLOCK_MONOTONIC, as time.monotonic_ns()). start_source()
launches smtp-source, start_rate_client() and start_idle_sessions() the other C++ tools.
memory_kib() sums the resident and proportional memory of a set of processes.
"""
import os
import re

from harness.peers import SMTP_SOURCE, SmtpSink
from harness.processes import wait_for

_COMPLETE = re.compile(r"^complete (\d+) (\d+) (\d+)$", re.M)
_TOTAL = re.compile(r"^total (\d+) (\d+) (\d+)$", re.M)
_MESSAGES = re.compile(rb"mesg=(\d+)")
_MEMORY = re.compile(r"^(Rss|Pss):\s+(\d+) kB$", re.M)


def bench_binary(name):
    """build/bench/NAME."""
    return os.path.join(os.environ["POSTERN_BUILD_DIR"], "bench", name)


def read_text(path):
    """The whole file as text ("" when it does not exist yet)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


class BenchSink:
    """bench_sink on 127.0.0.1:port; cert (a CertPair) makes it offer STARTTLS; expect=N
    makes it announce the N-th message; times=PATH records each message's final 250."""

    def __init__(self, registry, port, cert=None, expect=0, times=None):
        argv = [bench_binary("bench_sink"), "--listen", f"127.0.0.1:{port}"]
        if cert is not None:
            argv += ["--cert", cert.chain, "--key", cert.key]
        if expect:
            argv += ["--expect", str(expect)]
        if times:
            argv += ["--times", times]
        self.port = port
        self.process = registry.spawn(argv, name="bench_sink")
        wait_for(lambda: "ready" in read_text(self.process.log_path), 10, "bench_sink to listen",
                 process=self.process)

    def done(self):
        """True once the expected number of messages is in (the log is read only when it grew)."""
        size = os.path.getsize(self.process.log_path)
        if size != self._seen_size:
            self._seen_size = size
            self._complete = _COMPLETE.search(read_text(self.process.log_path)) is not None
        return self._complete

    _seen_size = -1
    _complete = False

    def end_ns(self):
        """When the last expected message's final 250 went out (None before)."""
        found = _COMPLETE.search(read_text(self.process.log_path))
        return int(found.group(3)) if found else None

    def stop(self):
        """Stops it (it writes its times file first); returns the messages it counted."""
        self.process.stop()
        found = _TOTAL.search(read_text(self.process.log_path))
        if found:
            self.sessions, self.tls_sessions = int(found.group(2)), int(found.group(3))
        return int(found.group(1)) if found else None

    sessions = tls_sessions = None  # connections the MTA made, and how many of them with TLS


class PlainSink:
    """Postfix's smtp-sink on 127.0.0.1:port, done once it counted `expect` messages.

    Not with -M N: smtp-sink exits on the N-th message before answering it, so the MTA
    sees a lost connection and defers that message (Postfix logs "lost connection ...
    while sending end of data"). Its -c counter line per message is read incrementally.
    """

    def __init__(self, registry, port, expect):
        self.sink = SmtpSink(registry, port=port, max_sessions=2000, dump=False, backlog=4096).start()
        self.expect = expect
        self._offset = 0
        self._counted = 0

    def counted(self):
        """Messages counted so far."""
        with open(self.sink.process.log_path, "rb") as f:
            f.seek(self._offset)
            fresh = f.read()
        self._offset += len(fresh)
        found = _MESSAGES.findall(fresh)
        if found:
            self._counted = int(found[-1])
        return self._counted

    def done(self):
        return self.counted() >= self.expect

    def end_ns(self):
        """None: the caller takes the time it saw the count."""
        return None

    sessions = tls_sessions = None  # smtp-sink's -c counters do not tell

    def stop(self):
        """Stops it; returns the messages it counted."""
        counted = self.counted()
        self.sink.stop()
        return counted


def start_source(registry, port, sessions, messages, size):
    """smtp-source: `sessions` parallel sessions, one message each, `messages` in all."""
    argv = [SMTP_SOURCE, "-s", str(sessions), "-m", str(messages), "-l", str(size),
            "-f", "source@client.bench", "-t", "sink@far.bench", f"127.0.0.1:{port}"]
    return registry.spawn(argv, name="smtp-source")


def start_rate_client(registry, port, rate, messages, size, id_prefix, times, sessions=20):
    """rate_client: `messages` at `rate` per second, each 250's time into `times`."""
    argv = [bench_binary("rate_client"), "--connect", f"127.0.0.1:{port}", "--rate", str(int(rate)),
            "--messages", str(messages), "--sessions", str(sessions), "--size", str(size),
            "--id-prefix", id_prefix, "--times", times]
    return registry.spawn(argv, name="rate_client")


def start_idle_sessions(registry, port, sessions, starttls):
    """idle_sessions: holds `sessions` sessions after EHLO (and STARTTLS)."""
    argv = [bench_binary("idle_sessions"), "--connect", f"127.0.0.1:{port}", "--sessions", str(sessions)]
    if starttls:
        argv.append("--starttls")
    return registry.spawn(argv, name="idle_sessions")


def read_times(path):
    """{message-id: ns} from a times file of bench_sink or rate_client."""
    times = {}
    for line in read_text(path).splitlines():
        key, _, value = line.rpartition(" ")
        if key:
            times[key] = int(value)
    return times


def memory_kib(pids):
    """(rss, pss) in KiB summed over pids (processes that vanished count nothing)."""
    rss = pss = 0
    for pid in pids:
        text = read_text(f"/proc/{pid}/smaps_rollup")
        for name, value in _MEMORY.findall(text):
            if name == "Rss":
                rss += int(value)
            else:
                pss += int(value)
    return rss, pss

