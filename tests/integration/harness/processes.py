"""processes.py: start, watch and stop the processes of one test, and wait for things.

ManagedProcess runs a program with its output in a log file and stops it by pid (SIGTERM,
a deadline, SIGKILL; then any descendant it left behind); it dies with the test process. Registry remembers everything a
test started so one cleanup stops it all, even after a failure. The wait helpers poll a
condition with a deadline and fail with an AssertionError that says what was awaited.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

from . import procfs

STRAY_GRACE = 2.0
SETPRIV = "/usr/bin/setpriv"


def _describe(what):
    return what() if callable(what) else what


def wait_for(condition, timeout=10.0, what="a condition", interval=0.1, process=None):
    """Polls condition() until it returns something true, and returns that.

    Fails with AssertionError naming `what` (a string, or a callable giving one at failure
    time) after `timeout` seconds, or as soon as `process` (a ManagedProcess) has exited.
    """
    deadline = time.monotonic() + timeout
    pause = 0.01
    while True:
        value = condition()
        if value:
            return value
        if process is not None and not process.running():
            raise AssertionError(f"{process.name} exited ({process.exit_status()}) while waiting for "
                                 f"{_describe(what)}\n{process.tail(30)}")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {_describe(what)}")
        time.sleep(min(pause, remaining))
        pause = min(pause * 1.5, interval)


def port_greeting(port, host="127.0.0.1", timeout=2.0):
    """Connects to host:port; returns the first line the server sends (b"" if none), or None
    when nothing accepts the connection."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            data = b""
            while b"\n" not in data:
                chunk = sock.recv(512)
                if not chunk:
                    break
                data += chunk
            return data.split(b"\n")[0].rstrip(b"\r")
    except OSError:
        return None


def port_accepts(port, host="127.0.0.1"):
    """True when something accepts a TCP connection on host:port now."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def wait_port(port, host="127.0.0.1", timeout=10.0, process=None, greeting=None):
    """Waits until host:port accepts a connection; with greeting (e.g. b"220"), until the
    server's first line starts with it, and returns that line."""
    if greeting is None:
        wait_for(lambda: port_accepts(port, host), timeout, f"{host}:{port} to accept connections",
                 process=process)
        return None
    last = []

    def greeted():
        """True once the server's first line starts with greeting."""
        line = port_greeting(port, host)
        last[:] = [line]
        return line is not None and line.startswith(greeting)

    wait_for(greeted, timeout, lambda: f"{host}:{port} to greet with {greeting!r} (last: {last[0]!r})",
             process=process)
    return last[0]


class LogMatch:
    """A line of a log file that matched: .match (re.Match), .line, and .offset, the byte
    offset just past that line (give it to the next wait to look only at what follows)."""

    def __init__(self, match, line, offset):
        self.match = match
        self.line = line
        self.offset = offset

    def group(self, *args):
        """Same as re.Match.group."""
        return self.match.group(*args)


def scan_log(path, pattern, offset=0):
    """Returns the first LogMatch of pattern in the whole lines of path from offset, or None."""
    regex = re.compile(pattern) if isinstance(pattern, str) else pattern
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return None
    position = offset
    for raw in data.splitlines(keepends=True):
        if not raw.endswith(b"\n"):
            break  # a line still being written: look again next time
        position += len(raw)
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        found = regex.search(line)
        if found:
            return LogMatch(found, line, position)
    return None


def wait_log(path, pattern, offset=0, timeout=10.0, process=None):
    """Waits for a line matching pattern (regex) in path, after byte offset; returns LogMatch."""
    return wait_for(lambda: scan_log(path, pattern, offset), timeout,
                    lambda: f"/{pattern}/ in {path} after offset {offset}\n--- last lines:\n{tail(path, 15)}",
                    process=process)


def file_size(path):
    """The size of path in bytes, 0 when it does not exist yet (an offset for wait_log)."""
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


