"""test_smtpd_durability.py: what smtpd acknowledged is on disk and nothing else is. A
kill -9 right after a 250 leaves that message whole in incoming/; a client that goes away
before the end of data leaves nothing behind; 1,000 sessions open at once on one smtpd
process are all served (and cost little memory each).
"""
import os
import signal
import threading

from harness import make_message, procfs, smtp_send
from harness.queuefile import QueueFileError
from harness.smtpd import RawSmtp, SmtpdTestCase, queued_id, split_received




class KillTest(SmtpdTestCase):
    def test_kill_9_right_after_250_leaves_the_messages_whole(self):
        smtpd = self.start_smtpd()
        acknowledged = {}
        lock = threading.Lock()
        first = threading.Event()

        def client(n):
            body = make_message(subject=f"message {n}", body_size=20000 + n * 997)
            try:
                with RawSmtp(smtpd.port) as c:
                    c.expect("220")
                    c.expect("250", "EHLO killer.test")
                    while not first.is_set():
                        c.expect("250", "MAIL FROM:<a@sender.test>")
                        c.expect("250", "RCPT TO:<x@relay.test>")
                        c.expect("354", "DATA")
                        c.send(body + b".\r\n")
                        reply = c.reply()
                        if reply.startswith("250"):
                            if n == 0:
                                os.kill(smtpd.pid, signal.SIGKILL)  # right after the 250
                                first.set()
                            with lock:
                                acknowledged[queued_id(reply)] = body
            except (OSError, AssertionError):
                pass  # the server died under us: expected

        threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        smtpd.process.wait(10)
        self.assertTrue(acknowledged)
        for qid, body in acknowledged.items():
            message = smtpd.read(qid)  # raises QueueFileError when not whole
            self.assertEqual(split_received(message.content)[1], body)
        # Whatever else is in incoming/ is either complete or a temporary file.
        for name in smtpd.queue_names():
            if not name.startswith(".tmp-"):
                try:
                    smtpd.read(name)
                except QueueFileError as e:
                    self.fail(f"{name}: {e}")

    def test_a_client_leaving_before_the_end_leaves_nothing(self):
        smtpd = self.start_smtpd()
        offset = smtpd.log_offset()
        for stage in ("data", "bdat"):
            with RawSmtp(smtpd.port) as c:
                c.expect("220")
                c.transaction("leaver.test")
                if stage == "data":
                    c.expect("354", "DATA")
                    c.send(b"Subject: half\r\n\r\n" + b"x" * 200000)
                else:
                    c.send(b"BDAT 100\r\n" + b"y" * 100)
                    c.expect("250")
                    c.send(b"BDAT 500000 LAST\r\n" + b"z" * 1000)
        smtpd.wait_log(r"lost connection after DATA from unknown\[127\.0\.0\.1\]", offset)
        smtpd.wait_log(r"lost connection after BDAT from unknown\[127\.0\.0\.1\]", offset)
        self.wait_for(lambda: smtpd.queue_names() == [], 5, "an empty incoming/")


class StopTest(SmtpdTestCase):
    def test_sigterm_lets_the_message_in_progress_finish(self):
        smtpd = self.start_smtpd()
        with RawSmtp(smtpd.port) as idle, RawSmtp(smtpd.port) as busy:
            idle.expect("220")
            busy.expect("220")
            busy.transaction("busy.test")
            os.kill(smtpd.pid, signal.SIGTERM)
            self.assertEqual(idle.reply(), "421 4.3.2 mx.postern.test Error: service shutting down\r\n")
            self.assertTrue(idle.closed())
            busy.expect("354", "DATA")
            busy.send("Subject: last one\r\n\r\nbody\r\n.\r\n")
            reply = busy.reply()
            self.assertReply(reply, "250", "queued as")
            self.assertEqual(busy.reply(), "421 4.3.2 mx.postern.test Error: service shutting down\r\n")
        self.assertEqual(smtpd.process.wait(10), 0)
        self.assertEqual(smtpd.queued_ids(), [queued_id(reply)])


class QueueTroubleTest(SmtpdTestCase):
    def test_a_queue_file_that_cannot_be_made_is_a_temporary_error(self):
        smtpd = self.start_smtpd()
        incoming = os.path.join(smtpd.queue_directory, "incoming")
        os.rename(incoming, incoming + ".away")  # nobody can create files there now
        try:
            with RawSmtp(smtpd.port) as c:
                c.expect("220")
                c.transaction("trouble.test")
                self.assertEqual(c.command("DATA"), "451 4.3.0 Error: queue file write error\r\n")
                c.send(b"BDAT 5 LAST\r\nhello")  # the chunk is read, then refused
                self.assertEqual(c.reply(), "451 4.3.0 Error: queue file write error\r\n")
                c.expect("250", "NOOP")
        finally:
            os.rename(incoming + ".away", incoming)
        smtpd.wait_log(r"warning: cannot create a queue file: ")
        self.assertTrue(smtp_send(smtpd.port, rcpt_to=["x@relay.test"]).ok)


class ThousandSessionsTest(SmtpdTestCase):
    SESSIONS = 1000

    def test_thousand_sessions_at_once_are_all_served(self):
        smtpd = self.start_smtpd()
        rss_before = procfs.rss_kib(smtpd.pid)
        clients = []
        self.addCleanup(lambda: [c.close() for c in clients])
        for _ in range(self.SESSIONS):
            clients.append(RawSmtp(smtpd.port, timeout=30))
        for c in clients:
            c.expect("220")
        per_session = (procfs.rss_kib(smtpd.pid) - rss_before) * 1024 / self.SESSIONS
        print(f"\n    {self.SESSIONS} idle sessions: {per_session:.0f} bytes of RSS each")
        self.assertLess(per_session, 16 * 1024)
        # Each step goes to every session before any reply is read: all are open at once.
        for c in clients:
            c.send("EHLO many.test\r\n")
        for c in clients:
            c.expect("250")
        for n, c in enumerate(clients):
            c.send(f"MAIL FROM:<s{n}@sender.test>\r\nRCPT TO:<x@relay.test>\r\nDATA\r\n")
        for c in clients:
            for code in ("250", "250", "354"):
                c.expect(code)
        for n, c in enumerate(clients):
            c.send(f"Subject: {n}\r\n\r\nhello\r\n.\r\nQUIT\r\n")
        ids = set()
        for c in clients:
            ids.add(queued_id(c.expect("250", None)))
            c.expect("221")
        self.assertEqual(len(ids), self.SESSIONS)
        self.assertEqual(set(smtpd.queued_ids()), ids)
