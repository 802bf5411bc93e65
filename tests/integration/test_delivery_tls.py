"""test_delivery_tls.py: the smtp worker's TLS per route policy, against a scripted server.

The reason postern exists: a fresh TLS context per connection, so a CertificateRequest is
answered with an empty Certificate on every connection unless the route names a client
certificate, and a server that cuts the connection when it gets a certificate (as Exchange
Online did) takes every message. Plus the levels: may falls back to plaintext once,
encrypt/verify/secure defer and never send in plaintext; a server's plaintext pipelined
behind its "220" to STARTTLS is never believed.
"""
import os
import shutil
import subprocess
import unittest

from harness import PosternTestCase
from harness.smtpworker import SmtpWorker

MESSAGE = "From: a@example.test\r\nSubject: tls\r\nMessage-ID: <{n}@example.test>\r\n\r\nbody {n}\r\n"
TLS_LINE = r"{trust} TLS connection established to {peer}:{port}: TLSv1\.[23] with cipher \S+"


class DeliveryTlsTest(PosternTestCase):
    def worker(self, **config):
        return SmtpWorker(self.registry, **config).start()

    def deliver(self, worker, sink, n=0, address="ok@example.test", nexthop=None, **fields):
        results, done = worker.deliver(MESSAGE.format(n=n), [address], nexthop or f"[127.0.0.1]:{sink.port}",
                                       **fields)
        self.assertTrue(done)
        return results[address]

    def test_consecutive_deliveries_answer_every_certificate_request_empty(self):
        # Without the connection cache: 100 connections, 100 fresh contexts, 100 handshakes
        # (test_delivery_cache covers the same through cached connections).
        for mode in ("request", "kill"):
            with self.subTest(client_certs=mode):
                sink = self.mail_sink(cert=self.certs.server(), client_certs=mode, client_ca=self.certs.ca.cert)
                worker = self.worker(smtp={"connection_cache": False}) if mode == "request" else worker
                offset = worker.log_offset()
                for n in range(100):
                    result = self.deliver(worker, sink, n, tls_level="may")
                    self.assertEqual(result["status"], "sent", (n, result))
                messages = sink.wait_messages(100)
                self.assertTrue(all(m.tls and not m.client_cert_presented for m in messages))
                self.assertEqual(len(sink.sessions), 100, "one connection per delivery, no retries")
                self.assertFalse([s.killed for s in sink.sessions if s.killed])
                lines = worker.log_lines(offset)
                untrusted = [l for l in lines if "Untrusted TLS connection established to 127.0.0.1[127.0.0.1]" in l]
                self.assertEqual(len(untrusted), 100, "\n".join(lines[-5:]))

    def test_route_client_certificate_is_sent_when_named(self):
        client = self.certs.client()
        sink = self.mail_sink(cert=self.certs.server(), client_certs="request", client_ca=self.certs.ca.cert)
        worker = self.worker()
        result = self.deliver(worker, sink, tls_level="may", tls_cert_file=client.chain, tls_key_file=client.key)
        self.assertEqual(result["status"], "sent", result)
        [message] = sink.wait_messages(1)
        self.assertTrue(message.tls and message.client_cert_presented)
        # The next connection of the same process, without a certificate on its route, sends none.
        self.assertEqual(self.deliver(worker, sink, 1, tls_level="may")["status"], "sent")
        self.assertFalse(sink.wait_messages(2)[1].client_cert_presented)

    def test_may_retries_in_plaintext_after_a_failed_handshake(self):
        sink = self.mail_sink(cert=self.certs.server(), starttls="break")
        worker = self.worker()
        result = self.deliver(worker, sink, tls_level="may")
        self.assertEqual(result["status"], "sent", result)
        [message] = sink.wait_messages(1)
        self.assertFalse(message.tls)
        self.assertEqual(len(sink.sessions), 2)
        worker.wait_log(rf"warning: TLS handshake failed with 127\.0\.0\.1\[127\.0\.0\.1\]:{sink.port}: .*; "
                        r"retrying without TLS")

    def test_encrypt_never_sends_in_plaintext(self):
        plain = self.mail_sink()
        refusing = self.mail_sink(cert=self.certs.server(), starttls="refuse")
        breaking = self.mail_sink(cert=self.certs.server(), starttls="break")
        worker = self.worker()
        result = self.deliver(worker, plain, tls_level="encrypt")
        self.assertEqual((result["status"], result["dsn"]), ("deferred", "4.7.4"))
        self.assertEqual(result["reply"], "TLS is required, but was not offered by host 127.0.0.1[127.0.0.1]")
        result = self.deliver(worker, refusing, tls_level="encrypt")
        self.assertEqual(result["status"], "deferred")
        self.assertEqual(result["reply"], "TLS is required, but host 127.0.0.1[127.0.0.1] refused to start TLS: "
                                          "454 4.7.0 TLS not available due to local problem")
        result = self.deliver(worker, breaking, tls_level="encrypt")
        self.assertEqual((result["status"], result["dsn"]), ("deferred", "4.7.5"))
        self.assertEqual(result["reply"], "Cannot start TLS: handshake failure")
        for sink in (plain, refusing, breaking):
            sink.wait_sessions(1)
            self.assertEqual(sink.messages, [])
            commands = [c.split()[0].upper() for s in sink.sessions for c in s.commands]
            self.assertNotIn("MAIL", commands)
        self.assertEqual(len(breaking.sessions), 1, "no plaintext retry at encrypt")

    def test_verify_checks_chain_and_name(self):
        dns = self.dnsmasq(hosts=[("mx.test", "127.0.0.1"), ("wrong.test", "127.0.0.1")])
        good = self.mail_sink(cert=self.certs.server("mx", "mx.test", ("mx.test",)))
        worker = self.worker(dns_servers=[dns.server])
        ca = self.certs.ca.cert
        result = self.deliver(worker, good, nexthop=f"[mx.test]:{good.port}", tls_level="verify", tls_ca_file=ca)
        self.assertEqual(result["status"], "sent", result)
        worker.wait_log(TLS_LINE.format(trust="Verified", peer=r"mx\.test\[127\.0\.0\.1\]", port=good.port))
        result = self.deliver(worker, good, nexthop=f"[wrong.test]:{good.port}", tls_level="verify", tls_ca_file=ca)
        self.assertEqual((result["status"], result["dsn"]), ("deferred", "4.7.5"))
        self.assertEqual(result["reply"], "Server certificate not verified")
        ca_dir = os.path.join(self.tmp, "ca-dir")  # a route's CA directory (tls_ca_path)
        os.makedirs(ca_dir)
        shutil.copy(ca, ca_dir)
        subprocess.run(["openssl", "rehash", ca_dir], check=True, capture_output=True)
        result = self.deliver(worker, good, nexthop=f"[mx.test]:{good.port}", tls_level="verify", tls_ca_path=ca_dir)
        self.assertEqual(result["status"], "sent", result)
        result = self.deliver(worker, good, nexthop=f"[mx.test]:{good.port}", tls_level="secure")
        self.assertEqual(result["status"], "deferred", "the system store does not know the test CA")
        self.assertEqual(result["reply"], "Server certificate not trusted")
        self.assertEqual(len(good.messages), 2)

    def test_plaintext_behind_the_starttls_reply_is_not_believed(self):
        def inject(session, line):
            if line.upper() != "STARTTLS":
                return None
            session.send_raw(b"220 2.0.0 Ready to start TLS\r\n250-sink.test\r\n250 SIZE 10\r\n")
            session._buf, session._pos = bytearray(), 0
            session._handshake()
            return b""

        sink = self.mail_sink(cert=self.certs.server(), hook=inject)
        worker = self.worker()
        result = self.deliver(worker, sink, tls_level="encrypt")
        self.assertEqual(result["status"], "sent", result)
        [message] = sink.wait_messages(1)
        self.assertTrue(message.tls)


if __name__ == "__main__":
    unittest.main()
