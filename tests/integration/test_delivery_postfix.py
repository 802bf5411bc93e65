"""test_delivery_postfix.py: the smtp worker delivering to a real Postfix that asks every
client for a certificate (smtpd_tls_ask_ccert = yes), as Exchange Online does.

The property postern exists for: without a client certificate on the route, every
connection of every worker process answers the CertificateRequest with an empty Certificate,
so Postfix logs "Anonymous TLS connection established" for each one and "Untrusted" for
none; with a route that names a certificate, Postfix sees it. The connection cache is off
here, so every message is a new connection with a fresh context (test_delivery_cache covers
the same through cached connections).
"""
import re
import unittest

from harness import PosternTestCase
from harness.smtpworker import SmtpWorker

MESSAGE = "From: a@example.test\r\nTo: b@example.test\r\nSubject: {n}\r\nMessage-ID: <{n}.pf@example.test>\r\n\r\nbody {n}\r\n"
COUNT = 200


class DeliveryToPostfixTest(PosternTestCase):
    def test_every_connection_is_anonymous_with_two_workers(self):
        postfix = self.postfix(cert=self.certs.server(), ask_ccert=True)
        worker = SmtpWorker(self.registry, processes=2, smtp={"connection_cache": False}).start()
        offset = postfix.log_offset()
        # consecutive deliveries, two streams at once so both workers work
        failures = worker.deliver_in_streams(MESSAGE, COUNT, "b@example.test", f"[127.0.0.1]:{postfix.port}",
                                             tls_level="may")
        self.assertEqual(failures, [])
        self.wait_for(lambda: postfix.count_log(r"status=sent", offset) >= COUNT, 30, "Postfix to take every message")
        self.assertEqual(postfix.count_log(r"Anonymous TLS connection established from", offset), COUNT)
        self.assertEqual(postfix.count_log(r"(Untrusted|Trusted|Verified) TLS connection established", offset), 0)
        pids = {m.group(1) for m in (re.search(r"postern/smtp\[(\d+)\]: \S+: to=", l) for l in worker.log_lines()) if m}
        self.assertEqual(len(pids), 2, f"both workers delivered: {pids}")

    def test_a_route_with_a_client_certificate_shows_it(self):
        postfix = self.postfix(cert=self.certs.server(), ask_ccert=True, ca_file=self.certs.ca.cert)
        client = self.certs.client()
        worker = SmtpWorker(self.registry).start()
        offset = postfix.log_offset()
        results, _ = worker.deliver(MESSAGE.format(n="cert"), ["b@example.test"], f"[127.0.0.1]:{postfix.port}",
                                    tls_level="encrypt", tls_cert_file=client.chain, tls_key_file=client.key)
        self.assertEqual(results["b@example.test"]["status"], "sent", results)
        postfix.wait_log(r"(Untrusted|Trusted) TLS connection established from", offset)
        self.assertEqual(postfix.count_log(r"Anonymous TLS connection established from", offset), 0)


if __name__ == "__main__":
    unittest.main()
