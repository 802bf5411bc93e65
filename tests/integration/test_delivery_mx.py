"""test_delivery_mx.py: how the smtp worker finds its servers, with DNS from dnsmasq.

MX hosts in preference order, the next one when a host is down (127.0.0.4: nothing listens),
a domain without MX delivered to its A record, null MX and NXDOMAIN bounced, an MX list
naming ourselves, route hosts (host:port, MX lookup then A), and the limits
smtp.mx_address_limit and smtp.mx_session_limit.
"""
import unittest

from harness import MailSink, PosternTestCase
from harness.smtpworker import SmtpWorker

MESSAGE = "From: a@example.test\r\nSubject: mx\r\n\r\nbody\r\n"


class DeliveryMxTest(PosternTestCase):
    def setUp(self):
        super().setUp()
        # Two servers on one port of two loopback addresses: an MX record names a host, and
        # the port comes from the route ("mx:PORT").
        self.mx1 = self.mail_sink(host="127.0.0.2", hostname="mx1.test")
        self.port = self.mx1.port
        self.mx2 = self.registry.add(MailSink(host="127.0.0.3", port=self.port, hostname="mx2.test").start())
        self.dns = self.dnsmasq(
            mx=[("pref.test", "mx2.test", 20), ("pref.test", "mx1.test", 10),
                ("down.test", "dead.test", 10), ("down.test", "mx2.test", 20),
                ("null.test", ".", 0), ("loop.test", "postern.test", 10),
                ("backup.test", "postern.test", 20), ("backup.test", "mx1.test", 10),
                ("twice.test", "mx1.test", 10), ("twice.test", "mx2.test", 20)],
            hosts=[("mx1.test", "127.0.0.2"), ("mx2.test", "127.0.0.3"), ("dead.test", "127.0.0.4"),
                   ("nomx.test", "127.0.0.3"), ("relay.test", "127.0.0.2")],
            extra_args=["--local=/test/"])

    def worker(self, **smtp):
        return SmtpWorker(self.registry, dns_servers=[self.dns.server], smtp=smtp).start()

    def deliver(self, worker, domain, nexthop=None, address=None):
        address = address or f"user@{domain}"
        results, done = worker.deliver(MESSAGE, [address], nexthop or f"mx:{self.port}", domain=domain)
        self.assertTrue(done)
        return results[address]

    def test_preference_order_and_the_next_mx_when_one_is_down(self):
        worker = self.worker()
        for _ in range(3):
            self.assertEqual(self.deliver(worker, "pref.test")["status"], "sent")
        self.assertEqual((len(self.mx1.messages), len(self.mx2.messages)), (3, 0))
        offset = worker.log_offset()
        result = self.deliver(worker, "down.test")
        self.assertEqual(result["status"], "sent", result)
        self.assertEqual(result["relay"], f"mx2.test[127.0.0.3]:{self.port}")
        self.assertEqual(len(self.mx2.messages), 1)
        worker.wait_log(rf"connect to dead\.test\[127\.0\.0\.4\]:{self.port}: Connection refused", offset)

    def test_a_record_when_there_is_no_mx_and_route_hosts(self):
        worker = self.worker()
        result = self.deliver(worker, "nomx.test")
        self.assertEqual((result["status"], result["relay"]), ("sent", f"nomx.test[127.0.0.3]:{self.port}"))
        result = self.deliver(worker, "far.test", nexthop=f"relay.test:{self.port}")
        self.assertEqual((result["status"], result["relay"]), ("sent", f"relay.test[127.0.0.2]:{self.port}"))
        result = self.deliver(worker, "far.test", nexthop=f"[mx2.test]:{self.port}")
        self.assertEqual((result["status"], result["relay"]), ("sent", f"mx2.test[127.0.0.3]:{self.port}"))

    def test_dns_failures(self):
        worker = self.worker()
        result = self.deliver(worker, "null.test")
        self.assertEqual((result["status"], result["dsn"], result["relay"]), ("bounced", "5.1.10", "none"))
        self.assertEqual(result["reply"], "Recipient address has null MX")
        result = self.deliver(worker, "nothere.test")
        self.assertEqual((result["status"], result["dsn"]), ("bounced", "5.4.4"))
        self.assertEqual(result["reply"], "Host or domain name not found. Name service error for "
                                          "name=nothere.test type=MX: Host not found")
        result = self.deliver(worker, "far.test", nexthop=f"norelay.test:{self.port}")
        self.assertEqual((result["status"], result["dsn"]), ("deferred", "4.4.4"),
                         "a route's own host that does not resolve defers")
        result = self.deliver(worker, "loop.test")
        self.assertEqual((result["status"], result["dsn"]), ("bounced", "5.4.6"))
        self.assertEqual(result["reply"], "mail for loop.test loops back to myself")
        self.assertEqual(self.deliver(worker, "backup.test")["status"], "sent", "a better MX than us is fine")

    def test_address_and_session_limits(self):
        worker = self.worker(mx_address_limit=1)
        result = self.deliver(worker, "down.test")
        self.assertEqual(result["status"], "deferred")
        self.assertEqual(result["reply"], f"connect to dead.test[127.0.0.4]:{self.port}: Connection refused")
        self.assertEqual(self.mx2.sessions, [])
        for sink in (self.mx1, self.mx2):
            sink.greeting = "421 4.3.2 busy"
        limited = self.worker(mx_session_limit=1)
        result = self.deliver(limited, "twice.test")
        self.assertEqual(result["status"], "deferred")
        self.assertEqual(result["reply"], "host mx1.test[127.0.0.2] refused to talk to me: 421 4.3.2 busy")
        self.assertEqual((len(self.mx1.sessions), len(self.mx2.sessions)), (1, 0))
        unlimited = self.worker(mx_session_limit=0)
        result = self.deliver(unlimited, "twice.test")
        self.assertEqual(result["reply"], "host mx2.test[127.0.0.3] refused to talk to me: 421 4.3.2 busy")
        self.assertEqual((len(self.mx1.sessions), len(self.mx2.sessions)), (2, 1))


if __name__ == "__main__":
    unittest.main()
