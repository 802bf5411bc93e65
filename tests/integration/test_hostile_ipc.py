"""test_hostile_ipc.py: garbage on postern's internal UNIX sockets, against a running
postern: private/qmgr (smtpd's notices, `postern queue`'s requests), private/smtp (qmgr's
delivery requests) and public/submit (local submission). Each daemon logs a warning and
hangs up on the peer; none dies (the same processes run afterwards), nothing it was sent
reaches the log unescaped, and mail still flows end to end.

test_delivery_session.py covers one worker alone against a fake qmgr; fuzz_ipc_frame the
frame parser itself.
"""
import os
import socket
import struct

from harness import PosternTestCase
from harness.ipcframe import HEADER, MAGIC, encode
from hostile_support import assert_clean_text, client_hello, read_bytes


def garbage_frames():
    """(name, bytes) of what a hostile or broken peer might send on an internal socket."""
    notice = encode("qmgr-notify", 1, [("op", "new"), ("queue_id", "0123456789ABCDEFG")])
    return [
        ("text", b"HELO I am not a postern process\r\n\x00\x01\x02\xff"),
        ("tls", client_hello()),
        ("huge length", HEADER.pack(MAGIC, 0xFFFFFFF0) + b"x" * 64),
        ("zero length", HEADER.pack(MAGIC, 0)),
        ("cut short", notice[:-3]),
        ("unknown protocol", encode("evil\x1b[2J", 1, [("op", "new")])),
        ("future version", encode("qmgr-notify", 999, [("op", "new"), ("queue_id", "0123456789ABCDEFG")])),
        ("path in the ID", encode("qmgr-notify", 1, [("op", "new"), ("queue_id", "../../../etc/passwd")])),
        ("control chars in the ID", encode("qmgr-notify", 1, [("op", "new"), ("queue_id", "A\r\nB\x00")])),
        ("extra attribute", encode("qmgr-notify", 1, [("op", "new"), ("queue_id", "0123456789ABCDEFG"),
                                                     ("evil", b"\x00" * 10)])),
        ("delete by path", encode("qmgr-control", 1, [("type", "request"), ("op", "delete"),
                                                     ("ids", "../active/x")])),
        ("delivery request to qmgr", encode("smtp-deliver", 1, [("request_id", 1)])),
        ("bytes after the body", HEADER.pack(MAGIC, len(notice) - HEADER.size + 4)
         + notice[HEADER.size:] + b"\x00\x00\x00\x00"),
        ("random", os.urandom(4096)),
        ("length overflow", struct.pack(">4sI", MAGIC, 12) + b"\x04test\x00\x01\xff\xff\xff\xff"),
    ]


def send_and_wait_hangup(path, data, timeout=10.0):
    """Connects to the UNIX socket path, sends data, half-closes, and reads until the peer
    closes; returns what it answered (b"" when it just hung up). Fails on a timeout."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            return b""  # it hung up before taking it all
        answer = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return answer
            if not chunk:
                return answer
            answer += chunk


class InternalSocketGarbageTest(PosternTestCase):
    def test_garbage_on_every_internal_socket_harms_nothing(self):
        sink = self.mail_sink()
        mx = self.start_postern(routes=({"domain": "*", "nexthop": f"[127.0.0.1]:{sink.port}"},))
        before = mx.service_pids()
        sockets = {"private/qmgr": os.path.join(mx.queue_directory, "private", "qmgr"),
                   "private/smtp": os.path.join(mx.queue_directory, "private", "smtp")}
        for socket_name, path in sockets.items():
            for name, data in garbage_frames():
                with self.subTest(socket=socket_name, garbage=name):
                    send_and_wait_hangup(path, data)
        # public/submit speaks SMTP: binary garbage there is another protocol, and hung up on.
        submit = os.path.join(mx.queue_directory, "public", "submit")
        for name, data in garbage_frames()[:3]:
            with self.subTest(socket="public/submit", garbage=name):
                answer = send_and_wait_hangup(submit, data + b"\r\n")
                self.assertTrue(answer.startswith(b"220 "), answer)
        self.assertEqual(mx.service_pids(), before, "a daemon died or was restarted")
        mx.wait_log(r"postern/qmgr\[\d+\]: warning: private/qmgr: .*; disconnecting")
        mx.wait_log(r"postern/smtp\[\d+\]: warning: qmgr: .*; disconnecting")
        # One warning per peer: "frame of N bytes exceeds the limit" once from each daemon.
        too_big = [line for line in mx.log_lines() if "frame of 4294967288 bytes exceeds" in line]
        self.assertEqual(len(too_big), 2, "\n".join(too_big))
        result = mx.send(rcpt_to=["after@far.test"])
        self.assertTrue(result.ok, result)
        [message] = sink.wait_messages(1, timeout=20)
        self.assertEqual(message.rcpt_to, ["after@far.test"])
        self.assertEqual(mx.queue_files("corrupt"), [])
        assert_clean_text(self, read_bytes(mx.log_path), "postern's log")
