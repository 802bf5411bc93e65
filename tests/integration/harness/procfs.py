"""procfs.py: what /proc says about processes: parent, group, start time, argv, executable.

Used to find a process's descendants (postern's children by service) and to signal a pid
only while it still is the process we meant (same start time), never a reused pid.
"""
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class ProcInfo:
    """One process as /proc showed it: identity (pid + starttime) and family."""
    pid: int
    ppid: int
    pgid: int
    starttime: int
    state: str
    argv: tuple
    exe: str

    @property
    def name(self):
        """The program's file name: basename of argv[0], else of the executable."""
        if self.argv and self.argv[0]:
            return os.path.basename(self.argv[0])
        return os.path.basename(self.exe)


def read(pid):
    """Returns the ProcInfo of pid, or None when it does not exist (or vanished meanwhile)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("utf-8", "replace")
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name may hold spaces and parentheses: fields start after the last ')'.
    rest = stat[stat.rindex(")") + 2:].split()
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        exe = ""
    argv = tuple(a.decode("utf-8", "replace") for a in cmdline.split(b"\0")[:-1])
    return ProcInfo(pid=pid, ppid=int(rest[1]), pgid=int(rest[2]), starttime=int(rest[19]),
                    state=rest[0], argv=argv, exe=exe)


def catches(pid, signum):
    """True when pid has a handler installed for signal signum (SigCgt in its status): for a
    daemon, a sign that its start-up got as far as its event loop."""
    try:
        with open(f"/proc/{pid}/status") as f:
            caught = next(line for line in f if line.startswith("SigCgt:"))
    except (OSError, StopIteration):
        return False
    return bool(int(caught.split()[1], 16) & (1 << (signum - 1)))


def rss_kib(pid):
    """The resident set size of pid in KiB (VmRSS), 0 when /proc does not say."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def snapshot():
    """Returns {pid: ProcInfo} for every process visible now."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = read(int(entry))
            if info is not None:
                table[info.pid] = info
    return table


def children(pid, table=None):
    """Returns the ProcInfo of pid's direct children (from table, or a fresh snapshot)."""
    table = snapshot() if table is None else table
    return [p for p in table.values() if p.ppid == pid]


def descendants(pid, table=None):
    """Returns the ProcInfo of every process below pid in the process tree."""
    table = snapshot() if table is None else table
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for child in children(parent, table):
            found.append(child)
            frontier.append(child.pid)
    return found


def alive(info):
    """True while the process info names still runs (same pid and start time, not a zombie)."""
    now = read(info.pid)
    return now is not None and now.starttime == info.starttime and now.state != "Z"


def signal_if_same(info, sig):
    """Sends sig to the process only if it still is the one info names; True if sent."""
    if not alive(info):
        return False
    try:
        os.kill(info.pid, sig)
    except ProcessLookupError:
        return False
    return True
