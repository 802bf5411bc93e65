"""test_delivery_master.py: the whole way, under master: smtpd takes the mail, qmgr routes it,
two smtp workers deliver it to a Postfix that asks every client for a certificate.

The property postern exists for, with everything real: 200 messages, every one of Postfix's
connections "Anonymous" (the CertificateRequest answered empty), none "Untrusted"; and the
same after `postern reload` has replaced the workers. The workers' connection cache carries
many messages per connection: each connection has its one handshake.
"""
import re
import unittest

from harness import PosternTestCase

FIRST, SECOND = 200, 50


class DeliveryUnderMasterTest(PosternTestCase):
    def test_every_connection_is_anonymous_before_and_after_a_reload(self):
        postfix = self.postfix(cert=self.certs.server(), ask_ccert=True,
                               main_cf={"default_process_limit": "100"})
        mx = self.postern(routes=({"domain": "*", "nexthop": f"[127.0.0.1]:{postfix.port}",
                                   "tls": {"security_level": "may"}},),
                          services=({"name": "smtp", "processes": 2},))
        mx.start()
        offset = postfix.log_offset()
        self._send(mx, 0, FIRST)
        self._wait_anonymous(postfix, offset, FIRST)
        workers = set(mx.children("smtp"))
        self.assertEqual(len(workers), 2)

        mx.reload()
        self.wait_for(lambda: len(set(mx.children("smtp")) - workers) == 2, 30, "two new smtp workers")
        offset = postfix.log_offset()
        self._send(mx, FIRST, FIRST + SECOND)
        self._wait_anonymous(postfix, offset, SECOND)

    def _send(self, mx, first, end):
        for n in range(first, end):
            result = mx.send(rcpt_to=[f"user{n}@far.example"], subject=f"message {n}")
            self.assertTrue(result.ok, result)

    def _wait_anonymous(self, postfix, offset, count):
        """Waits for COUNT messages taken by Postfix after OFFSET; checks each connection was anonymous."""
        def lines():
            with open(postfix.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace").splitlines()

        self.wait_for(lambda: sum("status=sent" in line for line in lines()) >= count, 120,
                      f"Postfix to take {count} messages")
        established = [line for line in lines() if re.search(r"TLS connection established from", line)]
        connections = [line for line in lines() if re.search(r"postfix/smtpd\[\d+\]: connect from", line)]
        self.assertGreaterEqual(len(established), 1)
        self.assertEqual(len(established), len(connections), "one handshake per connection")
        self.assertEqual([line for line in established if "Anonymous TLS" not in line], [])


if __name__ == "__main__":
    unittest.main()
