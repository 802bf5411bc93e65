"""test_smtpd_limits.py: every limit of smtpd, with Postfix's names, against the real
process: message_size_limit (SIZE=, DATA, BDAT), smtpd.recipient_limit, line_length_limit,
header_size_limit, hopcount_limit, smtpd.timeout, the hard and soft error limits, the
per-client connection limit, the process-wide connection limit (back-pressure, also when
the open file limit is what caps it) and queue_minfree.
"""
import os
import socket
import time

from harness import make_message, smtp_send
from harness.smtpd import RawSmtp, SmtpdTestCase, queued_id, split_received


def greeted(sock, timeout):
    """The first line a server sent on sock within timeout, or None."""
    sock.settimeout(timeout)
    try:
        return sock.recv(512) or None
    except socket.timeout:
        return None


class SizeLimitTest(SmtpdTestCase):
    def test_size_at_mail_data_and_bdat(self):
        smtpd = self.start_smtpd(message_size_limit=1000)
        with RawSmtp(smtpd.port) as c:
            c.expect("220")
            self.assertIn("250-SIZE 1000\r\n", c.expect("250", "EHLO size.test"))
            self.assertEqual(c.command("MAIL FROM:<a@sender.test> SIZE=1001"),
                             "552 5.3.4 Message size exceeds fixed limit\r\n")
            c.expect("250", "MAIL FROM:<a@sender.test> SIZE=1000")
            c.expect("250", "RCPT TO:<x@relay.test>")
            c.expect("354", "DATA")
            c.send(b"Subject: big\r\n\r\n" + (b"y" * 70 + b"\r\n") * 30 + b".\r\n")
            self.assertEqual(c.reply(), "552 5.3.4 Error: message file too big\r\n")
            # BDAT: refused at the chunk that crosses the limit; the rest finds no transaction.
            c.expect("250", "MAIL FROM:<a@sender.test>")
            c.expect("250", "RCPT TO:<x@relay.test>")
            c.send(b"BDAT 600\r\n" + b"a" * 600)
            c.expect("250")
            c.send(b"BDAT 600\r\n" + b"b" * 600)
            self.assertEqual(c.reply(), "552 5.3.4 Error: message file too big\r\n")
            c.send(b"BDAT 10 LAST\r\n" + b"c" * 10)
            self.assertReply(c.reply(), "503", "need MAIL command")
            c.expect("250", "NOOP")
        self.assertEqual(smtpd.queue_names(), [])
        self.assertTrue(smtp_send(smtpd.port, rcpt_to=["x@relay.test"], body="small\n").ok)

    def test_recipient_limit(self):
        smtpd = self.start_smtpd(smtpd={"recipient_limit": 3})
        result = smtp_send(smtpd.port, rcpt_to=[f"r{n}@relay.test" for n in range(5)])
        self.assertTrue(result.ok, result)
        self.assertEqual(result.refused, {"r3@relay.test": (452, "4.5.3 Error: too many recipients"),
                                          "r4@relay.test": (452, "4.5.3 Error: too many recipients")})
        [message] = smtpd.wait_queued(1)
        self.assertEqual(len(message.recipients), 3)

    def test_long_lines_are_kept_whole_and_long_commands_refused(self):
        smtpd = self.start_smtpd(line_length_limit=600)
        data = b"Subject: long\r\n\r\n" + b"z" * 5000 + b"\r\nshort\r\n"
        result = smtp_send(smtpd.port, rcpt_to=["x@relay.test"], data=data)
        self.assertTrue(result.ok, result)
        self.assertEqual(split_received(smtpd.read(result.queue_id).content)[1], data)
        with RawSmtp(smtpd.port) as c:
            c.expect("220")
            self.assertEqual(c.command("NOOP " + "n" * 700), "500 5.5.0 Error: line too long\r\n")
            c.expect("250", "NOOP")

    def test_header_size_limit(self):
        smtpd = self.start_smtpd(header_size_limit=2000)
        big = make_message(headers={"X-Big": "h" * 3000})
        result = smtp_send(smtpd.port, rcpt_to=["x@relay.test"], data=big)
        self.assertEqual((result.code, result.reply), (552, "5.3.4 Error: message header size exceeds limit"))
        self.assertTrue(smtp_send(smtpd.port, rcpt_to=["x@relay.test"], headers={"X-Small": "h" * 100}).ok)

    def test_hopcount_limit(self):
        smtpd = self.start_smtpd(hopcount_limit=3)
        hops = "".join(f"Received: from hop{n} by hop{n + 1}; Mon, 1 Jan 2024 00:00:00 +0000\r\n" for n in range(4))
        looping = hops.encode() + make_message()
        result = smtp_send(smtpd.port, rcpt_to=["x@relay.test"], data=looping)
        self.assertEqual((result.code, result.reply), (554, "5.4.0 Error: too many hops"))
        three = "".join(hops.splitlines(True)[:3]).encode()
        self.assertTrue(smtp_send(smtpd.port, rcpt_to=["x@relay.test"], data=three + make_message()).ok)
        self.assertEqual(len(smtpd.queued_ids()), 1)

    def test_queue_minfree(self):
        smtpd = self.start_smtpd(queue_minfree=2 ** 62)
        with RawSmtp(smtpd.port) as c:
            c.expect("220")
            c.expect("250", "EHLO full.test")
            self.assertEqual(c.command("MAIL FROM:<a@sender.test>"), "452 4.3.1 Insufficient system storage\r\n")
        smtpd.wait_log(r"NOQUEUE: reject: MAIL from unknown\[127\.0\.0\.1\]: 452 4\.3\.1 Insufficient system storage")


