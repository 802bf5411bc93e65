"""runs.py: the measurements, each on an MTA that is already running.

throughput(): smtp-source sends N messages of one size over S parallel sessions (a new
connection per message); accept-only is N over the time until smtp-source is done,
end to end N over the time until the sink has the last one. latency(): rate_client sends
at a fixed rate and the sink times each message's final 250: the difference per
Message-ID is the latency from the MTA's 250 to delivery. idle_memory(): the MTA's total
memory before and with N idle sessions held by idle_sessions. fsync_rate(): what the
device does, 4 KiB write + fsync in a loop, the physical ceiling of durable mail.
"""
import math
import os
import re
import subprocess
import threading
import time

from . import tools

# The sink times the last message itself; polling only times smtp-source's exit, so 10 ms
# (0.25% of the shortest run) is precise enough and keeps the driver off the CPU the MTAs
# need (at 2 ms it took 9% of the machine).
POLL = 0.01
STALL_SECONDS = 20


class RunFailed(Exception):
    """A measurement that could not complete (the reason is the message)."""


def settle(mta, timeout=60.0):
    """Waits until the MTA's queue is empty (the previous run fully delivered)."""
    deadline = time.monotonic() + timeout
    while mta.queue_count() > 0:
        if time.monotonic() > deadline:
            raise RunFailed(f"{mta.name}'s queue still holds {mta.queue_count()} messages")
        time.sleep(0.05)


def _sink(registry, port, tls_cert, expect, plain_sink):
    if tls_cert is None and plain_sink == "smtp-sink":
        return tools.PlainSink(registry, port, expect)
    return tools.BenchSink(registry, port, cert=tls_cert, expect=expect)


class StallWatch:
    """Notices an MTA whose queue stopped moving: the same count for `patience` seconds."""

    def __init__(self, mta, patience=STALL_SECONDS):
        self.mta, self.patience = mta, patience
        self.count, self.since, self.checked = None, time.monotonic(), 0.0

    def stalled(self):
        """True once the queue count stood still for `patience` seconds (checked each second)."""
        now = time.monotonic()
        if now - self.checked < 1.0:
            return False
        self.checked = now
        count = self.mta.queue_count()
        if count != self.count:
            self.count, self.since = count, now
        return now - self.since > self.patience


def throughput(registry, mta, sink_port, size, sessions, messages, tls_cert=None, plain_sink="bench_sink",
               timeout=300.0):
    """One throughput row; returns {"e2e", "accept" (msg/s), "seconds", "delivered",
    "connections", "tls_connections" (what the MTA opened to the sink; None with smtp-sink)}."""
    settle(mta)
    sink = _sink(registry, sink_port, tls_cert, messages, plain_sink)
    start = time.monotonic_ns()
    source = tools.start_source(registry, mta.port, sessions, messages, size)
    accepted_at = delivered_at = None
    deadline = start + int(timeout * 1e9)
    watch = StallWatch(mta)
    while accepted_at is None or delivered_at is None:
        now = time.monotonic_ns()
        if accepted_at is None and not source.running():
            accepted_at = now
        if delivered_at is None and sink.done():
            delivered_at = sink.end_ns() or now
        if now > deadline or (accepted_at is not None and watch.stalled()):
            break
        time.sleep(POLL)
    source_rc = source.stop()
    counted = sink.stop()
    if source_rc != 0:
        raise RunFailed(f"smtp-source exited with {source_rc}: {source.tail(5)}")
    if delivered_at is None:
        raise RunFailed(f"only {counted} of {messages} messages reached the sink "
                        f"({mta.queue_count()} still queued)")
    return {"e2e": messages * 1e9 / (delivered_at - start), "accept": messages * 1e9 / (accepted_at - start),
            "seconds": (delivered_at - start) / 1e9, "delivered": counted, "connections": sink.sessions,
            "tls_connections": sink.tls_sessions}


def percentile(sorted_values, fraction):
    """The value below which `fraction` of sorted_values lie (nearest rank)."""
    if not sorted_values:
        return None
    rank = max(0, min(len(sorted_values) - 1, math.ceil(fraction * len(sorted_values)) - 1))
    return sorted_values[rank]


_SUMMARY = re.compile(r"sent (\d+) accepted (\d+) failed (\d+) elapsed_ms (\d+) backlog (\d+)")


def latency(registry, mta, sink_port, rate, seconds, size=4096, timeout=120.0):
    """Latency from the MTA's 250 to the sink's 250 at a fixed rate; returns
    {"p50", "p99", "max" (ms), "rate", "messages", "matched", "backlog"}."""
    settle(mta)
    messages = max(50, int(rate * seconds))
    folder = registry.tmp
    sink_times = os.path.join(folder, f"sink-times-{mta.name}.txt")
    client_times = os.path.join(folder, f"client-times-{mta.name}.txt")
    sink = tools.BenchSink(registry, sink_port, expect=messages, times=sink_times)
    client = tools.start_rate_client(registry, mta.port, rate, messages, size, f"lat-{mta.name}", client_times)
    deadline = time.monotonic() + timeout
    while (client.running() or not sink.done()) and time.monotonic() < deadline:
        time.sleep(0.05)
    client.stop()
    sink.stop()
    summary = _SUMMARY.search(tools.read_text(client.log_path))
    if summary is None:
        raise RunFailed(f"rate_client said nothing useful: {client.tail(5)}")
    accepted, delivered = tools.read_times(client_times), tools.read_times(sink_times)
    delays = sorted((delivered[key] - ns) / 1e6 for key, ns in accepted.items() if key in delivered)
    if not delays:
        raise RunFailed("no message reached the sink")
    return {"p50": percentile(delays, 0.50), "p99": percentile(delays, 0.99), "max": delays[-1],
            "rate": rate, "messages": messages, "matched": len(delays), "backlog": int(summary.group(5)),
            "accepted": int(summary.group(2))}


