"""test_delivery_cache.py: the smtp worker's connection cache (docs/DELIVERY.md, "Connection
reuse"), with the test playing qmgr (harness/smtpworker) and a MailSink or a real Postfix as
the receiving MTA.

Two deliveries in a row to one next hop share one connection (the second starts at MAIL
FROM and logs conn_use=2); a different TLS policy or a client certificate never shares a
connection; a cached connection the server closed, or that fails at MAIL FROM, is replaced
without a deferral; idle connections get QUIT after connection_cache_time_limit and when the
worker stops; a Postfix asking every client for a certificate sees only anonymous
handshakes through cached connections; pflogsumm reads the conn_use= lines.
"""
import os
import re
import subprocess
import unittest

from harness import PosternTestCase
from harness.smtpworker import SmtpWorker

MESSAGE = "From: a@example.test\r\nSubject: cache {n}\r\nMessage-ID: <{n}.cache@example.test>\r\n\r\nbody {n}\r\n"
PFLOGSUMM = "/usr/sbin/pflogsumm"


def verbs(session):
    """The command verbs of one sink session, in order."""
    return [c.split(" ", 1)[0].upper() for c in session.commands]


class DeliveryCacheTest(PosternTestCase):
    def worker(self, **smtp):
        return SmtpWorker(self.registry, smtp=smtp).start()

    def deliver(self, worker, sink, n, **fields):
        address = fields.pop("address", "ok@example.test")
        results, done = worker.deliver(MESSAGE.format(n=n), [address], f"[127.0.0.1]:{sink.port}", **fields)
        self.assertTrue(done)
        self.assertEqual(results[address]["status"], "sent", (n, results))
        return results[address]

    def test_two_messages_in_a_row_share_one_connection(self):
        sink = self.mail_sink()
        worker = self.worker(connection_cache_time_limit=30)
        offset = worker.log_offset()
        self.deliver(worker, sink, 1)
        self.deliver(worker, sink, 2)
        self.assertEqual(len(sink.wait_messages(2)), 2)
        [session] = sink.sessions
        self.assertEqual(verbs(session), ["EHLO", "MAIL", "RCPT", "DATA", "MAIL", "RCPT", "DATA"])
        lines = [l for l in worker.log_lines(offset) if "to=<ok@example.test>" in l]
        self.assertNotIn("conn_use=", lines[0])
        self.assertRegex(lines[1], rf"relay=127\.0\.0\.1\[127\.0\.0\.1\]:{sink.port}, conn_use=2, delay=")
        # A stopping worker says QUIT on its idle connections.
        worker.stop()
        sink.wait_sessions(1, ended=True)
        self.assertEqual(verbs(session)[-1], "QUIT")

    def test_an_idle_connection_gets_quit_after_the_time_limit(self):
        sink = self.mail_sink()
        worker = self.worker(connection_cache_time_limit=1)
        self.deliver(worker, sink, 1)
        [session] = sink.wait_sessions(1, timeout=5, ended=True)
        self.assertEqual(verbs(session)[-1], "QUIT")
        self.assertLess(session.ended - session.started, 4)
        self.deliver(worker, sink, 2)  # a new connection: the old one is gone
        self.assertEqual(len(sink.wait_sessions(2, ended=False)), 2)

    def test_another_tls_policy_or_a_client_certificate_never_shares_a_connection(self):
        sink = self.mail_sink(cert=self.certs.server(), client_certs="request", client_ca=self.certs.ca.cert)
        client = self.certs.client()
        worker = self.worker(connection_cache_time_limit=30)
        with_cert = {"tls_cert_file": client.chain, "tls_key_file": client.key}
        self.deliver(worker, sink, 1, tls_level="may")
        self.deliver(worker, sink, 2, tls_level="encrypt")
        self.deliver(worker, sink, 3, tls_level="may", **with_cert)
        self.deliver(worker, sink, 4, tls_level="may")  # the first connection again
        self.deliver(worker, sink, 5, tls_level="may", **with_cert)  # the third again
        messages = sink.wait_messages(5)
        self.assertEqual(len(sink.sessions), 3)
        by_subject = {re.search(rb"Subject: cache (\d)", m.data).group(1).decode(): m for m in messages}
        self.assertEqual([by_subject[n].session_id for n in "12345"],
                         [sink.sessions[i].id for i in (0, 1, 2, 0, 2)])
        self.assertEqual([by_subject[n].client_cert_presented for n in "12345"], [False, False, True, False, True])
        self.assertTrue(all(m.tls for m in messages))

    def test_a_connection_the_server_closed_is_replaced_without_a_deferral(self):
        mails = {}

        def hook(session, line):  # the second MAIL on a connection: 421, or a hang-up
            if not line.upper().startswith("MAIL"):
                return None
            mails[session.id] = mails.get(session.id, 0) + 1
            if mails[session.id] < 2:
                return None
            if session.id == 1:
                return "421 4.4.2 sink.test Error: timeout exceeded"
            session.abort()

        sink = self.mail_sink(hook=hook)
        worker = self.worker(connection_cache_time_limit=30)
        offset = worker.log_offset()
        for n in range(3):  # connection 1; 1 again (421), then 2; 2 again (hang-up), then 3
            self.deliver(worker, sink, n)
        self.assertEqual(len(sink.wait_messages(3)), 3)
        self.assertEqual(len(sink.sessions), 3)
        lines = worker.log_lines(offset)
        self.assertFalse([l for l in lines if "status=deferred" in l], lines)
        self.assertEqual(len([l for l in lines if "no longer usable" in l and "connecting afresh" in l]), 2, lines)
        # And one the server closed while it was idle is simply dropped: a new one, no warning.
        sink.sessions[-1].kill("closing an idle connection")
        sink.wait_sessions(3, ended=True)
        self.deliver(worker, sink, 3)
        self.assertEqual(len(sink.sessions), 4)
        self.assertEqual(len([l for l in worker.log_lines(offset) if "no longer usable" in l]), 2)

    def test_postfix_asking_for_certificates_sees_only_anonymous_handshakes(self):
        postfix = self.postfix(cert=self.certs.server(), ask_ccert=True)
        worker = SmtpWorker(self.registry, processes=2, smtp={"connection_cache_time_limit": 30}).start()
        offset, worker_offset = postfix.log_offset(), worker.log_offset()
        count = 200
        # two streams at once, so both worker processes cache connections
        failures = worker.deliver_in_streams(MESSAGE, count, "b@example.test", f"[127.0.0.1]:{postfix.port}",
                                             tls_level="may")
        self.assertEqual(failures, [])
        self.wait_for(lambda: postfix.count_log(r"status=sent", offset) >= count, 30, "Postfix to take every message")
        connections = postfix.count_log(r"postfix/smtpd\[\d+\]: connect from", offset)
        anonymous = postfix.count_log(r"Anonymous TLS connection established from", offset)
        self.assertEqual(postfix.count_log(r"(Untrusted|Trusted|Verified) TLS connection established", offset), 0)
        self.assertEqual(anonymous, connections, "one anonymous handshake per connection")
        self.assertLess(connections, count // 4, "connections were reused")
        reused = [l for l in worker.log_lines(worker_offset) if re.search(r"conn_use=\d+, ", l)]
        self.assertGreater(len(reused), count // 2)

    @unittest.skipUnless(os.access(PFLOGSUMM, os.X_OK), "pflogsumm is not installed")
    def test_pflogsumm_counts_deliveries_over_a_reused_connection(self):
        sink = self.mail_sink()
        mx = self.start_postern(routes=({"domain": "*", "nexthop": f"[127.0.0.1]:{sink.port}"},),
                                services=({"name": "smtp", "processes": 1},),
                                smtp={"connection_cache_time_limit": 30})
        for n in range(3):
            sent = mx.send(mail_from="a@example.test", rcpt_to=[f"ok{n}@far.test"])
            self.assertTrue(sent.ok, sent)
            mx.wait_log(rf"{sent.queue_id}: to=<ok{n}@far.test>.*status=sent")
        self.assertEqual(len(sink.sessions), 1)
        self.assertTrue([l for l in mx.log_lines() if "conn_use=3, delay=" in l])
        done = subprocess.run([PFLOGSUMM, "--syslog-name=postern", mx.log_path], capture_output=True, text=True,
                              timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)
        totals = dict((name, int(count)) for count, name in
                      re.findall(r"^\s+(\d+)\s+(received|delivered|deferred|bounced)\b", done.stdout, re.MULTILINE))
        self.assertEqual(totals, {"received": 3, "delivered": 3, "deferred": 0, "bounced": 0}, done.stdout)


if __name__ == "__main__":
    unittest.main()
