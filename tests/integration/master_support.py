"""master_support.py: helpers of the master tests (test_master_*.py).

A master started in the background with `postern start` is not the test's child: it is
found through its pid file and stopped by pid in the cleanup. Children of a master are
found in /proc by parent pid; a process's owner is read from /proc/PID/status.
"""
import os
import signal

from harness import procfs
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
