#!/usr/bin/env python3
"""fake_postern.py: a stand-in for build/sbin/postern, so test_harness can check the Postern
helper (start, stop, status, reload, children by service, log, send) before the real
daemons exist. Not a mail system: it greets, says 250 to everything, and logs one line
per message in the Postfix format postern promises.

  FAKE_POSTERN_LIBEXEC=DIR fake_postern.py -c FILE start --foreground | stop | status | reload
Children are `sleep`s whose argv[0] is DIR/SERVICE, as the real ones run DIR/SERVICE.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time


def setting(text, name):
    """The first string value of `name = "..."` (or the first string of a list) in the config."""
    found = re.search(rf'\b{name}\s*=\s*\[?\s*"([^"]*)"', text)
    return found.group(1) if found else None


def log(path, line):
    """Appends a Postfix-style log line."""
    with open(path, "a") as f:
        f.write(time.strftime("%b %d %H:%M:%S ") + f"fake postern/{line}\n")


def serve(conn, log_path, counter):
    """One SMTP session: 250 to everything, a queue ID for each message."""
    reader = conn.makefile("rb")
    conn.sendall(b"220 fake.test ESMTP fake postern\r\n")
    for raw in reader:
        verb = raw.strip().split(b" ")[0].upper()
        if verb == b"QUIT":
            conn.sendall(b"221 2.0.0 Bye\r\n")
            break
        if verb == b"DATA":
            conn.sendall(b"354 go ahead\r\n")
            for line in reader:
                if line in (b".\r\n", b".\n"):
                    break
            counter[0] += 1
            queue_id = f"FAKE{counter[0]}"
            log(log_path, f"smtpd[{os.getpid()}]: {queue_id}: client=localhost[127.0.0.1]")
            conn.sendall(f"250 2.0.0 Ok: queued as {queue_id}\r\n".encode())
        else:
            conn.sendall(b"250 2.0.0 Ok\r\n")
    conn.close()


def start(config_path, libexec):
    """Runs as master in the foreground: children per service, an SMTP listener, SIGTERM stops."""
    with open(config_path) as f:
        text = f.read()
    host, _, port = setting(text, "listen").rpartition(":")
    queue, log_path = setting(text, "queue_directory"), setting(text, "log_file")
    for name in ("incoming", "active", "deferred", "hold", "corrupt", "pid"):
        os.makedirs(os.path.join(queue, name), exist_ok=True)
    with open(os.path.join(queue, "pid", "master.pid"), "w") as f:
        f.write(f"{os.getpid()}\n")
    children = [subprocess.Popen(["bash", "-c", f"exec -a {libexec}/{service} sleep 1000"])
                for service in ("smtpd", "qmgr", "smtp", "smtp")]

    def terminate(signum, frame):
        """Stops the children, then exits 0, as master does on SIGTERM."""
        for child in children:
            child.terminate()
            child.wait()
        log(log_path, f"master[{os.getpid()}]: terminating on signal {signum}")
        os._exit(0)

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, lambda *_: log(log_path, f"master[{os.getpid()}]: reload"))
    listener = socket.create_server((host, int(port)))
    log(log_path, f"master[{os.getpid()}]: daemon started")
    counter = [0]
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn, log_path, counter), daemon=True).start()


def master_pid(config_path):
    """The running master's pid from queue_directory/pid/master.pid, or None."""
    with open(config_path) as f:
        queue = setting(f.read(), "queue_directory")
    try:
        with open(os.path.join(queue, "pid", "master.pid")) as f:
            pid = int(f.read())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def main(argv):
    """Dispatches the verb; returns the exit code."""
    config_path, verb = argv[2], argv[3]
    libexec = os.environ["FAKE_POSTERN_LIBEXEC"]
    pid = master_pid(config_path)
    if verb == "start":
        return start(config_path, libexec)
    if verb == "status":
        return 0 if pid else 1
    if pid is None:
        return 1
    os.kill(pid, signal.SIGTERM if verb == "stop" else signal.SIGHUP)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
