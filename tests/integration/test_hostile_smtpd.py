"""test_hostile_smtpd.py: hostile clients against the running smtpd, each answered the way
Postfix answers it, with no crash (the same smtpd process serves a plain client afterwards)
and nothing injected in the queue or the log: HTTP and proxy requests and a TLS ClientHello
on the plain port (221 2.7.0 and a hang-up, as Postfix's smtpd_forbidden_commands), NUL, CR
and LF encoded in ENVID, ORCPT and AUTH or sent raw inside a command, recipients far beyond
the limit (refused one by one, without ending the session: Postfix's overshoot limit), a
10 kB command line and one that never ends, and a flood of connections beyond the limits.

The smuggling sequences are in test_smtpd_smuggling.py, STARTTLS injection in
test_smtpd_tls.py, the limits one by one in test_smtpd_limits.py.
"""
import re
import socket
import time

from harness import procfs, smtp_send
from harness.postern import daemon_binary
from harness.processes import wait_for
from harness.smtpd import RawSmtp, SmtpdTestCase, queued_id
from hostile_support import assert_clean_text, client_hello, read_bytes, sanitized

GOODBYE = "221 2.7.0 Error: I can break rules, too. Goodbye.\r\n"


class HostileSmtpdTestCase(SmtpdTestCase):
    def assertStillServes(self, smtpd):
        """The same smtpd process, alive, takes a message from a plain client."""
        self.assertTrue(smtpd.process.running(), "smtpd died")
        result = smtp_send(smtpd.port, rcpt_to=["after@relay.test"])
        self.assertTrue(result.ok, result)

    def assertLogClean(self, smtpd):
        assert_clean_text(self, read_bytes(smtpd.log_path), "smtpd's log")


class OtherProtocolTest(HostileSmtpdTestCase):
    def test_http_and_proxy_requests_are_cut_off(self):
        smtpd = self.start_smtpd()
        # (what comes first, then the request); the first line of each request is logged.
        requests = [(None, b"GET / HTTP/1.1\r\nHost: mx.postern.test\r\nUser-Agent: curl/8.0\r\n\r\n"),
                    (None, b"POST /cgi-bin/x HTTP/1.0\r\nContent-Length: 4\r\n\r\nMAIL"),
                    (None, b"CONNECT mx.victim.test:25 HTTP/1.1\r\n\r\nMAIL FROM:<a@sender.test>\r\n"),
                    ("EHLO client.test", b"Host: mx.postern.test\r\nAccept: */*\r\n")]
        for prelude, request in requests:
            with self.subTest(request=request[:20]):
                offset = smtpd.log_offset()
                with RawSmtp(smtpd.port) as c:
                    c.expect("220")
                    if prelude:
                        c.expect("250", prelude)
                    c.send(request)
                    self.assertEqual(c.reply(), GOODBYE)
                    self.assertTrue(c.closed())
                    self.assertEqual(c.buffer, b"")  # nothing answered after the hang-up
                first = request.split(b"\r\n")[0].decode()
                smtpd.wait_log(r"warning: non-SMTP command from unknown\[127\.0\.0\.1\]: " + re.escape(first), offset)
                smtpd.wait_log(r"disconnect from unknown\[127\.0\.0\.1\]", offset)
        self.assertEqual(smtpd.queue_names(), [])
        self.assertStillServes(smtpd)

    def test_tls_client_hello_on_the_plain_port(self):
        smtpd = self.start_smtpd(smtpd={"timeout": 2})
        hello = client_hello()
        # A client that speaks TLS at once waits for the ServerHello: the line it started never
        # ends, and smtpd's timeout closes the session, as Postfix's does.
        with RawSmtp(smtpd.port) as c:
            c.expect("220")
            c.send(hello.replace(b"\n", b"-"))
            self.assertEqual(c.reply(timeout=10), "421 4.4.2 mx.postern.test Error: timeout exceeded\r\n")
            self.assertTrue(c.closed())
        # Once a line end comes, the line is another protocol's: hang up.
        offset = smtpd.log_offset()
        with RawSmtp(smtpd.port) as c:
            c.expect("220")
            c.send(hello + b"\r\n")
            self.assertEqual(c.reply(), GOODBYE)
            self.assertTrue(c.closed())
        found = smtpd.wait_log(r"warning: non-SMTP command from unknown\[127\.0\.0\.1\]: (.*)", offset)
        self.assertTrue(found.group(1).startswith("\\x16\\x03"), found.line)
        self.assertLogClean(smtpd)
        self.assertEqual(smtpd.queue_names(), [])
        self.assertStillServes(smtpd)


