"""test_delivery_session.py: the smtp worker's SMTP client against a scripted server.

The worker runs alone (--standalone); the test plays qmgr on private/smtp (harness/smtpworker)
and the receiving MTA with a MailSink: per-recipient results, pipelining, the transaction's
failures, the content on the wire, and servers that lie or misbehave.
"""
import re
import socket
import threading
import time
import unittest

from harness import PosternTestCase
from harness.smtpworker import SmtpWorker

MESSAGE = ("From: sender@example.test\r\nTo: ok@example.test\r\nSubject: test\r\n"
           "Message-ID: <m1@example.test>\r\n\r\nhello\r\n.a line with a leading dot\r\n")
LOG_LINE = re.compile(r"^\S+ +\d+ [\d:]+ \S+ postern/smtp\[\d+\]: (?P<id>[0-9A-Za-z]{17}): to=<(?P<to>[^>]*)>, "
                      r"relay=(?P<relay>\S+), delay=(?P<delay>[\d.]+), delays=(?P<delays>[\d.]+/[\d.]+/[\d.]+/[\d.]+), "
                      r"dsn=(?P<dsn>\d\.\d+\.\d+), status=(?P<status>sent|deferred|bounced) \((?P<text>.*)\)$")


class DeliverySessionTest(PosternTestCase):
    def worker(self, **config):
        return SmtpWorker(self.registry, **config).start()

    def nexthop(self, sink):
        return f"[127.0.0.1]:{sink.port}"

    def log_results(self, worker, offset=0):
        """{address: match} of the worker's recipient log lines."""
        found = {}
        for line in worker.log_lines(offset):
            match = LOG_LINE.match(line)
            if match:
                found[match["to"]] = match
        return found

    def test_each_recipient_gets_its_own_result(self):
        sink = self.mail_sink()
        worker = self.worker(smtp={"connection_cache": False})  # QUIT right after the transaction
        rcpts = ["ok@example.test", "defer@example.test", "fail@example.test", "ok2@example.test"]
        results, done = worker.deliver(MESSAGE, rcpts, self.nexthop(sink))
        self.assertTrue(done)
        self.assertEqual({a: r["status"] for a, r in results.items()},
                         {"ok@example.test": "sent", "ok2@example.test": "sent",
                          "defer@example.test": "deferred", "fail@example.test": "bounced"})
        self.assertEqual(results["defer@example.test"]["dsn"], "4.2.0")
        self.assertEqual(results["fail@example.test"]["dsn"], "5.1.1")
        relay = f"127.0.0.1[127.0.0.1]:{sink.port}"
        self.assertEqual(results["fail@example.test"]["reply"],
                         "host 127.0.0.1[127.0.0.1] said: 550 5.1.1 Recipient address rejected: "
                         "unknown user (test sink) (in reply to RCPT TO command)")
        self.assertRegex(results["ok@example.test"]["reply"], r"^250 2\.0\.0 Ok: queued as S1$")
        self.assertTrue(all(r["relay"] == relay for r in results.values()))
        [message] = sink.wait_messages(1)
        self.assertEqual(message.rcpt_to, ["ok@example.test", "ok2@example.test"])
        self.assertEqual(message.data.replace(b"\r\n", b"\n"), MESSAGE.encode().replace(b"\r\n", b"\n"))
        self.assertIn("QUIT", sink.sessions[0].commands)
        logged = self.log_results(worker)
        self.assertEqual(set(logged), set(rcpts))
        self.assertEqual(logged["ok@example.test"]["status"], "sent")
        self.assertEqual(logged["ok@example.test"]["relay"], relay)
        self.assertEqual(logged["fail@example.test"]["dsn"], "5.1.1")

    def test_pipelining_sends_mail_rcpt_data_in_one_write(self):
        seen = {}

        def watcher(name):
            def watch(session, line):
                if line.startswith("MAIL"):  # the whole group came in one piece: DATA is buffered
                    seen[name] = b"DATA" in bytes(session._buf[session._pos:])
            return watch

        sink = self.mail_sink(hook=watcher("pipelining"))
        plain = self.mail_sink(hook=watcher("plain"), extensions=["SIZE 1000000", "8BITMIME"])
        worker = self.worker()
        for target in (sink, plain):
            results, _ = worker.deliver(MESSAGE, ["ok@example.test", "ok2@example.test"], self.nexthop(target))
            self.assertEqual({r["status"] for r in results.values()}, {"sent"})
        self.assertEqual(seen, {"pipelining": True, "plain": False})

    def test_capabilities_pipelined_behind_the_greeting_are_not_believed(self):
        # Believed, the fake "SIZE 10" would bounce the message (5.3.4).
        sink = self.mail_sink(greeting=b"220 sink.test ESMTP\r\n250-sink.test\r\n250 SIZE 10\r\n")
        worker = self.worker()
        results, _ = worker.deliver(MESSAGE, ["ok@example.test"], self.nexthop(sink))
        self.assertEqual(results["ok@example.test"]["status"], "sent", results)
        sink.wait_messages(1)
        worker.wait_log(r"warning: 127\.0\.0\.1\[127\.0\.0\.1\] sent \d+ bytes before its turn; ignored")

    def test_hostile_multiline_reply_is_escaped(self):
        evil = b"550-5.1.1 first\x00line\r\n550-bare\rcr and \x1b[31mansi\r\n550 5.1.1 last\xff\r\n"

        def hook(session, line):
            return evil if line.startswith("RCPT") else None

        sink = self.mail_sink(hook=hook)
        worker = self.worker()
        results, _ = worker.deliver(MESSAGE, ["evil@example.test"], self.nexthop(sink))
        result = results["evil@example.test"]
        self.assertEqual(result["status"], "bounced")
        self.assertEqual(result["reply"],
                         "host 127.0.0.1[127.0.0.1] said: 550 5.1.1 first\\x00line bare\\rcr and \\x1B[31mansi "
                         "last\\xFF (in reply to RCPT TO command)")
        raw = open(worker.log_path, "rb").read()
        self.assertNotIn(b"\x00", raw)
        self.assertNotIn(b"\x1b", raw)
        self.assertIn(b"first\\x00line bare\\rcr", raw)

    def test_greeting_refusal_and_silence(self):
        refusing = self.mail_sink(greeting="554 5.7.1 go away")
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        self.addCleanup(silent.close)
        worker = self.worker(smtp={"helo_timeout": 1})
        results, _ = worker.deliver(MESSAGE, ["ok@example.test"], self.nexthop(refusing))
        self.assertEqual(results["ok@example.test"]["status"], "bounced")
        self.assertEqual(results["ok@example.test"]["reply"],
                         "host 127.0.0.1[127.0.0.1] refused to talk to me: 554 5.7.1 go away")
        results, _ = worker.deliver(MESSAGE, ["ok@example.test"], f"[127.0.0.1]:{silent.getsockname()[1]}")
        self.assertEqual(results["ok@example.test"]["status"], "deferred")
        self.assertEqual(results["ok@example.test"]["dsn"], "4.4.2")
        self.assertEqual(results["ok@example.test"]["reply"],
                         "conversation with 127.0.0.1[127.0.0.1] timed out while receiving the initial server greeting")

    def test_connection_refused_is_deferred_with_relay_none(self):
        worker = self.worker()
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        closed.close()
        results, done = worker.deliver(MESSAGE, ["ok@example.test"], f"[127.0.0.1]:{port}")
        self.assertTrue(done)
        self.assertEqual(results["ok@example.test"]["reply"], f"connect to 127.0.0.1[127.0.0.1]:{port}: Connection refused")
        self.assertEqual(results["ok@example.test"]["relay"], "none")
        self.assertEqual(results["ok@example.test"]["dsn"], "4.4.1")

    def test_size_limit_smtputf8_and_helo_fallback(self):
        small = self.mail_sink(size_limit=50)
        no_utf8 = self.mail_sink(extensions=["PIPELINING", "8BITMIME"])
        old = self.mail_sink(hook=lambda session, line: "502 5.5.2 EHLO? never heard" if line.startswith("EHLO") else None)
        worker = self.worker()
        results, _ = worker.deliver(MESSAGE, ["ok@example.test"], self.nexthop(small))
        self.assertEqual(results["ok@example.test"]["status"], "bounced")
        self.assertEqual(results["ok@example.test"]["dsn"], "5.3.4")
        self.assertEqual(results["ok@example.test"]["reply"],
                         f"message size {len(MESSAGE)} exceeds size limit 50 of server 127.0.0.1[127.0.0.1]")
        self.assertEqual(small.sessions[0].mail_from, None)
        results, _ = worker.deliver(MESSAGE, ["ok@example.test"], self.nexthop(no_utf8), smtputf8=True)
        self.assertEqual((results["ok@example.test"]["status"], results["ok@example.test"]["dsn"]), ("bounced", "5.6.7"))
        self.assertIn("SMTPUTF8 is required, but was not offered by host 127.0.0.1[127.0.0.1]",
                      results["ok@example.test"]["reply"])
        results, _ = worker.deliver(MESSAGE, ["ok@example.test"], self.nexthop(old), body="8BITMIME")
        self.assertEqual(results["ok@example.test"]["status"], "sent")
        [message] = old.wait_messages(1)
        self.assertEqual(message.mail_params, [])
        self.assertTrue(any(c.startswith("HELO postern.test") for c in old.sessions[0].commands))

    def test_esmtp_parameters(self):
        sink = self.mail_sink()
        worker = self.worker()
        rcpts = [{"address": "ok@example.test", "notify": 3, "orcpt": "rfc822;Orig+2B@example.test"},
                 {"address": "ok2@example.test", "notify": 8}]
        results, _ = worker.deliver(MESSAGE, rcpts, self.nexthop(sink), envid="env id", ret="HDRS", body="8BITMIME",
                                    smtputf8=True)
        self.assertEqual({r["status"] for r in results.values()}, {"sent"})
        [message] = sink.wait_messages(1)
        self.assertEqual(message.mail_params,
                         [f"SIZE={len(MESSAGE)}", "BODY=8BITMIME", "SMTPUTF8", "RET=HDRS", "ENVID=env+20id"])
        self.assertEqual(message.rcpt_params,
                         [["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;Orig+2B@example.test"], ["NOTIFY=NEVER"]])

    def test_long_lines_are_folded_and_dots_stuffed(self):
        long_line = "x" * 2500
        content = f"Subject: long\r\n\r\n{long_line}\r\n.\r\n..two\r\nbare\nlf\r\n"
        sink = self.mail_sink()
        worker = self.worker()
        results, _ = worker.deliver(content, ["ok@example.test"], self.nexthop(sink))
        self.assertEqual(results["ok@example.test"]["status"], "sent")
        [message] = sink.wait_messages(1)
        lines = message.data.split(b"\r\n")
        self.assertTrue(all(len(line) <= 998 for line in lines), [len(line) for line in lines])
        self.assertEqual(b"".join(l.lstrip(b" ") for l in lines[2:5]), long_line.encode())
        self.assertIn(b"\r\n.\r\n..two\r\nbare\r\nlf\r\n", message.data)

    def test_data_refused_applies_to_every_accepted_recipient(self):
        sink = self.mail_sink(data_reply="554 5.6.0 content refused")
        worker = self.worker()
        results, _ = worker.deliver(MESSAGE, ["ok@example.test", "fail@example.test", "ok2@example.test"],
                                    self.nexthop(sink))
        for address in ("ok@example.test", "ok2@example.test"):
            self.assertEqual(results[address]["status"], "bounced")
            self.assertEqual(results[address]["reply"],
                             "host 127.0.0.1[127.0.0.1] said: 554 5.6.0 content refused (in reply to end of DATA command)")
        self.assertIn("in reply to RCPT TO command", results["fail@example.test"]["reply"])

    def test_large_message_is_streamed(self):
        body = ("0123456789" * 99 + "\r\n") * 10000  # about 10 MB
        content = "Subject: big\r\n\r\n" + body
        sink = self.mail_sink()
        worker = self.worker()
        results, _ = worker.deliver(content, ["ok@example.test"], self.nexthop(sink))
        self.assertEqual(results["ok@example.test"]["status"], "sent")
        [message] = sink.wait_messages(1)
        self.assertEqual(len(message.data), len(content))
        pid = worker.processes[0].pid
        with open(f"/proc/{pid}/maps") as f:
            if "libasan" in f.read():
                return  # ASan keeps freed memory in quarantine: its peak says nothing here
        with open(f"/proc/{pid}/status") as f:
            peak_kb = int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))
        self.assertLess(peak_kb, 40 * 1024, "the worker must not hold the message in memory")

    def test_request_with_a_foreign_path_is_refused(self):
        sink = self.mail_sink()
        worker = self.worker()
        queued = worker.queue_message(MESSAGE, ["ok@example.test"])
        connection = worker.request(queued, ["ok@example.test"], self.nexthop(sink), queue_file="active/../../etc/x")
        results, done = connection.results()
        self.assertEqual((results, done), ([], False))
        worker.wait_log(r"warning: refused delivery request from qmgr: queue_file")
        self.assertEqual(sink.sessions, [])

    def test_garbage_from_qmgr_is_refused(self):
        worker = self.worker()
        garbage = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        garbage.connect(worker.socket_path)
        garbage.sendall(b"HELO I am not qmgr\r\n")
        garbage.settimeout(10)
        self.assertEqual(garbage.recv(100), b"", "the worker hangs up")
        garbage.close()
        worker.wait_log(r"warning: qmgr: .*; disconnecting")

    def test_process_delivery_limit(self):
        sink = self.mail_sink(reply_delay=0.05)
        worker = self.worker(smtp={"process_delivery_limit": 2})
        results = []
        threads = [threading.Thread(target=lambda: results.append(
            worker.deliver(MESSAGE, ["ok@example.test"], self.nexthop(sink))[0]["ok@example.test"]["status"]))
            for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        self.assertEqual(results, ["sent"] * 6)
        self.assertEqual(sink.max_concurrent, 2)

    def test_qmgr_hanging_up_cancels_the_delivery(self):
        def slow_greeting(session):
            time.sleep(1.5)
            return "220 sink.test ESMTP slow"

        sink = self.mail_sink(greeting=slow_greeting)
        worker = self.worker()
        queued = worker.queue_message(MESSAGE, ["ok@example.test"])
        connection = worker.request(queued, ["ok@example.test"], self.nexthop(sink))
        self.wait_for(lambda: sink.sessions, 5, "the worker to connect")
        connection.sock.close()
        worker.wait_log(rf"{queued.queue_id}: delivery cancelled: qmgr closed the connection")
        [session] = sink.wait_sessions(1)
        self.assertEqual(session.commands, [], "nothing sent after the cancel")
        self.assertEqual(sink.messages, [])


if __name__ == "__main__":
    unittest.main()