def tail(path, lines=60):
    """The last `lines` lines of a text file, or a note that it does not exist."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - 256 * 1024))
            data = f.read()
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


class LogFile:
    """Reading the log file of a helper's daemons, mixed into Postern, StandaloneSmtpd,
    SmtpWorker and PostfixInstance: the class sets self.log_path, and log_process() names
    the ManagedProcess whose death ends a wait_log early (None: none does)."""

    def log_process(self):
        return None

    def log_offset(self):
        """The log's size now: pass it to wait_log or log_lines to see only what follows."""
        return file_size(self.log_path)

    def log_lines(self, offset=0):
        """The log's lines from byte offset on."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace").splitlines()
        except FileNotFoundError:
            return []

    def wait_log(self, pattern, offset=0, timeout=15.0):
        """Waits for a log line matching the regex pattern after offset; returns a LogMatch."""
        return wait_log(self.log_path, pattern, offset, timeout, process=self.log_process())

    def count_log(self, pattern, offset=0):
        """How many lines after offset match the regex pattern."""
        regex = re.compile(pattern)
        return sum(1 for line in self.log_lines(offset) if regex.search(line))

    def has_log(self, pattern, offset=0):
        """True when a line after offset matches the regex pattern."""
        return scan_log(self.log_path, pattern, offset) is not None


class ManagedProcess:
    """A program this test started: output to a log file, stopped by pid.

    It stays in the test process's group, which run.py kills when a module ends, and it gets
    SIGKILL if the test process dies (setpriv --pdeathsig; the death of the *thread* that
    started it counts, so start long-lived processes from the test's main thread).
    """

    def __init__(self, argv, log_path, name=None, env=None, cwd=None, stdin=subprocess.DEVNULL, pass_fds=()):
        """pass_fds: descriptors the program inherits (every other one is closed)."""
        self.argv = [str(a) for a in argv]
        self.name = name or os.path.basename(self.argv[0])
        self.log_path = log_path
        self.strays = []
        self._rc = None
        with open(log_path, "ab") as log:
            os.chmod(log_path, 0o644)
            self.popen = subprocess.Popen(_orphan_killer() + self.argv, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=stdin, env=env, cwd=cwd, pass_fds=pass_fds)
        self.pid = self.popen.pid

    def running(self):
        """True until the process exits (it stays unreaped, so its pid is not reused)."""
        if self._rc is not None:
            return False
        try:
            state = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return False
        return state is None

    def exit_status(self):
        """"running", "rc N" or "killed by SIGNAME", for messages."""
        if self.running():
            return "running"
        rc = self.popen.wait() if self._rc is None else self._rc
        self._rc = rc
        return f"killed by {signal.Signals(-rc).name}" if rc < 0 else f"rc {rc}"

    @property
    def returncode(self):
        """The exit code (negative: the signal), or None while it runs."""
        if self.running():
            return None
        self.exit_status()
        return self._rc

    def wait(self, timeout=30.0):
        """Waits for the process to exit by itself; returns its exit code."""
        wait_for(lambda: not self.running(), timeout, f"{self.name} (pid {self.pid}) to exit")
        return self.returncode

    def tail(self, lines=60):
        """The last lines of the process's output."""
        return tail(self.log_path, lines)

    def send_signal(self, sig):
        """Sends sig to the process if it still runs."""
        if self.running():
            os.kill(self.pid, sig)

    def stop(self, timeout=10.0, sig=signal.SIGTERM, stray_grace=STRAY_GRACE):
        """Stops the process: sig, then SIGKILL after timeout; then kills any descendant
        still there stray_grace seconds later (recorded in .strays). Returns the exit code."""
        if self._rc is not None:
            return self._rc
        # Descendants are found by parent pid, so only while the process lives.
        family = procfs.descendants(self.pid)
        if self.running():
            self.send_signal(sig)
            try:
                wait_for(lambda: not self.running(), timeout, "exit")
            except AssertionError:
                family += procfs.descendants(self.pid)
                self.send_signal(signal.SIGKILL)
                wait_for(lambda: not self.running(), 10, f"{self.name} (pid {self.pid}) to die of SIGKILL")
        unique = {(p.pid, p.starttime): p for p in family}
        self.strays = kill_leftovers(list(unique.values()), stray_grace)
        self._rc = self.popen.wait()
        return self._rc


def _orphan_killer():
    """The argv prefix that has the kernel SIGKILL a child whose parent died ([] without setpriv)."""
    return [SETPRIV, "--pdeathsig", "KILL", "--"] if os.access(SETPRIV, os.X_OK) else []


def kill_leftovers(infos, grace=STRAY_GRACE):
    """Gives the processes `infos` names `grace` seconds to exit, then SIGKILLs the rest;
    returns the ProcInfo of those that had to be killed."""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(procfs.alive(p) for p in infos):
        time.sleep(0.05)
    killed = [p for p in infos if procfs.signal_if_same(p, signal.SIGKILL)]
    wait_for(lambda: not any(procfs.alive(p) for p in killed), 10, "leftover processes to die of SIGKILL")
    for p in killed:
        sys.stderr.write(f"harness: killed leftover process {p.pid} {' '.join(p.argv)}\n")
    return killed


def stop_foreign(info, timeout=10.0):
    """Stops a process this test did not fork itself (a daemon found by its pid file):
    SIGTERM, SIGKILL after timeout, then its leftover descendants. True if it had to be killed."""
    family = procfs.descendants(info.pid)
    procfs.signal_if_same(info, signal.SIGTERM)
    try:
        wait_for(lambda: not procfs.alive(info), timeout, "exit")
        forced = False
    except AssertionError:
        procfs.signal_if_same(info, signal.SIGKILL)
        forced = True
    kill_leftovers(family)
    return forced


class Registry:
    """Everything one test started (stopped last-first by stop_all) and the log files to
    show when it fails. Anything with a stop() method can be added."""

    def __init__(self, tmp):
        self.tmp = tmp
        self._stoppables = []
        self.logs = {}

    def add(self, stoppable):
        """Remembers stoppable for stop_all; returns it."""
        self._stoppables.append(stoppable)
        return stoppable

    def add_log(self, name, path):
        """Names a log file to show when the test fails."""
        self.logs[name] = path

    def log_path(self, name):
        """A fresh log file path in the test's folder for name (name.log, name-2.log, ...)."""
        base, n = name, 1
        while name in self.logs or os.path.exists(os.path.join(self.tmp, f"{name}.log")):
            n += 1
            name = f"{base}-{n}"
        return name, os.path.join(self.tmp, f"{name}.log")

    def spawn(self, argv, name=None, env=None, cwd=None, stdin=subprocess.DEVNULL, pass_fds=()):
        """Starts argv as a ManagedProcess logging to the test folder, registered for stop."""
        log_name, path = self.log_path(name or os.path.basename(str(argv[0])))
        process = ManagedProcess(argv, path, name=log_name, env=env, cwd=cwd, stdin=stdin, pass_fds=pass_fds)
        self.add_log(log_name, path)
        return self.add(process)

    def run(self, argv, name=None, timeout=60.0, env=None, cwd=None, input=None):
        """Runs argv to completion (output logged, registered like spawn); returns (rc, output).
        input (bytes) is its standard input. Fails with AssertionError, after stopping it,
        when it outlives timeout."""
        stdin = subprocess.DEVNULL
        if input is not None:
            stdin = tempfile.TemporaryFile(dir=self.tmp)
            stdin.write(input)
            stdin.seek(0)
        try:
            process = self.spawn(argv, name, env=env, cwd=cwd, stdin=stdin)
        finally:
            if input is not None:
                stdin.close()
        try:
            rc = process.wait(timeout)
        except AssertionError:
            process.stop(timeout=2)
            raise AssertionError(f"{process.name} did not finish within {timeout:g}s: {' '.join(process.argv)}\n"
                                 f"{process.tail(30)}") from None
        with open(process.log_path, encoding="utf-8", errors="replace") as f:
            return rc, f.read()

    def stop_all(self):
        """Stops everything, newest first; returns the error messages (empty when all went well)."""
        errors = []
        while self._stoppables:
            item = self._stoppables.pop()
            try:
                item.stop()
            except Exception as e:  # one failure must not leave the rest running
                errors.append(f"stopping {item!r}: {e!r}")
        return errors

    def log_tails(self, lines=60):
        """The last lines of every registered log, each under a header naming it."""
        parts = []
        for name, path in self.logs.items():
            parts.append(f"----- {name}: last {lines} lines of {path}\n{tail(path, lines)}")
        return "\n".join(parts)