class InjectionTest(HostileSmtpdTestCase):
    def test_nul_cr_lf_encoded_in_esmtp_parameters_are_refused(self):
        smtpd = self.start_smtpd()
        mail_cases = {
            "ENVID=abc+00def": "501 5.5.4 Bad ENVID parameter syntax",
            "ENVID=x+0D+0AMAIL+20FROM:<evil@sender.test>": "501 5.5.4 Bad ENVID parameter syntax",
            "ENVID=x+0Ay": "501 5.5.4 Bad ENVID parameter syntax",
            "AUTH=<x+0D+0Ay>": "501 5.5.4 Bad AUTH parameter syntax",
            "AUTH=a+00@sender.test": "501 5.5.4 Bad AUTH parameter syntax",
        }
        rcpt_cases = {
            "ORCPT=rfc822;a+0D+0ARCPT+20TO:<evil@relay.test>": "501 5.5.4 Bad ORCPT parameter syntax",
            "ORCPT=rfc822;a+00b@relay.test": "501 5.5.4 Bad ORCPT parameter syntax",
            "ORCPT=rfc822;a+0Ab@relay.test": "501 5.5.4 Bad ORCPT parameter syntax",
            "ORCPT=utf-8;a\\x{0D}\\x{0A}b@relay.test": "501 5.5.4 Bad ORCPT parameter syntax",
            "ORCPT=utf-8;a\\x{0}b@relay.test": "501 5.5.4 Bad ORCPT parameter syntax",
        }
        with RawSmtp(smtpd.port) as c:
            c.expect("220")
            c.expect("250", "EHLO client.test")
            for parameter, reply in mail_cases.items():
                with self.subTest(parameter=parameter):
                    self.assertEqual(c.command(f"MAIL FROM:<a@sender.test> {parameter}"), reply + "\r\n")
            c.expect("250", "MAIL FROM:<a@sender.test> ENVID=clean+2Bid AUTH=<>")
            for parameter, reply in rcpt_cases.items():
                with self.subTest(parameter=parameter):
                    self.assertEqual(c.command(f"RCPT TO:<x@relay.test> {parameter}"), reply + "\r\n")
            c.expect("250", "RCPT TO:<x@relay.test> ORCPT=rfc822;x+2Bold@relay.test")
            c.expect("354", "DATA")
            reply = c.expect("250", "Subject: clean\r\n\r\nbody\r\n.")
        [message] = smtpd.wait_queued(1)
        self.assertEqual(message.envid, "clean+id")
        self.assertEqual([(r.address, r.orcpt) for r in message.recipients],
                         [("x@relay.test", "rfc822;x+old@relay.test")])
        self.assertEqual(smtpd.queued_ids(), [queued_id(reply)])
        self.assertLogClean(smtpd)

    def test_raw_control_bytes_inside_commands_are_refused(self):
        smtpd = self.start_smtpd()
        with RawSmtp(smtpd.port) as c:
            c.expect("220")
            c.expect("250", "EHLO client.test")
            # A bare CR is no line end: the whole line is one command, refused.
            self.assertEqual(c.command("MAIL FROM:<a@sender.test>\rRCPT TO:<evil@relay.test>"),
                             "500 5.5.2 Error: bad syntax\r\n")
            self.assertEqual(c.command("MAIL FROM:<a\x00b@sender.test>"), "500 5.5.2 Error: bad syntax\r\n")
            c.expect("250", "MAIL FROM:<a@sender.test>")
            self.assertEqual(c.command("RCPT TO:<x\x1b[2J@relay.test>"), "500 5.5.2 Error: bad syntax\r\n")
            self.assertRegex(c.command("DATA"), r"^5\d\d 5\.5\.1 ")
        self.assertEqual(smtpd.queue_names(), [])
        self.assertLogClean(smtpd)
        self.assertStillServes(smtpd)


