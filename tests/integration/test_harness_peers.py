"""test_harness_peers.py: checks the harness's wrappers of the real peers and of postern.

smtp-source into smtp-sink, dnsmasq answering MX queries, a throw-away Postfix with
STARTTLS and as a relay, and the Postern helper (against fake_postern.py, and against the
real daemons once they are built).
"""
import os
import socket
import sys
import time
import unittest
from unittest import mock

from harness import PosternTestCase, new_message_id
from harness import procfs
from harness.postern import Postern, postern_binary


class DebianPeersTest(PosternTestCase):
    """smtp-source, smtp-sink and dnsmasq."""

    def test_smtp_source_delivers_n_messages_to_smtp_sink(self):
        sink = self.smtp_sink()
        rc, output = self.smtp_source(sink.port, sessions=4, messages=40, size=2000)
        self.assertEqual(rc, 0, output)
        self.assertEqual(sink.wait_messages(40)["mesg"], 40)
        self.wait_for(lambda: len(sink.message_files()) == 40, 10, "40 dump files")
        self.assertEqual(len(sink.message_ids()), 40)
        self.assertEqual(sink.messages()[0]["X-Mail-Args"], "<source@example.test>")

    def test_smtp_sink_exits_after_n_messages(self):
        sink = self.smtp_sink(exit_after=5, dump=False)
        # smtp-sink may leave before answering the last QUIT: smtp-source's rc is not checked.
        self.smtp_source(sink.port, messages=5)
        self.assertEqual(sink.wait_exit(10), 0)
        self.assertEqual(sink.counts()["mesg"], 5)

    def test_dnsmasq_answers_mx_and_a_queries(self):
        server = self.dnsmasq(mx=[("example.test", "mx1.example.test", 10), ("example.test", "mx2.example.test", 20)],
                              hosts=[("mx1.example.test", "127.0.0.2")])
        reply = server.query("example.test", "MX")
        self.assertEqual(reply.rcode, "NOERROR")
        self.assertEqual(sorted(reply.values("MX")), [(10, "mx1.example.test"), (20, "mx2.example.test")])
        self.assertEqual(server.query("mx1.example.test", "A").values("A"), ["127.0.0.2"])
        self.assertEqual(server.query("nothing.example.test", "A").values("A"), [])


class PostfixInstanceTest(PosternTestCase):
    """The throw-away Postfix: STARTTLS receiver with a CertificateRequest, and relay."""

    def test_starttls_anonymous_then_trusted_client(self):
        instance = self.postfix(cert=self.certs.server(), ca_file=self.certs.ca.cert)
        rc, transcript = self.swaks(instance.port, tls=True)
        self.assertEqual(rc, 0, transcript)
        instance.wait_log(r"Anonymous TLS connection established from")
        instance.wait_log(r"status=sent")
        offset = instance.log_offset()
        rc, transcript = self.swaks(instance.port, tls_cert=self.certs.client())
        self.assertEqual(rc, 0, transcript)
        instance.wait_log(r"Trusted TLS connection established from", offset)
        master = instance.master
        instance.stop()
        self.assertFalse(procfs.alive(master))
        self.assertIsNone(_greeting_or_none(instance.port))

    def test_relays_to_a_sink(self):
        sink = self.mail_sink()
        instance = self.postfix(relay_to=sink.address)
        message_id = new_message_id()
        rc, transcript = self.swaks(instance.port, to="ok@far.test", headers={"Message-ID": message_id})
        self.assertEqual(rc, 0, transcript)
        [message] = sink.wait_messages(1, timeout=20)
        self.assertEqual((message.rcpt_to, message.message_id), (["ok@far.test"], message_id))
        instance.wait_log(r"status=sent .*250 2\.0\.0 Ok: queued as S1")

