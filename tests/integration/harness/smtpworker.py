"""smtpworker.py: the smtp delivery worker started alone, with the test playing qmgr.

SmtpWorker(registry, processes=N, **config) writes a configuration (keyword arguments merged
over short test timers) and starts N `libexec/postern/smtp -c FILE` processes on one queue:
one alone binds private/smtp itself (--standalone); several share one socket that this
object binds and hands down as master would. queue_message() writes a queue file
into active/ as qmgr would have moved it there; deliver() sends one delivery request on
private/smtp and returns the worker's per-recipient results.
"""
import os
import select
import socket
import threading

from . import libconfig
from .ipcframe import DeliveryConnection, delivery_request
from .postern import daemon_binary, build_dir
from .processes import LogFile, tail, wait_for
from .queuewriter import write_queue_file
from .system import give_to, is_root, user_exists

_request_ids = iter(range(1, 1 << 30))
# Envelope fields of deliver(): queue file name -> request attribute name.
_ENVELOPE_FIELDS = {"sender": "sender", "envid": "envid", "ret": "ret", "body": "body_type", "smtputf8": "smtputf8"}


class SmtpWorker(LogFile):
    """N standalone smtp workers sharing one private/smtp socket and one queue folder."""

    def __init__(self, registry, name="smtp-worker", processes=1, **config):
        self.registry = registry
        base, n = name, 1
        while os.path.exists(os.path.join(registry.tmp, name)):  # several workers in one test
            n += 1
            name = f"{base}-{n}"
        self.name = name
        self.processes_wanted = processes
        self.folder = os.path.join(registry.tmp, name)
        os.makedirs(self.folder, mode=0o755, exist_ok=True)
        os.chmod(self.folder, 0o755)
        self.conf_path = os.path.join(self.folder, "postern.conf")
        self.queue_directory = os.path.join(self.folder, "queue")
        self.active = os.path.join(self.queue_directory, "active")
        self.socket_path = os.path.join(self.queue_directory, "private", "smtp")
        self.log_path = os.path.join(self.folder, "postern.log")
        self.owner = config.get("mail_owner", "postern")
        self.config = libconfig.deep_merge(self.default_config(), config)
        self.processes = []
        self._listener = None
        self._status = []
        self._stopping = False
        registry.add_log(f"{name} log", self.log_path)

    def default_config(self):
        """The settings every worker starts from: a folder of its own, short SMTP timers."""
        return {
            "myhostname": "postern.test",
            "queue_directory": self.queue_directory,
            "log_file": self.log_path,
            "smtp": {"connect_timeout": 5, "helo_timeout": 10, "mail_timeout": 10, "rcpt_timeout": 10,
                     "data_init_timeout": 10, "data_xfer_timeout": 10, "data_done_timeout": 10,
                     "quit_timeout": 5, "starttls_timeout": 10},
        }

    def _give(self, path):
        if is_root() and user_exists(self.owner):
            give_to(path, self.owner)

    def start(self, timeout=15.0):
        """Writes the configuration and the queue folders, starts the processes, waits for the socket."""
        with open(self.conf_path, "w") as f:
            f.write(libconfig.dumps(self.config))
        os.chmod(self.conf_path, 0o644)
        for folder in (self.queue_directory, self.active, os.path.dirname(self.socket_path)):
            os.makedirs(folder, mode=0o700, exist_ok=True)
            self._give(folder)
        if not os.path.exists(self.log_path):
            open(self.log_path, "a").close()
        os.chmod(self.log_path, 0o644)
        self._give(self.log_path)
        argv = [daemon_binary("smtp", build_dir()), "-c", self.conf_path]
        if self.processes_wanted == 1:
            self.processes.append(self.registry.spawn(argv + ["--standalone"], name=self.name))
        else:
            self._start_sharing(argv)
        self.registry.add(self)
        wait_for(lambda: self._accepts(), timeout, f"{self.socket_path} to accept",
                 process=self.processes[0])
        return self

    def _start_sharing(self, argv):
        """Several workers on one listening socket, handed down as master does: each gets
        POSTERN_LISTEN_FDS and a status channel (POSTERN_STATUS_FD) whose other end this
        object holds and drains."""
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.socket_path)
        os.chmod(self.socket_path, 0o600)
        self._give(self.socket_path)
        self._listener.listen(128)
        for i in range(self.processes_wanted):
            ours, theirs = socket.socketpair()
            self._status.append(ours)
            fds = (self._listener.fileno(), theirs.fileno())
            env = dict(os.environ, POSTERN_LISTEN_FDS=f"unix:private/smtp={fds[0]}", POSTERN_STATUS_FD=str(fds[1]))
            self.processes.append(self.registry.spawn(argv, name=f"{self.name}-{i + 1}", env=env, pass_fds=fds))
            theirs.close()
        threading.Thread(target=self._drain_status, daemon=True).start()

    def _drain_status(self):
        """Reads (and forgets) what the workers tell their pretend master, so they never block."""
        while self._status and not self._stopping:
            try:
                readable, _, _ = select.select(list(self._status), [], [], 0.5)
            except (OSError, ValueError):  # stop() closed a channel under us
                return
            for channel in readable:
                try:
                    if not channel.recv(65536):
                        self._status.remove(channel)
                except OSError:
                    self._status.remove(channel)

    def _accepts(self):
        """True once private/smtp takes connections."""
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(self.socket_path)
            return True
        except OSError:
            return False
        finally:
            probe.close()

    def stop(self):
        """Stops every process (SIGTERM, by pid) and closes the shared socket."""
        self._stopping = True
        for process in self.processes:
            process.stop()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for channel in list(self._status):
            channel.close()
        self._status.clear()

    # ---- playing qmgr ----------------------------------------------------------------
    def queue_message(self, content, recipients, **envelope):
        """Writes a queue file into active/ (readable by the worker); returns a QueuedFile."""
        queued = write_queue_file(self.active, content, recipients, **envelope)
        self._give(queued.path)
        return queued

    def request(self, queued, recipients, nexthop, domain="example.test", **fields):
        """Opens a connection and sends the request; returns the DeliveryConnection."""
        connection = DeliveryConnection(self.socket_path, timeout=fields.pop("timeout", 60.0))
        connection.send(delivery_request(request_id=next(_request_ids), queue_id=queued.queue_id,
                                         content_offset=queued.content_offset,
                                         content_length=queued.content_length, recipients=recipients,
                                         nexthop=nexthop, domain=domain, arrival_us=queued.arrival_us, **fields))
        return connection

    def deliver(self, content, recipients, nexthop, **fields):
        """Queues a message and delivers it; returns ({address: result dict}, done_seen).
        sender, envid, ret, body and smtputf8 go into the queue file and the request alike."""
        envelope = {k: fields.pop(k) for k in _ENVELOPE_FIELDS if k in fields}
        queued = self.queue_message(content, recipients, **envelope)
        fields.update({_ENVELOPE_FIELDS[k]: v for k, v in envelope.items()})
        results, done = self.request(queued, recipients, nexthop, **fields).results()
        addresses = [r if isinstance(r, str) else r["address"] for r in recipients]
        return {addresses[int(r["index"])]: r for r in results}, done

    def deliver_in_streams(self, template, count, recipient, nexthop, streams=2, **fields):
        """Delivers template.format(n=n) to recipient for n in range(count), in `streams`
        threads at once (so that several worker processes work); returns the failures as
        [(n, results)], empty when every message was sent."""
        failures, lock = [], threading.Lock()

        def stream(first):
            for n in range(first, count, streams):
                results, done = self.deliver(template.format(n=n), [recipient], nexthop, **fields)
                if not done or results[recipient]["status"] != "sent":
                    with lock:
                        failures.append((n, results))

        threads = [threading.Thread(target=stream, args=(first,)) for first in range(streams)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        return failures

    # ---- log -------------------------------------------------------------------------
    def log_process(self):
        return self.processes[0]

    def tail(self, lines=60):
        """The log's last lines."""
        return tail(self.log_path, lines)