class LimitAbuseTest(HostileSmtpdTestCase):
    def test_recipients_beyond_the_limit_are_refused_without_ending_the_session(self):
        smtpd = self.start_smtpd(smtpd={"recipient_limit": 5})
        with RawSmtp(smtpd.port) as c:
            c.expect("220")
            c.expect("250", "EHLO client.test")
            c.send("MAIL FROM:<a@sender.test>\r\n" + "".join(f"RCPT TO:<r{n}@relay.test>\r\n" for n in range(100)))
            c.expect("250")
            replies = [c.reply() for _ in range(100)]
            self.assertEqual(replies[:5], ["250 2.1.5 Ok\r\n"] * 5)
            self.assertEqual(set(replies[5:]), {"452 4.5.3 Error: too many recipients\r\n"})
            c.expect("354", "DATA")
            reply = c.expect("250", "Subject: many\r\n\r\nbody\r\n.")
        [message] = smtpd.wait_queued(1)
        self.assertEqual(len(message.recipients), 5)
        self.assertEqual(smtpd.queued_ids(), [queued_id(reply)])

    def test_past_the_overshoot_refusals_count_as_errors_again(self):
        smtpd = self.start_smtpd(smtpd={"recipient_limit": 1, "hard_error_limit": 3})
        with RawSmtp(smtpd.port) as c:
            c.expect("220")
            c.expect("250", "EHLO client.test")
            c.send("MAIL FROM:<a@sender.test>\r\n" + "".join(f"RCPT TO:<r{n}@relay.test>\r\n" for n in range(1010)))
            # MAIL, one RCPT, 1000 refusals for free, three that count, then the hang-up.
            replies = [c.reply() for _ in range(1006)]
            self.assertEqual(replies[:2], ["250 2.1.0 Ok\r\n", "250 2.1.5 Ok\r\n"])
            self.assertEqual(set(replies[2:-1]), {"452 4.5.3 Error: too many recipients\r\n"})
            self.assertEqual(replies[-1], "421 4.7.0 mx.postern.test Error: too many errors\r\n")
            self.assertTrue(c.closed())

    def test_a_10_kb_command_line_is_refused_whole(self):
        smtpd = self.start_smtpd()
        with RawSmtp(smtpd.port) as c:
            c.expect("220")
            c.expect("250", "EHLO client.test")
            self.assertEqual(c.command("MAIL FROM:<" + "a" * 10240 + "@sender.test>"),
                             "500 5.5.0 Error: line too long\r\n")
            self.assertEqual(c.command("RCPT TO:<x@relay.test> " + "X" * 10240), "500 5.5.0 Error: line too long\r\n")
            c.expect("250", "MAIL FROM:<a@sender.test>")
        self.assertStillServes(smtpd)

    def test_a_command_line_that_never_ends_is_not_buffered(self):
        smtpd = self.start_smtpd()
        rss_before = procfs.rss_kib(smtpd.pid)
        chunk = b"A" * 65536
        with RawSmtp(smtpd.port) as c:
            c.expect("220")
            for _ in range(512):  # 32 MiB without a line end
                c.send(chunk)
            self.assertEqual(c.command(""), "500 5.5.0 Error: line too long\r\n")
            c.expect("250", "NOOP")
        growth = procfs.rss_kib(smtpd.pid) - rss_before
        # AddressSanitizer keeps freed memory in quarantine (256 MB by default): no bound there.
        if not sanitized(daemon_binary("smtpd")):
            self.assertLess(growth, 16 * 1024, f"smtpd grew by {growth} KiB")
        self.assertStillServes(smtpd)


class ConnectionFloodTest(HostileSmtpdTestCase):
    def test_connections_beyond_the_per_client_limit_get_421(self):
        smtpd = self.start_smtpd(mynetworks=["192.0.2.0/24"], smtpd={"client_connection_count_limit": 20})
        sockets = []
        try:
            for _ in range(300):
                sockets.append(socket.create_connection(("127.0.0.1", smtpd.port), timeout=10))
            firsts = [_first_line(s) for s in sockets]
        finally:
            for s in sockets:
                s.close()
        greeted = [f for f in firsts if f.startswith(b"220 ")]
        refused = [f for f in firsts if f == b"421 4.7.0 mx.postern.test Error: too many connections from 127.0.0.1"]
        self.assertEqual((len(greeted), len(refused)), (20, 280), set(firsts))
        # Once they are gone, the client is welcome again (relay.test is a relay domain).
        wait_for(lambda: smtp_send(smtpd.port, rcpt_to=["after@relay.test"]).ok, 10, "a session after the flood")
        self.assertTrue(smtpd.process.running())


def _first_line(sock):
    data = b""
    deadline = time.monotonic() + 10
    while b"\r\n" not in data and time.monotonic() < deadline:
        chunk = sock.recv(512)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n")[0]


