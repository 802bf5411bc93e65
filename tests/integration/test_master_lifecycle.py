"""test_master_lifecycle.py: master and the lifecycle commands, without mail flowing.

`postern start` in the background and in the foreground, `status`, `stop`, a second
start on the same queue, the queue's layout and owners, children restarted after kill -9
(and logged), a crash-looping child slowed down, reload (refused when broken, new sockets
and a new generation of children when good), kill -9 of master, SIGINT, interrupted
writes cleaned up and damaged queue files set aside at start, start-up errors reported,
and systemd's notify messages.
"""
import os
import pwd
import re
import signal
import socket
import stat
import subprocess
import time

from harness import PosternTestCase, procfs
from harness.ports import free_port
from harness.processes import port_greeting, wait_for
from harness.system import is_root, user_exists
from master_support import (SERVICES, children_of, groups_of, kill_and_wait_replacement, pid_file,
                            start_detached, uid_of)

# Short timers: a crash loop shows its growing delays within seconds.
FAST = {"service_throttle_time": 4, "services": ({"name": "smtpd", "processes": 1},)}


class BackgroundStartTest(PosternTestCase):
    def test_start_status_second_start_and_stop(self):
        pg = self.postern(**FAST)
        pg.write_config()
        rc, out, err = pg.cli("status")
        self.assertEqual((rc, out), (1, ""), err)
        self.assertIn("postern: the mail system is not running", err)

        master = start_detached(self, pg)
        self.assertEqual(pid_file(pg), master.pid)
        rc, out, err = pg.cli("status")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, f"postern: the mail system is running: PID {master.pid}\n")
        self.assertTrue(port_greeting(pg.port).startswith(b"220"))
        wait_for(lambda: all(children_of(master.pid, s) for s in SERVICES), 10, "every service running")

        rc, out, err = pg.cli("start")
        self.assertEqual(rc, 1, out)
        self.assertIn(f"the postern mail system is already running (pid {master.pid})", err)
        self.assertEqual(pid_file(pg), master.pid)
        self.assertTrue(procfs.alive(master.info))

        children = children_of(master.pid)
        rc, out, err = pg.cli("stop", timeout=40)
        self.assertEqual((rc, out), (0, "postern: stopped the mail system\n"), err)
        self.assertFalse(procfs.alive(master.info))
        self.assertEqual([pid for pid in children if procfs.read(pid) and procfs.read(pid).state != "Z"], [])
        self.assertIsNone(pid_file(pg))
        pg.wait_log(r"postern/master\[\d+\]: terminating on signal 15")
        rc, _, err = pg.cli("status")
        self.assertEqual(rc, 1)
        rc, _, err = pg.cli("stop")
        self.assertEqual(rc, 1)
        self.assertIn("not running", err)

    def test_queue_layout_and_owners(self):
        pg = self.postern(**FAST)
        master = start_detached(self, pg)
        wait_for(lambda: all(children_of(master.pid, s) for s in SERVICES), 10, "every service running")
        owner = pwd.getpwnam("postern") if is_root() and user_exists("postern") else pwd.getpwuid(os.getuid())
        q = pg.queue_directory
        modes = {"incoming": 0o700, "active": 0o700, "deferred": 0o700, "hold": 0o700, "corrupt": 0o700,
                 "recycle": 0o700, "private": 0o700, "public": 0o755}
        for name, mode in modes.items():
            info = os.stat(os.path.join(q, name))
            self.assertEqual((name, stat.S_IMODE(info.st_mode)), (name, mode))
            self.assertEqual((name, info.st_uid), (name, owner.pw_uid))
        for name, mode in {"private/qmgr": 0o600, "private/smtp": 0o600, "public/submit": 0o666}.items():
            info = os.stat(os.path.join(q, name))
            self.assertTrue(stat.S_ISSOCK(info.st_mode), name)
            self.assertEqual((name, stat.S_IMODE(info.st_mode)), (name, mode))
        self.assertEqual(uid_of(master.pid), (os.getuid(), os.geteuid()))  # master alone keeps root
        children = children_of(master.pid)
        self.assertEqual(len(children), 4)
        # A child drops privileges once it has taken its sockets: soon after it started.
        wait_for(lambda: all(uid_of(pid) == (owner.pw_uid, owner.pw_uid) for pid in children), 10,
                 lambda: f"every child to run as {owner.pw_name}: {[(p, uid_of(p)) for p in children]}")
        done = subprocess.run(["ps", "-o", "user=", "-p", ",".join(map(str, children))], capture_output=True,
                              text=True, timeout=10)
        self.assertEqual(done.stdout.split(), [owner.pw_name] * len(children))
        for pid in children:  # supplementary groups: mail_owner's, not root's
            self.assertNotIn(0, groups_of(pid), f"child {pid}")

    def test_start_reports_why_it_cannot_start(self):
        busy = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(busy.close)
        port = busy.getsockname()[1]
        pg = self.postern(smtpd={"listen": [f"127.0.0.1:{port}"]}, **FAST)
        pg.write_config()
        rc, out, err = pg.cli("start", timeout=60)
        self.assertEqual((rc, out), (1, ""))
        self.assertRegex(err, rf"postern: .*inet:127\.0\.0\.1:{port}.*(in use|Address)")
        rc, _, _ = pg.cli("status")
        self.assertEqual(rc, 1)
        self.assertIsNone(pid_file(pg))

    def test_broken_configuration_is_reported_before_anything_starts(self):
        pg = self.postern(**FAST)
        pg.write_config()
        with open(pg.conf_path, "a") as f:
            f.write("no_such_parameter = 1;\n")
        rc, out, err = pg.cli("start")
        self.assertEqual(rc, 1)
        self.assertIn('unknown parameter "no_such_parameter"', err)
        self.assertFalse(os.path.exists(os.path.join(pg.queue_directory, "pid", "master.pid")))

    def test_interrupted_writes_are_removed_at_start(self):
        pg = self.postern(**FAST)
        incoming = os.path.join(pg.queue_directory, "incoming")
        os.makedirs(incoming)
        old, fresh = os.path.join(incoming, ".tmp-OLD1"), os.path.join(incoming, ".tmp-NEW1")
        for path in (old, fresh):
            with open(path, "w") as f:
                f.write("partial")
        two_hours_ago = time.time() - 7200
        os.utime(old, (two_hours_ago, two_hours_ago))
        start_detached(self, pg)
        self.assertFalse(os.path.exists(old))
        self.assertTrue(os.path.exists(fresh))
        pg.wait_log(r"master\[\d+\]: removed 1 temporary files left by interrupted writes")


    def test_a_damaged_queue_file_goes_to_corrupt(self):
        pg = self.postern(**FAST)
        active = os.path.join(pg.queue_directory, "active")
        os.makedirs(active)
        damaged = "0000000001AAAA000"  # a valid queue ID, a file that is no queue file
        with open(os.path.join(active, damaged), "wb") as f:
            f.write(b"not a queue file\n")
        start_detached(self, pg)
        wait_for(lambda: pg.queue_files("corrupt") == [damaged], 20, "the damaged file in corrupt/")
        pg.wait_log(rf"warning: {damaged}: ")
        with open(os.path.join(pg.queue_directory, "corrupt", damaged), "rb") as f:
            self.assertEqual(f.read(), b"not a queue file\n")


