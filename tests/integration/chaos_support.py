"""chaos_support.py: the chaos run shared by test_chaos.py (short, in `make test`) and
soak_chaos.py (long, `make soak`).

A whole postern relays a steady load (master_support.TrackedLoad: client threads that
remember the Message-ID of every message that got a 250) to a Python sink that counts
messages by Message-ID. For a bounded time, every few seconds (random, seeded) a random
smtpd, qmgr or smtp process gets kill -9 (each service once in every round of three). Afterwards every message that got a 250 must
reach the sink, the queue must drain, and nothing may land in corrupt/ (a kill leaves at
most a temporary file that is never delivered). Duplicates, the at-least-once price of a
kill, are counted and reported, not failed.

POSTERN_CHAOS_SEED=N replays a run's choice of victims and pauses.
"""
import os
import random
import signal
import sys
import time

from master_support import TrackedLoad

SERVICES = ("smtpd", "qmgr", "smtp")


class ChaosReport:
    """What a run did and what came of it."""

    def __init__(self, seed):
        self.seed = seed
        self.kills = []  # (seconds since start, service, pid)
        self.accepted = 0
        self.received = 0
        self.duplicates = {}
        self.cut = 0

    def summary(self):
        by_service = {s: sum(1 for k in self.kills if k[1] == s) for s in SERVICES}
        extra = sum(self.duplicates.values()) - len(self.duplicates)
        return (f"seed {self.seed}: {len(self.kills)} kills {by_service}, {self.accepted} messages accepted "
                f"(250) and all delivered, {self.received} received in all, {len(self.duplicates)} delivered "
                f"more than once ({extra} extra copies), {self.cut} transactions cut by a kill")


def start_relay(test, sink, smtpd=2, smtp=2):
    """A started postern that relays everything to sink, with quick restarts."""
    routes = ({"domain": "*", "nexthop": f"[127.0.0.1]:{sink.port}"},)
    services = ({"name": "smtpd", "processes": smtpd}, {"name": "smtp", "processes": smtp})
    return test.start_postern(routes=routes, services=services, service_throttle_time=1,
                              qmgr={"minimal_backoff_time": 1, "maximal_backoff_time": 2, "queue_run_delay": 1})


def run_chaos(test, seconds, pause=(1.0, 4.0), threads=4, drain_timeout=90.0):
    """Runs load and kills on a fresh postern for `seconds`; checks the outcome; returns a
    ChaosReport (also written to stderr)."""
    seed = int(os.environ.get("POSTERN_CHAOS_SEED") or random.SystemRandom().randrange(1 << 30))
    chooser = random.Random(seed)
    report = ChaosReport(seed)
    sink = test.mail_sink()
    mx = start_relay(test, sink)
    load = TrackedLoad(mx.port, threads=threads, per_session=3, pause=0.01).start()
    test.addCleanup(load.stop)
    load.wait_accepted(10)
    started = time.monotonic()
    turn = []
    while time.monotonic() - started < seconds:
        time.sleep(chooser.uniform(*pause))
        if not turn:  # each service in every round of three, in a random order
            turn = chooser.sample(SERVICES, len(SERVICES))
        service = turn.pop()
        pids = mx.children(service)
        if not pids:
            continue  # master is restarting it right now
        victim = chooser.choice(pids)
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            continue
        report.kills.append((round(time.monotonic() - started, 1), service, victim))
    load.stop()
    check_outcome(test, mx, sink, load, report, drain_timeout)
    test.report_line = report.summary()  # run.py prints it under the test's PASS line
    sys.stderr.write(f"{test.id()}: {report.summary()}\n")
    return report


def check_outcome(test, mx, sink, load, report, drain_timeout):
    """Every accepted message at the sink, the queue drained, corrupt/ empty; fills report."""
    accepted = set(load.accepted)
    test.assertGreater(len(accepted), 0, "no message was accepted at all")

    def missing():
        return accepted - set(sink.message_ids())
    test.wait_for(lambda: not missing(), drain_timeout,
                  lambda: f"{len(missing())} of {len(accepted)} accepted messages at the sink "
                          f"({report.summary()}); missing e.g. {sorted(missing())[:3]}")
    test.wait_for(lambda: not any(mx.all_queue_files().values()), drain_timeout,
                  lambda: f"an empty queue (left: {mx.all_queue_files()}; {report.summary()})")
    test.assertEqual(mx.queue_files("corrupt"), [])
    test.assertTrue(mx.running(), "master died")
    report.accepted = len(accepted)
    report.received = len(sink.messages)
    report.duplicates = sink.duplicates()
    report.cut = len(load.cut)