class PosternHelperTest(PosternTestCase):
    """The Postern helper's life cycle, against fake_postern.py posing as the build."""

    def setUp(self):
        """A fake build folder: sbin/postern runs fake_postern.py; libexec/postern has the names."""
        super().setUp()
        build = os.path.join(self.tmp, "fake-build")
        libexec = os.path.join(build, "libexec", "postern")
        os.makedirs(libexec)
        os.makedirs(os.path.join(build, "sbin"))
        fake = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_postern.py")
        _write_program(os.path.join(build, "sbin", "postern"), f'exec {sys.executable} {fake} "$@"\n')
        for service in ("master", "smtpd", "qmgr", "smtp"):
            _write_program(os.path.join(libexec, service), "exit 1\n")
        environment = mock.patch.dict(os.environ, {"POSTERN_BUILD_DIR": build, "FAKE_POSTERN_LIBEXEC": libexec})
        environment.start()
        self.addCleanup(environment.stop)

    def test_start_children_send_reload_stop(self):
        instance = self.start_postern()
        self.assertEqual(instance.cli("status")[0], 0)
        def every_service():
            found = instance.service_pids()
            return found if all(found.values()) else None
        pids = self.wait_for(every_service, 5, "a child of each service")
        self.assertEqual([len(pids[s]) for s in ("smtpd", "qmgr", "smtp")], [1, 1, 2])
        self.assertEqual(instance.master_pid(), instance.process.pid)
        offset = instance.log_offset()
        result = instance.send(rcpt_to=["someone@far.test"])
        self.assertEqual((result.ok, result.queue_id), (True, "FAKE1"))
        instance.wait_log(r"FAKE1: client=localhost", offset)
        self.assertEqual(instance.all_queue_files()["deferred"], [])
        instance.reload()
        instance.wait_log(r"master\[\d+\]: reload", offset)
        children = [procfs.read(pid) for pid in sum(pids.values(), [])]
        self.assertEqual(instance.stop(), 0)
        self.assertFalse(any(procfs.alive(child) for child in children))
        self.assertNotEqual(instance.cli("status")[0], 0)

    def test_a_master_that_dies_fails_start_with_its_output(self):
        instance = self.postern(queue_directory="/proc/no-queue-here")
        started = time.monotonic()
        with self.assertRaisesRegex(AssertionError, r"(?s)postern-master exited \(rc 1\).*no-queue-here"):
            instance.start()
        self.assertLess(time.monotonic() - started, 10)


class PosternSmokeTest(PosternTestCase):
    """The Postern helper against the real postern."""

    def test_written_configuration_passes_postern_check(self):
        self.require_built(postern_binary())
        server = self.certs.server()
        instance = Postern(self.registry, dns_servers=["127.0.0.1:53"],
                           smtpd={"tls": {"security_level": "may", "ask_ccert": True, "cert_file": server.chain,
                                          "key_file": server.key}},
                           routes=({"domain": "*", "nexthop": "[127.0.0.1]:25"},))
        instance.write_config()
        rc, out, err = instance.cli("check")
        self.assertEqual(rc, 0, err)
        rc, out, err = instance.cli("config", "-n")
        self.assertIn(f"smtpd.listen = 127.0.0.1:{instance.port}", out)
        self.assertIn("qmgr.queue_run_delay = 1", out)

    def test_start_send_deliver_stop(self):
        sink = self.mail_sink()
        instance = self.postern(routes=({"domain": "*", "nexthop": f"[127.0.0.1]:{sink.port}"},))
        instance.start()
        self.assertEqual(instance.cli("status")[0], 0)
        for service in ("smtpd", "qmgr", "smtp"):
            self.wait_for(lambda: instance.children(service), 10, f"a {service} child of master")
        result = instance.send(rcpt_to=["ok@far.test"])
        self.assertTrue(result.ok, result)
        self.assertEqual(sink.wait_messages(1, timeout=30)[0].message_id, result.message_id)
        instance.wait_log(rf"{result.queue_id}: to=<ok@far.test>, relay=.*status=sent")
        instance.stop()
        self.assertNotEqual(instance.cli("status")[0], 0)

def _write_program(path, body):
    """Writes an executable shell script."""
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)

def _greeting_or_none(port):
    """What a server on port says first, or None when nothing listens."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            return sock.recv(100)
    except OSError:
        return None

if __name__ == "__main__":
    unittest.main()