class SupervisionTest(PosternTestCase):
    def test_each_killed_child_is_restarted_and_logged(self):
        pg = self.start_postern(**FAST)
        master = pg.master_pid()
        pg.wait_log(r"master\[\d+\]: daemon started -- version \S+, configuration " + re.escape(pg.conf_path))
        for service in SERVICES:
            offset = pg.log_offset()
            victim, _ = kill_and_wait_replacement(pg, service, master)
            pg.wait_log(rf"master\[{master}\]: warning: process \S+/{service} pid {victim} killed by signal 9",
                        offset)
        self.assertTrue(port_greeting(pg.port).startswith(b"220"))

    def test_a_crash_looping_child_is_restarted_ever_more_slowly(self):
        pg = self.start_postern(services=({"name": "smtpd", "processes": 1}, {"name": "smtp", "processes": 1}),
                                service_throttle_time=4)
        master = pg.master_pid()
        offset = pg.log_offset()
        waits = []
        for _ in range(2):  # each dies right after its start: a crash loop
            started = time.monotonic()
            kill_and_wait_replacement(pg, "smtp", master)
            waits.append(time.monotonic() - started)
        self.assertGreater(waits[0], 0.9, waits)
        self.assertGreater(waits[1], 1.9, waits)
        [third] = children_of(master, "smtp")
        os.kill(third, signal.SIGKILL)
        for delay, count in (("1.0", "1 failure"), ("2.0", "2 failures"), ("4.0", "3 failures")):
            pg.wait_log(rf"warning: \S+/smtp: service throttled: next start in {delay}s \({count} in a row\)",
                        offset)
        time.sleep(1.5)  # nothing to poll for: the point is that nothing happens meanwhile
        self.assertEqual(children_of(master, "smtp"), [])
        self.assertEqual(len(children_of(master, "smtpd")), 1)  # the others were left alone

    def test_killed_master_takes_its_children_along_and_a_new_start_works(self):
        pg = self.start_postern(**FAST)
        master = pg.master_pid()
        children = [procfs.read(pid) for pid in children_of(master)]
        self.assertEqual(len(children), 4)
        os.kill(master, signal.SIGKILL)
        wait_for(lambda: not any(procfs.alive(c) for c in children), 15, "the orphaned children to exit")
        new = start_detached(self, pg)
        self.assertNotEqual(new.pid, master)
        wait_for(lambda: all(children_of(new.pid, s) for s in SERVICES), 20, "every service running again")
        self.assertTrue(port_greeting(pg.port).startswith(b"220"))

    def test_sigint_stops_cleanly(self):
        pg = self.start_postern(**FAST)
        children = [procfs.read(pid) for pid in children_of(pg.master_pid())]
        pg.process.send_signal(signal.SIGINT)
        self.assertEqual(pg.process.wait(30), 0)
        pg.wait_log(r"master\[\d+\]: terminating on signal 2")
        self.assertFalse(any(procfs.alive(c) for c in children))
        self.assertIsNone(pid_file(pg))

    def test_ctrl_c_at_a_terminal_stops_every_process_without_a_warning(self):
        # A terminal's Ctrl-C signals the whole process group: master and every child at once.
        for _ in range(3):
            pg = self.start_postern(**FAST)
            master = pg.master_pid()
            wait_for(lambda: all(children_of(master, s) for s in SERVICES), 10, "every service running")
            # Not before each child catches SIGINT: a child signalled before its event loop is
            # set up dies of it (a Ctrl-C in a program's first milliseconds; left as it is).
            wait_for(lambda: all(_catches_sigint(pid) for pid in children_of(master)), 10, "children ready")
            offset = pg.log_offset()
            for pid in [master] + children_of(master):
                try:
                    os.kill(pid, signal.SIGINT)
                except ProcessLookupError:  # already gone: master told it to stop first
                    pass
            self.assertEqual(pg.process.wait(30), 0)
            pg.wait_log(r"master\[\d+\]: terminating on signal 2", offset)
            self.assertFalse(pg.has_log(r"killed by signal|warning:", offset), "\n".join(pg.log_lines(offset)))


