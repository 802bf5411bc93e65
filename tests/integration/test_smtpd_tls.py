"""test_smtpd_tls.py: smtpd's STARTTLS: mail over TLS from smtplib and swaks, the whole
chain seen by openssl s_client, ask_ccert with no client certificate and with an untrusted
one (both get through), plaintext pipelined behind STARTTLS thrown away, a second STARTTLS
refused, security_level encrypt, TLS 1.2 as the floor, and the TLS log line.
"""
import ssl
import subprocess

from harness import client_tls_context, smtp_send
from harness.smtpd import RawSmtp, SmtpdTestCase, queued_id, split_received


class TlsTestCase(SmtpdTestCase):
    def start_tls_smtpd(self, **tls):
        server = self.certs.server()
        settings = {"security_level": "may", "cert_file": server.chain, "key_file": server.key}
        settings.update(tls)
        return self.start_smtpd(smtpd={"tls": settings})

    def s_client(self, port, *args, stdin=b"QUIT\r\n"):
        """openssl s_client -starttls smtp against port; returns its output (stdout+stderr)."""
        done = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect", f"127.0.0.1:{port}",
                               "-servername", "localhost", *args], input=stdin, capture_output=True, timeout=30)
        return done.returncode, (done.stdout + done.stderr).decode("utf-8", "replace")


