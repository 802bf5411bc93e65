"""qmgr.py: the queue manager started alone, with the test playing everyone around it.

StandaloneQmgr(registry, **config) runs `libexec/postern/qmgr -c FILE --standalone` on its
own queue (configuration from postern.Postern: keyword arguments merged over short test
timers). The test plays smtpd (submit(): a queue file into incoming/ and the qmgr-notify
notice), `postern queue` (control()) and the smtp workers: FakeWorker listens on
private/smtp, records every delivery request (with the message content it points at) and
answers each recipient by its local part: "defer..." 450, "fail..." 550, anything else
250; or misbehaves on request (hang up, send garbage, stay silent).
"""
import os
import socket
import threading

from . import queuefile
from .ipcframe import FrameReader, encode
from .postern import QUEUE_NAMES, Postern, daemon_binary
from .processes import wait_for
from .queuewriter import write_queue_file
from .system import give_to, is_root, user_exists

DEFAULT_CONTENT = "From: sender@example.test\r\nTo: rcpt@example.test\r\nSubject: qmgr test\r\n\r\nhello\r\n"


def _connect(path, timeout=10.0):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(path)
    return sock


def _read_frame(sock, reader):
    """The next frame from sock, or None when the peer closed first."""
    while True:
        frame = reader.next()
        if frame is not None:
            return frame
        data = sock.recv(65536)
        if not data:
            return None
        reader.feed(data)


def control_request(queue_directory, op, *ids):
    """A qmgr-control request on QUEUE_DIRECTORY/private/qmgr, as `postern queue` sends it;
    returns the reply's attributes as {name: str}, with the lists as "done" and "missing"."""
    attrs = [("type", "request"), ("op", op), ("id_count", len(ids))]
    attrs += [(f"id.{i}", queue_id) for i, queue_id in enumerate(ids)]
    with _connect(os.path.join(queue_directory, "private", "qmgr")) as sock:
        sock.sendall(encode("qmgr-control", 1, attrs))
        frame = _read_frame(sock, FrameReader())
    if frame is None:
        raise AssertionError(f"qmgr closed the control connection without a reply ({op})")
    reply = {name: value.decode() for name, value in frame[2].items()}
    for name in ("done", "missing"):
        reply[name] = [reply[f"{name}.{i}"] for i in range(int(reply[f"{name}_count"]))]
    return reply


class StandaloneQmgr:
    """One qmgr on its own queue in registry.tmp/NAME."""

    def __init__(self, registry, name="qmgr", **config):
        self.registry = registry
        self.instance = Postern(registry, name=name, **config)
        self.queue_directory = self.instance.queue_directory
        self.qmgr_socket = os.path.join(self.queue_directory, "private", "qmgr")
        self.smtp_socket = os.path.join(self.queue_directory, "private", "smtp")
        self.owner = self.instance.config.get("mail_owner", "postern")
        self.process = None

    def start(self, timeout=15.0, wait=True):
        """Writes the configuration and starts qmgr; with wait, until private/qmgr answers."""
        self.instance.write_config()
        # The skeleton binds private/qmgr before qmgr makes the queue layout: the queue
        # directory itself must be there.
        os.makedirs(self.queue_directory, mode=0o755, exist_ok=True)
        argv = [daemon_binary("qmgr", self.instance.build), "-c", self.instance.conf_path, "--standalone"]
        self.process = self.registry.spawn(argv, name=f"{self.instance.name}-process")
        if wait:
            wait_for(self._answers, timeout, "qmgr to listen on private/qmgr", process=self.process)
        return self

    def _answers(self):
        try:
            _connect(self.qmgr_socket, 1.0).close()
            return True
        except OSError:
            return False

    def stop(self, timeout=10.0):
        """SIGTERM, and waits for qmgr to exit; returns its exit code."""
        return self.process.stop(timeout) if self.process is not None else None

    # ---- playing smtpd and postern queue --------------------------------------------
    def write_message(self, recipients, queue="incoming", content=DEFAULT_CONTENT, **envelope):
        """Writes a queue file into QUEUE (qmgr is not told); returns its queue ID.
        recipients: addresses or dicts (address, orcpt, notify); envelope: sender, envid,
        ret, body, smtputf8, arrival_us."""
        envelope.setdefault("sender", "sender@example.test")
        folder = os.path.join(self.queue_directory, queue)
        if not os.path.isdir(folder):
            os.makedirs(folder, mode=0o700, exist_ok=True)
            self._give(folder)
        written = write_queue_file(folder, content, recipients, **envelope)
        self._give(written.path)
        return written.queue_id

    def submit(self, recipients, **kwargs):
        """Writes a message into incoming/ and sends smtpd's notice; returns its queue ID."""
        queue_id = self.write_message(recipients, **kwargs)
        self.notify(queue_id)
        return queue_id

    def notify(self, queue_id):
        """smtpd's qmgr-notify notice for queue_id."""
        with _connect(self.qmgr_socket) as sock:
            sock.sendall(encode("qmgr-notify", 1, [("op", "new"), ("queue_id", queue_id)]))

    def control(self, op, *ids):
        """control_request() on this qmgr."""
        return control_request(self.queue_directory, op, *ids)

    # ---- the queue and the log ------------------------------------------------------
    def where(self, queue_id):
        """The queue that holds queue_id, or None."""
        for queue in QUEUE_NAMES:
            if os.path.exists(os.path.join(self.queue_directory, queue, queue_id)):
                return queue
        return None

    def read(self, queue_id):
        """The parsed queue file (harness/queuefile), wherever it is."""
        queue = self.where(queue_id)
        if queue is None:
            raise AssertionError(f"{queue_id} is in no queue")
        return queuefile.read(os.path.join(self.queue_directory, queue, queue_id))

    def queue_files(self, queue):
        return self.instance.queue_files(queue)

    def log_offset(self):
        return self.instance.log_offset()

    def log_lines(self, offset=0):
        return self.instance.log_lines(offset)

    def wait_log(self, pattern, offset=0, timeout=15.0):
        return self.instance.wait_log(pattern, offset, timeout)

    def _give(self, path):
        if is_root() and user_exists(self.owner):
            give_to(path, self.owner)

    def worker(self, **options):
        """A started FakeWorker on this qmgr's private/smtp."""
        worker = FakeWorker(self.smtp_socket, self.queue_directory, owner=self.owner, **options)
        return self.registry.add(worker.start())