def _stable_memory(pids_of, timeout=10.0):
    """Reads the memory until two readings half a second apart agree within 1%."""
    previous = tools.memory_kib(pids_of())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.5)
        current = tools.memory_kib(pids_of())
        if abs(current[0] - previous[0]) <= 0.01 * max(previous[0], 1):
            return current
        previous = current
    return previous


def idle_memory(registry, mta, sessions, starttls, timeout=300.0):
    """The MTA's memory with `sessions` idle sessions; returns {"sessions" (established),
    "failed", "rss_kib", "pss_kib" (totals with the sessions), "rss_per_session",
    "pss_per_session" (KiB, growth over the idle MTA), "setup_s"}."""
    settle(mta)
    before = _stable_memory(mta.pids)
    holder = tools.start_idle_sessions(registry, mta.port, sessions, starttls)
    established = re.compile(r"established (\d+) failed (\d+) (\d+)")
    try:
        found = None
        deadline = time.monotonic() + timeout
        while found is None and time.monotonic() < deadline and holder.running():
            found = established.search(tools.read_text(holder.log_path))
            time.sleep(0.1)
        if found is None:
            raise RunFailed(f"idle_sessions did not finish setting up: {holder.tail(5)}")
        count, failed = int(found.group(1)), int(found.group(2))
        if count == 0:
            raise RunFailed(f"no session established: {holder.tail(5)}")
        after = _stable_memory(mta.pids)
    finally:
        holder.stop()
    return {"sessions": count, "failed": failed, "rss_kib": after[0], "pss_kib": after[1],
            "rss_per_session": (after[0] - before[0]) / count, "pss_per_session": (after[1] - before[1]) / count,
            "setup_s": int(found.group(3)) / 1000.0}


def _fsync_writer(path, seconds, counts, index):
    block = b"\0" * 4096
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        done, end = 0, time.monotonic() + seconds
        while time.monotonic() < end:
            os.write(fd, block)
            os.fsync(fd)
            done += 1
        counts[index] = done
    finally:
        os.close(fd)
        os.unlink(path)


def filesystem_of(folder):
    """'ext4 on /dev/vda (no journal)': the file system the queues live on. An ext4 without a
    journal checks every free inode it considers for a recent deletion (ext4's
    recently_deleted()), which makes file creation slow under a high delete rate."""
    device = os.stat(folder).st_dev
    best = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            major, minor = fields[2].split(":")
            if os.makedev(int(major), int(minor)) != device:
                continue
            rest = fields[fields.index("-") + 1:]
            if best is None or len(fields[4]) > len(best[0]):
                best = (fields[4], rest[0], rest[1])
    if best is None:
        return "?"
    _, kind, source = best
    text = f"{kind} on {source}"
    journal = f"/sys/fs/ext4/{os.path.basename(source)}/journal_task"
    if kind == "ext4" and os.path.exists(journal):
        text += " (no journal)" if tools.read_text(journal).strip() == "<none>" else " (journaled)"
    return text


def fsync_rate(folder, writers=1, seconds=3.0):
    """fsyncs per second of `writers` threads, each appending 4 KiB + fsync to its own file
    in folder (several writers show what the journal gains by committing them together)."""
    counts = [0] * writers
    threads = [threading.Thread(target=_fsync_writer, args=(os.path.join(folder, f"fsync-probe-{i}"), seconds,
                                                            counts, i)) for i in range(writers)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - start)


def sink_capacity(registry, sink_port, plain_sink, messages, sessions=100, size=4096):
    """What a sink takes straight from smtp-source, in msg/s: the instrument's ceiling."""
    sink = _sink(registry, sink_port, None, messages, plain_sink)
    start = time.monotonic_ns()
    source = tools.start_source(registry, sink_port, sessions, messages, size)
    deadline = time.monotonic() + 120
    while not sink.done() and time.monotonic() < deadline:
        time.sleep(POLL)
    end = sink.end_ns() or time.monotonic_ns()
    source.stop()
    sink.stop()
    return messages * 1e9 / (end - start)


class SystemProfile:
    """perf record of the whole machine (software cpu-clock, call graphs) while a run goes
    on: every process's share of the two cores, and where each spends it."""

    def __init__(self, registry, path):
        self.path = path
        self.process = registry.spawn(["perf", "record", "-a", "-g", "-e", "cpu-clock", "-F", "999",
                                       "-o", path], name="perf")

    def finish(self, report_path, comms, top=45):
        """Stops recording; writes every process's share, then the hottest symbols of the
        processes named in `comms` (the MTA's), to report_path."""
        self.process.send_signal(2)  # SIGINT: perf writes its data and exits
        self.process.wait(60)
        sections = []
        for title, extra in (("CPU share by process (whole machine)", ["--sort", "comm"]),
                             ("hottest symbols of " + ",".join(comms), ["--sort", "comm,dso,symbol",
                                                                        "--comms", ",".join(comms),
                                                                        "--percentage", "relative"])):
            done = subprocess.run(["perf", "report", "-i", self.path, "--no-children", "--stdio", "-g", "none",
                                   "--percent-limit", "0.3", *extra], capture_output=True, text=True, timeout=300)
            lines = [line.rstrip(" -") for line in done.stdout.splitlines() if line.strip() and line[0] != "#"]
            sections.append(f"## {title}\n" + "\n".join(lines[:top]))
        with open(report_path, "w") as f:
            f.write("\n\n".join(sections) + "\n")
        return report_path
