"""test_master_load.py: master's promises under a steady load of mail.

smtp-source and TrackedLoad (client threads that remember which messages got a 250) send
to postern, which relays everything to a Python sink that counts messages by Message-ID.
kill -9 of each kind of child in turn, kill -9 of master followed by a new `postern
start`, and a reload: every message that got a 250 reaches the sink at least once;
duplicates (the at-least-once cost of a kill) are counted and reported. A reload cuts no
session: the old smtpd serves its clients until they quit, then exits.
"""
import os
import signal
import smtplib
import sys

from harness import PosternTestCase, make_message, new_message_id, procfs
from harness.peers import SMTP_SOURCE
from harness.processes import port_greeting, wait_for
from master_support import SERVICES, TrackedLoad, children_of, kill_and_wait_replacement, start_detached

TIMERS = {"service_throttle_time": 2}
SERVICES_TABLE = ({"name": "smtpd", "processes": 2}, {"name": "smtp", "processes": 2})


class LoadTest(PosternTestCase):
    def relay_to_sink(self, **sink_options):
        """A sink, and a started postern relaying every domain to it."""
        self.sink = self.mail_sink(**sink_options)
        routes = ({"domain": "*", "nexthop": f"[127.0.0.1]:{self.sink.port}"},)
        return self.start_postern(routes=routes, services=SERVICES_TABLE, **TIMERS)

    def start_load(self, pg, **options):
        load = TrackedLoad(pg.port, **options).start()
        self.addCleanup(load.stop)
        return load

    def smtp_source(self, pg, messages=200):
        """smtp-source in the background: more load, not tracked one by one."""
        argv = [SMTP_SOURCE, "-s", "3", "-m", str(messages), "-l", "2000", "-f", "source@source.test",
                "-t", "bulk@far.test", f"127.0.0.1:{pg.port}"]
        return self.registry.spawn(argv, name="smtp-source")

    def assert_all_delivered(self, load, timeout=60.0):
        """Every message that got a 250 reaches the sink; reports the duplicates."""
        accepted = set(load.accepted)
        wait_for(lambda: not accepted - set(self.sink.message_ids()), timeout,
                 lambda: f"{len(accepted - set(self.sink.message_ids()))} of {len(accepted)} accepted messages "
                         f"at the sink")
        duplicates = self.sink.duplicates()
        sys.stderr.write(f"{self.id()}: {len(accepted)} messages accepted and delivered, "
                         f"{len(self.sink.messages)} received in all, {len(duplicates)} delivered more than once "
                         f"({sum(duplicates.values()) - len(duplicates)} extra copies); "
                         f"{len(load.cut)} transactions cut, {load.ended_by_server} sessions ended with 421\n")
        return duplicates

    def test_kill_9_of_each_child_under_load_loses_nothing(self):
        pg = self.relay_to_sink()
        master = pg.master_pid()
        load = self.start_load(pg)
        source = self.smtp_source(pg)
        load.wait_accepted(20)
        for service in SERVICES:
            offset = pg.log_offset()
            victim, _ = kill_and_wait_replacement(pg, service, master)
            pg.wait_log(rf"master\[{master}\]: warning: process \S+/{service} pid {victim} killed by signal 9",
                        offset)
            load.wait_accepted(len(load.accepted) + 15)  # mail flows again
        load.stop()
        source.wait(60)
        self.assert_all_delivered(load)

    def test_kill_9_of_master_then_start_delivers_everything_queued(self):
        # The sink turns connections away at first: mail stays queued (deferred, active).
        refusing = [True]
        pg = self.relay_to_sink(greeting=lambda session: "421 4.3.2 busy" if refusing[0] else "220 sink.test ESMTP")
        master = pg.master_pid()
        children = [procfs.read(pid) for pid in children_of(master)]
        load = self.start_load(pg)
        load.wait_accepted(30)
        wait_for(lambda: pg.queue_files("deferred"), 20, "deferred mail")
        os.kill(master, signal.SIGKILL)
        load.stop()
        wait_for(lambda: not any(procfs.alive(c) for c in children), 20, "master's children to exit")
        queued = pg.all_queue_files()
        sys.stderr.write(f"{self.id()}: queued when the children were gone: "
                         f"{ {name: len(ids) for name, ids in queued.items()} }\n")
        self.assertGreaterEqual(sum(len(ids) for ids in queued.values()), len(load.accepted))
        refusing[0] = False
        start_detached(self, pg)
        self.assert_all_delivered(load)
        wait_for(lambda: not any(pg.all_queue_files().values()), 30, "an empty queue")

    def test_reload_under_load_cuts_no_session_and_loses_nothing(self):
        pg = self.relay_to_sink()
        master = pg.master_pid()
        before = children_of(master)
        old_smtpd = set(children_of(master, "smtpd"))
        load = self.start_load(pg, per_session=5, pause=0.05)
        load.wait_accepted(15)
        # A session opened before the reload and idle across it: the old smtpd serving it
        # retires, and serves it until the client quits, as Postfix's does.
        held = smtplib.SMTP("127.0.0.1", pg.port, local_hostname="held.test", timeout=30)
        self.addCleanup(held.close)
        held.ehlo()
        offset = pg.log_offset()
        pg.reload(smtpd={"banner": "ESMTP postern reloaded"})
        pg.wait_log(r"master\[\d+\]: reload -- version", offset)
        wait_for(lambda: b"reloaded" in (port_greeting(pg.port) or b""), 10, "the new banner")
        load.wait_accepted(len(load.accepted) + 15)  # mail flows through the new smtpd
        self.assertTrue(old_smtpd & set(children_of(master, "smtpd")),
                        "the old smtpd holding an open session exited")
        held_id = new_message_id("held.test")
        held.sendmail("held@source.test", ["load@far.test"],
                      make_message("held@source.test", ("load@far.test",), message_id=held_id))
        held.quit()
        wait_for(lambda: not set(before) & set(children_of(master)), 30,
                 "the old children to exit once their sessions ended")
        load.stop()
        self.assertEqual(load.cut, [], "a session was cut inside a transaction")
        self.assertEqual(load.ended_by_server, 0, "a session was ended with 421 by the reload")
        pg.wait_log(r"postern/smtpd\[\d+\]: retire requested by master; \d+ in flight", offset)
        load.accepted.append(held_id)
        self.assert_all_delivered(load)
