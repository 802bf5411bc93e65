"""postern.py: one postern instance under test, in its own folder with its own configuration.

Postern(registry, **config) writes postern.conf from keyword arguments merged over test
defaults (smtpd on a free 127.0.0.1 port, queue and log in the folder, short queue timers),
starts `postern -c FILE start --foreground` and waits for the 220 greeting, runs the
`postern` command, lists queue files, reads and waits on the log, finds the children of
master by service, and sends mail with smtplib.
"""
import os
import re
import subprocess

from . import libconfig, procfs
from .client import smtp_send
from .ports import free_port
from .processes import LogFile, tail, wait_port
from .system import give_to, is_root, user_exists

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
QUEUE_NAMES = ("incoming", "active", "deferred", "hold", "corrupt")
_QUEUE_ID = re.compile(r"^[0-9A-Za-z]+$")


def build_dir():
    """The build folder: $POSTERN_BUILD_DIR, else <repo>/build."""
    return os.environ.get("POSTERN_BUILD_DIR") or os.path.join(REPO, "build")


def postern_binary(build=None):
    """BUILD/sbin/postern."""
    return os.path.join(build or build_dir(), "sbin", "postern")


def daemon_binary(service, build=None):
    """BUILD/libexec/postern/SERVICE."""
    return os.path.join(build or build_dir(), "libexec", "postern", service)


def bin_path(name, build=None):
    """BUILD/bin/NAME (sendmail, mailq)."""
    return os.path.join(build or build_dir(), "bin", name)


def missing_binaries(build=None):
    """The postern programs not built (tests that need them fail, naming these)."""
    wanted = [postern_binary(build)] + [daemon_binary(s, build) for s in ("master", "smtpd", "qmgr", "smtp")]
    return [path for path in wanted if not os.access(path, os.X_OK)]