class TimeAndErrorLimitTest(SmtpdTestCase):
    def test_timeout_idle_and_in_data(self):
        smtpd = self.start_smtpd(smtpd={"timeout": 1})
        with RawSmtp(smtpd.port) as idle, RawSmtp(smtpd.port) as sending:
            idle.expect("220")
            sending.expect("220")
            sending.transaction("slow.test")
            sending.expect("354", "DATA")
            sending.send("Subject: never finished\r\n")
            self.assertEqual(idle.reply(timeout=5), "421 4.4.2 mx.postern.test Error: timeout exceeded\r\n")
            self.assertEqual(sending.reply(timeout=5), "421 4.4.2 mx.postern.test Error: timeout exceeded\r\n")
            self.assertTrue(idle.closed() and sending.closed())
        smtpd.wait_log(r"timeout after CONNECT from unknown\[127\.0\.0\.1\]")
        smtpd.wait_log(r"timeout after DATA from unknown\[127\.0\.0\.1\]")
        self.assertEqual(smtpd.queue_names(), [])

    def test_hard_error_limit(self):
        smtpd = self.start_smtpd(smtpd={"hard_error_limit": 3})
        with RawSmtp(smtpd.port) as c:
            c.expect("220")
            for n in range(3):
                c.expect("502", f"BOGUS{n}")
            self.assertEqual(c.reply(), "421 4.7.0 mx.postern.test Error: too many errors\r\n")
            self.assertTrue(c.closed())
        smtpd.wait_log(r"too many errors after UNKNOWN from unknown\[127\.0\.0\.1\]")
        smtpd.wait_log(r"disconnect from unknown\[127\.0\.0\.1\] unknown=0/3 commands=0/3$")

    def test_soft_error_limit_slows_errors_down(self):
        smtpd = self.start_smtpd(smtpd={"soft_error_limit": 2, "error_sleep_time": 1})
        with RawSmtp(smtpd.port) as c:
            c.expect("220")
            started = time.monotonic()
            c.expect("502", "BOGUS1")
            self.assertLess(time.monotonic() - started, 0.5)
            started = time.monotonic()
            c.expect("502", "BOGUS2")
            self.assertGreaterEqual(time.monotonic() - started, 0.9)
            started = time.monotonic()
            c.expect("250", "NOOP")
            self.assertLess(time.monotonic() - started, 0.5)


class ConnectionLimitTest(SmtpdTestCase):
    def test_per_client_limit_outside_mynetworks(self):
        smtpd = self.start_smtpd(mynetworks=["192.0.2.0/24"], smtpd={"client_connection_count_limit": 2})
        offset = smtpd.log_offset()
        with RawSmtp(smtpd.port) as a, RawSmtp(smtpd.port) as b, RawSmtp(smtpd.port) as c:
            a.expect("220")
            b.expect("220")
            self.assertEqual(c.reply(), "421 4.7.0 mx.postern.test Error: too many connections from 127.0.0.1\r\n")
            self.assertTrue(c.closed())
        smtpd.wait_log(r"warning: Connection concurrency limit exceeded: 3 from unknown\[127\.0\.0\.1\] "
                       r"for service smtpd", offset)
        with RawSmtp(smtpd.port) as again:
            again.expect("220")

    def test_mynetworks_is_exempt_from_the_per_client_limit(self):
        smtpd = self.start_smtpd(smtpd={"client_connection_count_limit": 1})
        with RawSmtp(smtpd.port) as a, RawSmtp(smtpd.port) as b:
            a.expect("220")
            b.expect("220")

    def test_process_limit_pauses_and_resumes_accepting(self):
        smtpd = self.start_smtpd(smtpd={"process_connection_limit": 3})
        offset = smtpd.log_offset()
        held = [RawSmtp(smtpd.port) for _ in range(3)]
        for client in held:
            client.expect("220")
        waiting = socket.create_connection(("127.0.0.1", smtpd.port))  # the kernel's backlog takes it
        self.addCleanup(waiting.close)
        self.assertIsNone(greeted(waiting, 0.5))
        smtpd.wait_log(r"process connection limit reached; not accepting for now", offset)
        held.pop().close()
        self.assertTrue(greeted(waiting, 5.0).startswith(b"220 "))
        for client in held:
            client.close()

    def test_open_file_limit_caps_sessions_without_spinning(self):
        smtpd = StandaloneWithLimit(self)
        budget = 50  # (100 descriptors - a reserve) / 2, see server.cpp descriptorBudget
        clients = [socket.create_connection(("127.0.0.1", smtpd.port)) for _ in range(budget + 20)]
        for sock in clients:
            self.addCleanup(sock.close)
        greetings = [greeted(sock, 2.0 if n < budget else 0.05) for n, sock in enumerate(clients)]
        served = sum(1 for g in greetings if g)
        self.assertGreaterEqual(served, budget - 5)
        self.assertLess(served, budget + 20)
        cpu_before = _cpu_seconds(smtpd.pid)
        time.sleep(1.0)  # a paused smtpd must sleep, not spin on accept
        self.assertLess(_cpu_seconds(smtpd.pid) - cpu_before, 0.2)
        for n, sock in enumerate(clients):
            if greetings[n]:
                sock.close()
        late = [sock for n, sock in enumerate(clients) if not greetings[n]]
        for sock in late:
            self.assertTrue((greeted(sock, 5.0) or b"").startswith(b"220 "))
        self.assertTrue(smtp_send(smtpd.port, rcpt_to=["x@relay.test"]).ok)


def StandaloneWithLimit(test):
    """smtpd under prlimit --nofile=100."""
    from harness.smtpd import StandaloneSmtpd
    from harness.system import program
    if not program("prlimit"):
        test.skipTest("prlimit is not installed")
    return StandaloneSmtpd(test.registry, prlimit_nofile=100).start()


def _cpu_seconds(pid):
    """User plus system CPU time of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