class ReloadTest(PosternTestCase):
    def test_broken_reload_is_refused_and_good_one_replaces_children(self):
        pg = self.start_postern(**FAST)
        master = pg.master_pid()
        wait_for(lambda: all(children_of(master, s) for s in SERVICES), 10, "every service running")
        # Each child has read the file once it catches signals: only then may the test break it.
        wait_for(lambda: all(_catches_sigint(pid) for pid in children_of(master)), 10, "children ready")
        before = children_of(master)

        good = open(pg.conf_path).read()
        with open(pg.conf_path, "a") as f:
            f.write("no_such_parameter = 1;\n")
        offset = pg.log_offset()
        rc, out, err = pg.cli("reload")
        self.assertEqual(rc, 1, out)
        self.assertIn('unknown parameter "no_such_parameter"', err)
        self.assertIn("reload refused", err)
        os.kill(master, signal.SIGHUP)  # master checks for itself too
        pg.wait_log(r'master\[\d+\]: error: reload: .*unknown parameter "no_such_parameter"', offset)
        pg.wait_log(r"master\[\d+\]: error: reload refused: the configuration in force is unchanged", offset)
        self.assertEqual(children_of(master), before)
        with open(pg.conf_path, "w") as f:
            f.write(good)

        old_port, new_port = pg.port, free_port()
        offset = pg.log_offset()
        out = pg.reload(smtpd={"listen": [f"127.0.0.1:{new_port}"]})
        self.assertEqual(out, f"postern: reloading the mail system: PID {master}\n")
        pg.wait_log(r"master\[\d+\]: reload -- version \S+, configuration " + re.escape(pg.conf_path), offset)
        wait_for(lambda: (port_greeting(new_port) or b"").startswith(b"220"), 10, "the new port to greet")
        self.assertIsNone(port_greeting(old_port))
        wait_for(lambda: not set(before) & set(children_of(master)), 20, "the old children to exit")
        wait_for(lambda: all(children_of(master, s) for s in SERVICES), 20, "a new child of every service")


def _catches_sigint(pid):
    return procfs.catches(pid, signal.SIGINT)


def _argv(pid):
    info = procfs.read(pid)
    return info.argv if info else None


class SystemdNotifyTest(PosternTestCase):
    def test_ready_reloading_stopping(self):
        path = os.path.join(self.tmp, "notify")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(path)
        self.addCleanup(notify.close)
        notify.settimeout(20)
        pg = self.postern(**FAST)
        pg.write_config()
        from harness.postern import postern_binary
        process = self.registry.spawn([postern_binary(pg.build), "-c", pg.conf_path, "start", "--foreground"],
                                      name="master-notify", env={**os.environ, "NOTIFY_SOCKET": path})
        self.assertEqual(notify.recv(4096), b"READY=1\nSTATUS=accepting mail")
        self.assertEqual(process.pid, pid_file(pg))  # `start --foreground` became master
        for pid in children_of(process.pid):  # children do not see the variable
            # READY=1 can come before a child's exec; until then /proc shows master's own environment
            wait_for(lambda: _argv(pid) != _argv(process.pid), 10, f"child {pid} to exec its program")
            with open(f"/proc/{pid}/environ", "rb") as f:
                self.assertNotIn(b"NOTIFY_SOCKET=", f.read())
        process.send_signal(signal.SIGHUP)
        self.assertRegex(notify.recv(4096), rb"^RELOADING=1\nMONOTONIC_USEC=\d+$")
        self.assertEqual(notify.recv(4096), b"READY=1")
        process.send_signal(signal.SIGTERM)
        self.assertEqual(notify.recv(4096), b"STOPPING=1")
        self.assertEqual(process.wait(30), 0)