class FakeWorker:
    """Plays the smtp workers on private/smtp.

    mode: "answer" (each recipient by its local part, then done), "hangup" (close without a
    word), "garbage" (a frame of another protocol), "hang" (read the request, say nothing;
    .cancelled counts the connections qmgr closed), "partial" (answer the first recipient,
    then done). requests: every request received, as dicts (request_id, queue_id, sender,
    nexthop, domain, recipients, content).
    """

    def __init__(self, path, queue_directory, owner="postern", mode="answer"):
        self.path = path
        self.queue_directory = queue_directory
        self.owner = owner
        self.mode = mode
        self.requests = []
        self.cancelled = 0
        self._lock = threading.Lock()
        self._listener = None
        self._threads = []
        self._stopping = False

    def start(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.path)
        os.chmod(self.path, 0o600)
        if is_root() and user_exists(self.owner):
            give_to(self.path, self.owner)
        self._listener.listen(64)
        thread = threading.Thread(target=self._accept_loop, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self):
        """Stops listening and removes the socket (qmgr then finds no worker)."""
        self._stopping = True
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        if os.path.exists(self.path):
            os.unlink(self.path)
        for thread in self._threads:
            thread.join(5)

    def wait_requests(self, count, timeout=10.0):
        """Waits until count requests came; returns them all."""
        wait_for(lambda: len(self.requests) >= count, timeout, f"{count} delivery requests (have {len(self.requests)})")
        with self._lock:
            return list(self.requests)

    def _accept_loop(self):
        while not self._stopping:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn):
        try:
            self._converse(conn)
        except OSError:
            pass  # qmgr went away mid-conversation: nothing to answer

    def _converse(self, conn):
        with conn:
            conn.settimeout(30)
            reader = FrameReader()
            frame = _read_frame(conn, reader)
            if frame is None:
                return
            request = self._record(frame[2])
            if self.mode == "hangup":
                return
            if self.mode == "garbage":
                conn.sendall(encode("status", 1, [("state", "ready")]))
                return
            if self.mode == "hang":
                if _read_frame(conn, reader) is None:
                    with self._lock:
                        self.cancelled += 1
                return
            recipients = request["recipients"]
            if self.mode == "partial":
                recipients = recipients[:1]
            for rcpt in recipients:
                conn.sendall(self._result(request["request_id"], rcpt))
            conn.sendall(encode("delivery", 1, [("type", "done"), ("request_id", request["request_id"])]))

    def _record(self, attrs):
        text = {name: value.decode("utf-8", "surrogateescape") for name, value in attrs.items()}
        count = int(text["rcpt_count"])
        request = {
            "request_id": text["request_id"], "queue_id": text["queue_id"], "sender": text["sender"],
            "nexthop": text["nexthop"], "domain": text["domain"], "tls_level": text["tls_level"],
            "recipients": [{"index": text[f"rcpt.{i}.index"], "address": text[f"rcpt.{i}.address"],
                            "orcpt": text[f"rcpt.{i}.orcpt"], "notify": text[f"rcpt.{i}.notify"]}
                           for i in range(count)],
        }
        offset, length = int(text["content_offset"]), int(text["content_length"])
        with open(os.path.join(self.queue_directory, text["queue_file"]), "rb") as f:
            f.seek(offset)
            request["content"] = f.read(length)
        with self._lock:
            self.requests.append(request)
        return request

    @staticmethod
    def _result(request_id, rcpt):
        local = rcpt["address"].split("@")[0]
        if local.startswith("defer"):
            status, dsn, reply = "deferred", "4.2.0", "450 4.2.0 <%s>: mailbox busy" % rcpt["address"]
        elif local.startswith("fail"):
            status, dsn, reply = "bounced", "5.1.1", "550 5.1.1 <%s>: no such user" % rcpt["address"]
        else:
            status, dsn, reply = "sent", "2.0.0", "250 2.0.0 Ok: queued as FAKE"
        return encode("delivery", 1, [("type", "rcpt"), ("request_id", request_id), ("index", rcpt["index"]),
                                      ("status", status), ("dsn", dsn), ("reply", reply),
                                      ("relay", "mx.example.test[192.0.2.25]:25")])
