"""slowloris_support.py: the slowloris run shared by test_slowloris.py (short, in `make
test`) and soak_slowloris.py (long, `make soak`).

Swarm holds thousands of connections to smtpd from one thread of this process
(non-blocking sockets and a selector) and sends one byte on each every `interval` seconds,
spread evenly, so smtpd's idle timeout never fires and no line ever ends. The connections
come from many loopback addresses (127.0.1.1, 127.0.1.2, ...) outside mynetworks, each
under smtpd.client_connection_count_limit, as a distributed attack would. Meanwhile plain
clients from 127.0.0.1 send mail and must be served promptly, and no smtpd may die.
"""
import errno
import resource
import selectors
import socket
import sys
import threading
import time

from harness import smtp_send

PER_ADDRESS = 40


def raise_open_file_limit(needed):
    """Raises this process's RLIMIT_NOFILE (inherited by postern) to at least needed, as far
    as the hard limit allows; returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max(soft, needed)
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    if wanted > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return wanted


def source_address(index):
    """The loopback address of connection number index: PER_ADDRESS per address."""
    n = index // PER_ADDRESS + 1
    return f"127.0.{1 + n // 250}.{1 + n % 250}"


class Swarm:
    """count slow connections to 127.0.0.1:port, driven by a thread of their own."""

    def __init__(self, port, count, interval=10.0):
        self.port, self.count, self.interval = port, count, interval
        self.selector = selectors.DefaultSelector()
        self.sockets = []
        self.bytes_sent = 0
        self.closed_by_server = 0
        self.refused = 0  # connections the server greeted with something else than 220
        self.greeted = 0
        self._stop = threading.Event()
        self._thread = None

    def open(self, timeout=60.0):
        """Opens every connection (non-blocking) and waits until each is connected; returns self."""
        for index in range(self.count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.bind((source_address(index), 0))
            code = sock.connect_ex(("127.0.0.1", self.port))
            if code not in (0, errno.EINPROGRESS):
                sock.close()
                raise OSError(code, f"connection {index}: {errno.errorcode.get(code, code)}")
            self.sockets.append(sock)
            self.selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, {"greeting": b""})
        deadline = time.monotonic() + timeout
        pending = set(self.sockets)
        while pending and time.monotonic() < deadline:
            for key, events in self.selector.select(timeout=1.0):
                if events & selectors.EVENT_WRITE and key.fileobj in pending:
                    pending.discard(key.fileobj)
                    self.selector.modify(key.fileobj, selectors.EVENT_READ, key.data)
                if events & selectors.EVENT_READ:
                    self._read(key)
        if pending:
            raise AssertionError(f"{len(pending)} of {self.count} slow connections not connected in {timeout}s")
        return self

    def read_greetings(self, timeout=60.0):
        """Reads until every connection has its greeting (or was closed), at most timeout
        seconds; returns self. Greetings that come after open() returned are only read here:
        nothing else reads the sockets before start()."""
        deadline = time.monotonic() + timeout
        while self.greeted + self.refused + self.closed_by_server < self.count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out after {timeout:g}s waiting for every slow connection greeted "
                    f"({self.greeted} greeted + {self.refused} refused + {self.closed_by_server} "
                    f"closed of {self.count})")
            for key, _ in self.selector.select(timeout=min(1.0, remaining)):
                self._read(key)
        return self

    def start(self):
        """Starts the thread that trickles bytes; returns self."""
        self._thread = threading.Thread(target=self._run, name="slowloris", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stops the thread and closes every connection."""
        self._stop.set()
        if self._thread:
            self._thread.join(30)
        for sock in self.sockets:
            try:
                self.selector.unregister(sock)
            except (KeyError, ValueError):
                pass
            sock.close()
        self.sockets = []

    @property
    def open_connections(self):
        return len(self.sockets) - self.closed_by_server

    def _read(self, key):
        try:
            data = key.fileobj.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.selector.unregister(key.fileobj)
            self.closed_by_server += 1
            return
        if key.data["greeting"] is not None:
            key.data["greeting"] += data
            if b"\n" in key.data["greeting"]:
                if key.data["greeting"].startswith(b"220 "):
                    self.greeted += 1
                else:
                    self.refused += 1
                key.data["greeting"] = None

    def _run(self):
        # One byte per connection per interval, spread over the interval in small slices.
        slices = max(1, int(self.interval / 0.1))
        step = 0
        while not self._stop.is_set():
            tick_end = time.monotonic() + self.interval / slices
            for sock in self.sockets[step % slices::slices]:
                try:
                    sock.send(b"X")
                    self.bytes_sent += 1
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    pass  # closed by the server: counted by _read
            step += 1
            while not self._stop.is_set():
                remaining = tick_end - time.monotonic()
                if remaining <= 0:
                    break
                for key, _ in self.selector.select(timeout=remaining):
                    self._read(key)


def run_slowloris(test, connections, seconds, interval=10.0, probe_every=1.0, max_latency=3.0):
    """Holds a swarm against a fresh postern for `seconds` while a plain client sends a
    message every probe_every seconds; checks every probe was served within max_latency and
    that no smtpd died. Returns a one-line summary (also the test's report_line)."""
    limit = raise_open_file_limit(2 * connections + 1000)
    if limit < connections + 500:
        test.skipTest(f"the open file limit ({limit}) is too low for {connections} connections")
    sink = test.mail_sink()
    mx = test.start_postern(mynetworks=["127.0.0.1/32"],
                            routes=({"domain": "*", "nexthop": f"[127.0.0.1]:{sink.port}"},),
                            smtpd={"client_connection_count_limit": PER_ADDRESS + 10})
    smtpds = mx.children("smtpd")
    swarm = Swarm(mx.port, connections, interval)
    test.addCleanup(swarm.stop)
    swarm.open().read_greetings(60)
    swarm.start()
    latencies, failures = [], []
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        before = time.monotonic()
        result = smtp_send(mx.port, rcpt_to=["probe@far.test"], timeout=30)
        latencies.append(time.monotonic() - before)
        if not result.ok:
            failures.append(result)
        time.sleep(max(0.0, probe_every - (time.monotonic() - before)))
    held = swarm.open_connections
    swarm.stop()
    summary = (f"{connections} slow connections ({swarm.greeted} greeted, {swarm.refused} refused, "
               f"{swarm.closed_by_server} closed by the server, {swarm.bytes_sent} bytes trickled); "
               f"{len(latencies)} probes, slowest {max(latencies):.2f}s, median "
               f"{sorted(latencies)[len(latencies) // 2]:.3f}s")
    test.report_line = summary
    sys.stderr.write(f"{test.id()}: {summary}\n")
    test.assertEqual(failures, [], summary)
    test.assertLess(max(latencies), max_latency, summary)
    test.assertEqual(swarm.refused, 0, summary)
    test.assertGreater(held, connections * 0.95, summary)  # the attack was really on
    test.assertEqual(mx.children("smtpd"), smtpds, "an smtpd died")
    test.wait_for(lambda: len(sink.messages) >= len(latencies), 30, "every probe at the sink")
    return summary