class StarttlsMailTest(TlsTestCase):
    def test_smtplib_over_starttls(self):
        smtpd = self.start_tls_smtpd()
        result = smtp_send(smtpd.port, rcpt_to=["x@relay.test"], starttls=True,
                           tls_context=client_tls_context(ca_file=self.certs.ca.cert))
        self.assertTrue(result.ok, result)
        [message] = smtpd.wait_queued(1)
        self.assertEqual(message.protocol, "ESMTPS")
        self.assertRegex(message.tls, r"^TLSv1\.3 with cipher \S+ \(\d+/\d+ bits\)$")
        received, _ = split_received(message.content)
        self.assertIn(f"\r\n\t(using {message.tls})\r\n\tby mx.postern.test (postern) with ESMTPS id "
                      f"{result.queue_id}".encode(), received)
        smtpd.wait_log(r"Anonymous TLS connection established from unknown\[127\.0\.0\.1\]: TLSv1\.3 with cipher ")
        smtpd.wait_log(r"disconnect from .* ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7$")

    def test_swaks_over_starttls(self):
        smtpd = self.start_tls_smtpd()
        rc, transcript = self.swaks(smtpd.port, to="x@relay.test", tls=True)
        self.assertEqual(rc, 0, transcript)
        self.assertIn("TLS started", transcript)
        [message] = smtpd.wait_queued(1)
        self.assertEqual(message.protocol, "ESMTPS")

    def test_s_client_sees_the_whole_chain(self):
        smtpd = self.start_tls_smtpd()
        rc, out = self.s_client(smtpd.port, "-showcerts", "-msg")
        self.assertEqual(rc, 0, out)
        self.assertEqual(out.count("-----BEGIN CERTIFICATE-----"), 2, out)
        self.assertRegex(out, r"(?m)^ 0 s:.*CN ?= ?localhost")
        self.assertRegex(out, r"(?m)^ 1 s:.*CN ?= ?postern test CA")
        self.assertNotIn("CertificateRequest", out)  # none by default

    def test_tls12_is_the_floor(self):
        smtpd = self.start_tls_smtpd()
        rc, out = self.s_client(smtpd.port, "-tls1_2")
        self.assertEqual(rc, 0, out)
        self.assertIn("Protocol  : TLSv1.2", out)
        rc, out = self.s_client(smtpd.port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
        self.assertNotEqual(rc, 0, out)


class ClientCertificateTest(TlsTestCase):
    def test_ask_ccert_without_a_client_certificate(self):
        smtpd = self.start_tls_smtpd(ask_ccert=True)
        rc, out = self.s_client(smtpd.port, "-msg")
        self.assertEqual(rc, 0, out)
        self.assertIn("CertificateRequest", out)
        result = smtp_send(smtpd.port, rcpt_to=["x@relay.test"], starttls=True)
        self.assertTrue(result.ok, result)
        smtpd.wait_log(r"Anonymous TLS connection established from unknown\[127\.0\.0\.1\]")

    def test_ask_ccert_with_an_untrusted_certificate(self):
        smtpd = self.start_tls_smtpd(ask_ccert=True)
        stranger = self.certs.self_signed("stranger", "stranger.test")
        offset = smtpd.log_offset()
        result = smtp_send(smtpd.port, rcpt_to=["x@relay.test"], starttls=True,
                           tls_context=client_tls_context(cert=stranger))
        self.assertTrue(result.ok, result)
        smtpd.wait_log(r"Untrusted TLS connection established from unknown\[127\.0\.0\.1\]: TLSv1\.3", offset)
        smtpd.wait_log(r"unknown\[127\.0\.0\.1\]: client certificate fingerprint=([0-9A-F]{2}:){31}[0-9A-F]{2} ",
                       offset)

    def test_ask_ccert_with_a_trusted_certificate(self):
        smtpd = self.start_tls_smtpd(ask_ccert=True, ca_file=self.certs.ca.cert)
        offset = smtpd.log_offset()
        result = smtp_send(smtpd.port, rcpt_to=["x@relay.test"], starttls=True,
                           tls_context=client_tls_context(cert=self.certs.client()))
        self.assertTrue(result.ok, result)
        smtpd.wait_log(r"Trusted TLS connection established from unknown\[127\.0\.0\.1\]", offset)


class StarttlsProtocolTest(TlsTestCase):
    def tls_wrap(self, client):
        context = client_tls_context()
        client.sock = context.wrap_socket(client.sock)
        self.assertEqual(client.buffer, b"")

    def test_plaintext_pipelined_behind_starttls_is_thrown_away(self):
        smtpd = self.start_tls_smtpd()
        offset = smtpd.log_offset()
        with RawSmtp(smtpd.port) as c:
            c.expect("220")
            c.expect("250", "EHLO plain.test")
            c.send("STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\nRCPT TO:<x@relay.test>\r\n")
            self.assertReply(c.reply(), "220", "2.0.0 Ready to start TLS")
            self.tls_wrap(c)
            # The first reply over TLS answers our EHLO: nothing injected ran.
            self.assertReply(c.command("EHLO tls.test"), "250-mx.postern.test")
            self.assertReply(c.command("RCPT TO:<x@relay.test>"), "503", "need MAIL command")
            c.expect("250", "MAIL FROM:<real@sender.test>")
            c.expect("250", "RCPT TO:<x@relay.test>")
            c.expect("354", "DATA")
            c.send("Subject: tls\r\n\r\nsecret\r\n.\r\n")
            reply = c.reply()
            self.assertReply(reply, "250", "queued as")
        message = smtpd.read(queued_id(reply))
        self.assertEqual(message.sender, "real@sender.test")
        smtpd.wait_log(r"disconnect from .* ehlo=2 starttls=1 mail=1 rcpt=1/2 data=1 commands=6/7$", offset)
        self.assertFalse([line for line in smtpd.log_lines(offset) if "injected" in line])

    def test_state_is_reset_and_a_second_starttls_refused(self):
        smtpd = self.start_tls_smtpd()
        with RawSmtp(smtpd.port) as c:
            c.expect("220")
            self.assertIn("STARTTLS", c.expect("250", "EHLO plain.test"))
            c.expect("250", "MAIL FROM:<before@sender.test>")
            c.expect("220", "STARTTLS")
            self.tls_wrap(c)
            self.assertReply(c.command("RCPT TO:<x@relay.test>"), "503")  # the MAIL is forgotten
            ehlo = c.expect("250", "EHLO tls.test")
            self.assertNotIn("STARTTLS", ehlo)
            self.assertEqual(c.command("STARTTLS"), "554 5.5.1 Error: TLS already active\r\n")

    def test_encrypt_requires_starttls(self):
        smtpd = self.start_tls_smtpd(security_level="encrypt")
        with RawSmtp(smtpd.port) as c:
            c.expect("220")
            c.expect("250", "EHLO plain.test")
            self.assertEqual(c.command("MAIL FROM:<a@sender.test>"),
                             "530 5.7.0 Must issue a STARTTLS command first\r\n")
            c.expect("220", "STARTTLS")
            self.tls_wrap(c)
            c.expect("250", "EHLO tls.test")
            c.expect("250", "MAIL FROM:<a@sender.test>")
        self.assertTrue(smtp_send(smtpd.port, rcpt_to=["x@relay.test"], starttls=True).ok)

    def test_a_failed_handshake_is_logged_and_harmless(self):
        smtpd = self.start_tls_smtpd()
        offset = smtpd.log_offset()
        with RawSmtp(smtpd.port) as c:
            c.expect("220")
            c.expect("220", "STARTTLS")
            c.send(b"this is not a TLS ClientHello\r\n" * 4)
            self.assertTrue(c.closed())
        smtpd.wait_log(r"SSL_accept error from unknown\[127\.0\.0\.1\]: ", offset)
        smtpd.wait_log(r"lost connection after STARTTLS from unknown\[127\.0\.0\.1\]", offset)
        self.assertTrue(smtp_send(smtpd.port, rcpt_to=["x@relay.test"], starttls=True).ok)
