"""master_support.py: helpers of the master tests (test_master_*.py).

A master started in the background with `postern start` is not the test's child: it is
found through its pid file and stopped by pid in the cleanup. TrackedLoad keeps SMTP
sessions going and remembers which messages got a 250. Children of a master are
found in /proc by parent pid; a process's owner is read from /proc/PID/status.
"""
import os
import signal
import smtplib
import threading
import time

from harness import make_message, new_message_id, procfs
from harness.processes import kill_leftovers, wait_for

SERVICES = ("smtpd", "qmgr", "smtp")


def pid_file(postern):
    """The pid in queue_directory/pid/master.pid, or None."""
    try:
        with open(os.path.join(postern.queue_directory, "pid", "master.pid")) as f:
            return int(f.read().strip())
    except (FileNotFoundError, ValueError):
        return None


def children_of(pid, service=None):
    """Live children of pid, all or those running postern's SERVICE program (by argv[0])."""
    found = []
    for info in procfs.children(pid):
        if info.state == "Z":
            continue
        name = os.path.basename(info.argv[0]) if info.argv else ""
        if service is None or name == service:
            found.append(info.pid)
    return sorted(found)


def uid_of(pid):
    """The real and effective uid of pid."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                real, effective = line.split()[1:3]
                return int(real), int(effective)
    raise AssertionError(f"no Uid line for pid {pid}")


def groups_of(pid):
    """The supplementary group ids of pid."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Groups:"):
                return [int(g) for g in line.split()[1:]]
    return []


def kill_and_wait_replacement(postern, service, master_pid=None, timeout=15.0):
    """SIGKILLs one child of SERVICE and waits until master has started another; returns
    (killed pid, new pid)."""
    master_pid = master_pid or postern.master_pid()
    before = children_of(master_pid, service)
    assert before, f"no {service} child of master {master_pid}"
    victim = before[0]
    os.kill(victim, signal.SIGKILL)

    def replaced():
        now = children_of(master_pid, service)
        fresh = [pid for pid in now if pid not in before]
        return fresh[0] if fresh and victim not in now else None

    return victim, wait_for(replaced, timeout, f"a new {service} after killing pid {victim}")


class DetachedMaster:
    """A master that `postern start` left running in the background: the cleanup stops it
    (postern stop, then SIGKILL for it and its children if need be)."""

    def __init__(self, postern, pid):
        self.postern, self.pid = postern, pid
        self.info = procfs.read(pid)

    def __repr__(self):
        return f"<DetachedMaster pid {self.pid}>"

    def stop(self):
        """Stops master and anything of it left behind."""
        if self.info is None or not procfs.alive(self.info):
            return
        family = procfs.descendants(self.pid)
        self.postern.cli("stop", timeout=40)
        if procfs.alive(self.info):
            procfs.signal_if_same(self.info, signal.SIGKILL)
        kill_leftovers(family)


def start_detached(test, postern):
    """Runs `postern start` (no --foreground) for POSTERN; returns the DetachedMaster, which
    the test's cleanup stops."""
    postern.write_config()
    rc, out, err = postern.cli("start", timeout=60)
    test.assertEqual(rc, 0, f"postern start failed: {out}{err}")
    test.assertRegex(out, r"^postern: started the mail system: PID \d+\n$")
    pid = int(out.split()[-1])
    master = DetachedMaster(postern, pid)
    test.registry.add(master)
    return master


class TrackedLoad:
    """Client threads that keep SMTP sessions going to 127.0.0.1:port, several messages per
    session, and remember the Message-ID of every message that got a 250.

    cut lists what broke inside a session (a dropped connection, an error reply to MAIL,
    RCPT or DATA); ended_by_server counts sessions that the server closed with 421 between
    two transactions (a draining smtpd's goodbye: nothing was in progress).
    """

    def __init__(self, port, threads=3, per_session=4, pause=0.02, rcpt="load@far.test"):
        self.port, self.threads, self.per_session, self.pause, self.rcpt = port, threads, per_session, pause, rcpt
        self.accepted, self.cut = [], []
        self.ended_by_server = self.sessions = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers = []

    def start(self):
        """Starts the client threads; returns self."""
        for n in range(self.threads):
            worker = threading.Thread(target=self._run, name=f"load-{n}", daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def stop(self):
        """Stops the threads after their current session."""
        self._stop.set()
        for worker in self._workers:
            worker.join(60)

    def wait_accepted(self, count, timeout=30.0):
        """Waits until count messages in all got a 250."""
        wait_for(lambda: len(self.accepted) >= count, timeout,
                 lambda: f"{count} accepted messages (got {len(self.accepted)}; cut: {self.cut[-3:]})")

    def _note(self, what, value=1):
        with self._lock:
            if what == "cut":
                self.cut.append(value)
            elif what == "accepted":
                self.accepted.append(value)
            elif what == "ended":
                self.ended_by_server += 1
            else:
                self.sessions += 1

    def _run(self):
        while not self._stop.is_set():
            try:
                smtp = smtplib.SMTP("127.0.0.1", self.port, local_hostname="load.test", timeout=30)
            except OSError:
                time.sleep(0.05)  # no smtpd listening this instant: master restarts one
                continue
            try:
                self._session(smtp)
            except (smtplib.SMTPException, OSError) as e:
                self._note("cut", ("session", repr(e)))
            finally:
                smtp.close()

    def _session(self, smtp):
        smtp.ehlo()
        for _ in range(self.per_session):
            code, text = smtp.mail("load@source.test")
            if code == 421:
                self._note("ended")
                return
            if code != 250:
                self._note("cut", ("mail", code, text))
                return
            code, text = smtp.rcpt(self.rcpt)
            if code not in (250, 251):
                self._note("cut", ("rcpt", code, text))
                return
            message_id = new_message_id("load.test")
            try:
                code, text = smtp.data(make_message("load@source.test", (self.rcpt,), message_id=message_id))
            except smtplib.SMTPDataError as e:
                code, text = e.smtp_code, e.smtp_error
            if code != 250:
                self._note("cut", ("data", code, text))
                return
            self._note("accepted", message_id)
            time.sleep(self.pause)
        smtp.quit()
        self._note("session")