class Postern(LogFile):
    """A postern instance in registry.tmp/NAME: configuration, life cycle, queue and log.

    Keyword arguments are configuration settings merged over default_config(): nested
    dicts merge, other values replace, None removes a default. self.config is the result.
    """

    def __init__(self, registry, name="postern", **config):
        self.registry = registry
        self.name = name
        self.build = build_dir()  # fixed now: the cleanup may run after the environment changed
        self.folder = os.path.join(registry.tmp, name)
        os.makedirs(self.folder, mode=0o755, exist_ok=True)
        os.chmod(self.folder, 0o755)
        self.conf_path = os.path.join(self.folder, "postern.conf")
        self.queue_directory = os.path.join(self.folder, "queue")
        self.log_path = os.path.join(self.folder, "log", "postern.log")
        self.config = libconfig.deep_merge(self.default_config(free_port()), config)
        self.process = None
        registry.add_log(f"{name} log", self.log_path)

    def __repr__(self):
        return f"<Postern {self.conf_path}>"

    def default_config(self, port):
        """The settings every test starts from."""
        return {
            "myhostname": "postern.test",
            "queue_directory": self.queue_directory,
            "log_file": self.log_path,
            "mynetworks": ["127.0.0.0/8"],
            "smtpd": {"listen": [f"127.0.0.1:{port}"]},
            "qmgr": {"minimal_backoff_time": 1, "maximal_backoff_time": 4, "queue_run_delay": 1},
        }

    @property
    def smtp_address(self):
        """(host, port) of smtpd's first listen address."""
        host, _, port = self.config["smtpd"]["listen"][0].rpartition(":")
        return host.strip("[]"), int(port)

    @property
    def port(self):
        """smtpd's first listening port."""
        return self.smtp_address[1]

    def write_config(self, **changes):
        """Merges changes into self.config, writes postern.conf (0644) and makes the log folder."""
        self.config = libconfig.deep_merge(self.config, changes)
        with open(self.conf_path, "w") as f:
            f.write(libconfig.dumps(self.config))
        os.chmod(self.conf_path, 0o644)
        self._prepare_log()

    def _prepare_log(self):
        """A log folder and file the daemons can write after they dropped to mail_owner."""
        os.makedirs(os.path.dirname(self.log_path), mode=0o755, exist_ok=True)
        if not os.path.exists(self.log_path):
            open(self.log_path, "a").close()
        os.chmod(self.log_path, 0o644)
        owner = self.config.get("mail_owner", "postern")
        if is_root() and user_exists(owner):
            give_to(os.path.dirname(self.log_path), owner)
            give_to(self.log_path, owner)

    # ---- life cycle ------------------------------------------------------------------
    def start(self, timeout=30.0):
        """Writes the configuration, runs `postern -c FILE start --foreground` and waits until
        smtpd greets with 220; returns self."""
        self.write_config()
        argv = [postern_binary(self.build), "-c", self.conf_path, "start", "--foreground"]
        self.process = self.registry.spawn(argv, name=f"{self.name}-master")
        self.registry.add(self)  # stopped before the bare process: `postern stop` first
        host, port = self.smtp_address
        try:
            wait_port(port, host, timeout=timeout, process=self.process, greeting=b"220")
        except AssertionError as e:
            raise AssertionError(f"{e}\n--- {self.log_path}:\n{tail(self.log_path, 30)}") from None
        return self

    def stop(self, timeout=20.0):
        """`postern stop`, then waits for master to exit (SIGTERM, then SIGKILL past the
        deadline, and any child left behind). Returns master's exit code."""
        if self.process is None:
            return None
        process = self.process
        if process.running():
            try:
                self.cli("stop", timeout=timeout)
                process.wait(timeout)
            except (AssertionError, subprocess.TimeoutExpired):
                pass  # process.stop() below escalates
        rc = process.stop(timeout=5)
        self.process = None
        return rc

    def running(self):
        """True while master runs."""
        return self.process is not None and self.process.running()

    def reload(self, **changes):
        """Applies configuration changes (if any) and runs `postern reload`; returns its output."""
        if changes:
            self.write_config(**changes)
        rc, out, err = self.cli("reload")
        if rc != 0:
            raise AssertionError(f"postern reload failed (rc {rc}): {out}{err}")
        return out

    def cli(self, *args, timeout=30.0, input=None, env=None):
        """Runs `postern -c FILE ARGS...`; returns (rc, stdout, stderr)."""
        done = subprocess.run([postern_binary(self.build), "-c", self.conf_path, *map(str, args)], capture_output=True,
                              text=True, errors="replace", timeout=timeout, input=input, env=env)
        return done.returncode, done.stdout, done.stderr

    # ---- queue and log ---------------------------------------------------------------
    def queue_files(self, queue="deferred"):
        """The queue IDs in queue_directory/QUEUE (files under temporary names left out)."""
        if queue not in QUEUE_NAMES:
            raise ValueError(f"no queue {queue!r}; queues are {QUEUE_NAMES}")
        try:
            names = os.listdir(os.path.join(self.queue_directory, queue))
        except FileNotFoundError:
            return []
        return sorted(name for name in names if _QUEUE_ID.match(name))

    def all_queue_files(self):
        """{queue name: [IDs]} over every queue."""
        return {queue: self.queue_files(queue) for queue in QUEUE_NAMES}

    def log_process(self):
        return self.process

    def master_pid(self):
        """master's pid: the process started, or its child running libexec/postern/master."""
        if self.process is None:
            return None
        started = procfs.read(self.process.pid)
        if started is not None and self._runs(started, "master"):
            return started.pid
        masters = [p.pid for p in procfs.children(self.process.pid) if self._runs(p, "master")]
        return masters[0] if masters else self.process.pid

    def children(self, service):
        """The pids of master's children running libexec/postern/SERVICE."""
        master = self.master_pid()
        if master is None:
            return []
        return sorted(p.pid for p in procfs.children(master) if self._runs(p, service))

    def _runs(self, info, service):
        """True when the process runs postern's SERVICE program (by argv[0] or executable)."""
        if info.state == "Z":
            return False
        path = daemon_binary(service, self.build)
        candidates = [info.argv[0] if info.argv else "", info.exe]
        return any(c == path or os.path.basename(c) == service or c.endswith("/" + service) for c in candidates if c)

    def service_pids(self):
        """{service: [pids]} for smtpd, qmgr and smtp."""
        return {service: self.children(service) for service in ("smtpd", "qmgr", "smtp")}

    # ---- mail ------------------------------------------------------------------------
    def send(self, **kwargs):
        """Sends one message to smtpd with smtplib (client.smtp_send arguments); returns SendResult."""
        host, port = self.smtp_address
        return smtp_send(port, host, **kwargs)
