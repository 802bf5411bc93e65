"""test_harness.py: checks that the integration-test harness itself works.

The Python sink against smtplib, swaks and openssl s_client (TLS and client-certificate
modes); process stopping and waiting; ports; the configuration writer; failure logs and
cleanup of the base class. The peer wrappers are checked in test_harness_peers.py.
"""
import os
import resource
import signal
import smtplib
import socket
import ssl
import sys
import threading
import time
import unittest
import unittest.mock

from harness import PosternTestCase, client_tls_context, new_message_id, smtp_send
from harness import libconfig, procfs
from harness.base import make_temp_dir
from harness.ports import free_port
from harness.postern import Postern
from harness.processes import Registry, file_size, wait_for, wait_log


class MailSinkTest(PosternTestCase):
    """The Python sink, driven by smtplib and swaks."""

    def test_smtplib_message_is_recorded(self):
        sink = self.mail_sink()
        result = smtp_send(sink.port, mail_from="a@src.test", rcpt_to=["ok@dst.test", "other@dst.test"],
                           subject="hello", ehlo="client.example", mail_options=["RET=HDRS"],
                           rcpt_options=["NOTIFY=NEVER"])
        self.assertTrue(result.ok, result)
        self.assertEqual(result.queue_id, "S1")
        [message] = sink.wait_messages(1)
        self.assertEqual(message.mail_from, "a@src.test")
        self.assertEqual(message.rcpt_to, ["ok@dst.test", "other@dst.test"])
        self.assertEqual(message.ehlo, "client.example")
        self.assertEqual((message.mail_params, message.rcpt_params), (["RET=HDRS"], [["NOTIFY=NEVER"]] * 2))
        self.assertFalse(message.tls)
        self.assertEqual(message.message_id, result.message_id)
        self.assertEqual(message.headers["Subject"], "hello")

    def test_per_recipient_replies_reach_smtplib(self):
        sink = self.mail_sink()
        result = smtp_send(sink.port, rcpt_to=["ok@d.test", "defer@d.test", "fail@d.test"])
        self.assertTrue(result.ok)
        self.assertEqual(result.refused["defer@d.test"][0], 450)
        self.assertIn("4.2.0", result.refused["defer@d.test"][1])
        self.assertEqual(result.refused["fail@d.test"][0], 550)
        self.assertIn("5.1.1", result.refused["fail@d.test"][1])
        self.assertEqual(sink.wait_messages(1)[0].rcpt_to, ["ok@d.test"])

    def test_scripted_replies_by_domain_and_callable(self):
        sink = self.mail_sink(rcpt_replies={"@slow.test": "451 4.4.1 slow domain"},
                              data_reply=lambda m: "554 5.6.0 no" if b"reject-me" in m.data else None)
        result = smtp_send(sink.port, rcpt_to=["x@slow.test", "y@fast.test"])
        self.assertEqual(result.refused, {"x@slow.test": (451, "4.4.1 slow domain")})
        rejected = smtp_send(sink.port, rcpt_to=["y@fast.test"], body="reject-me\n")
        self.assertEqual((rejected.ok, rejected.code), (False, 554))
        self.assertEqual(len(sink.messages), 1)
        self.assertEqual(len(sink.rejected), 1)

    def test_starttls_with_verified_server_certificate(self):
        server = self.certs.server()
        sink = self.mail_sink(cert=server)
        result = smtp_send(sink.port, starttls=True, tls_context=client_tls_context(ca_file=self.certs.ca.cert))
        self.assertTrue(result.ok, result)
        [message] = sink.wait_messages(1)
        self.assertTrue(message.tls)
        self.assertIn(message.tls_version, ("TLSv1.2", "TLSv1.3"))
        self.assertFalse(message.client_cert_presented)

    def test_swaks_plain_and_tls(self):
        sink = self.mail_sink(cert=self.certs.server())
        rc, transcript = self.swaks(sink.port, to="ok@d.test", ehlo="swaks.example")
        self.assertEqual(rc, 0, transcript)
        rc, transcript = self.swaks(sink.port, to="ok@d.test", tls=True, pipeline=True)
        self.assertEqual(rc, 0, transcript)
        first, second = sink.wait_messages(2)
        self.assertEqual((first.ehlo, first.tls), ("swaks.example", False))
        self.assertTrue(second.tls)
        self.assertIn("PIPELINING", transcript)

    def test_swaks_sees_a_deferred_recipient(self):
        sink = self.mail_sink()
        rc, transcript = self.swaks(sink.port, to="defer@d.test")
        self.assertNotEqual(rc, 0)
        self.assertIn("450 4.2.0", transcript)

    def test_greeting_421_and_554(self):
        busy = self.mail_sink(greeting="421 4.3.2 busy, come back later")
        with self.assertRaises(smtplib.SMTPConnectError) as caught:
            smtplib.SMTP("127.0.0.1", busy.port, timeout=5)
        self.assertEqual(caught.exception.smtp_code, 421)
        closed = self.mail_sink(greeting="554 5.3.2 no service")
        with socket.create_connection(closed.address, timeout=5) as sock:
            sock.sendall(b"EHLO x\r\nQUIT\r\n")
            replies = _read_until_closed(sock)
        self.assertIn(b"554 5.3.2", replies)
        self.assertIn(b"503 5.5.1", replies)
        self.assertIn(b"221 ", replies)

    def test_starttls_refused_and_broken(self):
        refusing = self.mail_sink(starttls="refuse")
        with self.assertRaises(smtplib.SMTPResponseException) as caught:
            smtp_send(refusing.port, starttls=True)
        self.assertEqual(caught.exception.smtp_code, 454)
        breaking = self.mail_sink(starttls="break")
        with self.assertRaises((ssl.SSLError, ConnectionError, smtplib.SMTPServerDisconnected)):
            smtp_send(breaking.port, starttls=True)
        self.assertEqual(breaking.wait_sessions(1)[0].killed, "STARTTLS set to break")

    def test_duplicate_message_ids_are_counted(self):
        sink = self.mail_sink()
        twice = new_message_id()
        for message_id in (twice, twice, new_message_id()):
            self.assertTrue(smtp_send(sink.port, message_id=message_id).ok)
        sink.wait_messages(3)
        self.assertEqual(sink.duplicates(), {twice: 2})
        self.assertEqual(sum(sink.message_ids().values()), 3)

    def test_raw_hook_answers_instead(self):
        def hostile(session, line):
            if line.upper().startswith("MAIL"):
                return b"451-first line\r\n451 4.3.0 hook says later\r\n"
            return None
        sink = self.mail_sink(hook=hostile)
        result = smtp_send(sink.port)
        self.assertEqual((result.stage, result.code), ("mail", 451))
        self.assertIn("hook says later", result.reply)

    def test_plaintext_pipelined_after_starttls_is_discarded(self):
        sink = self.mail_sink(cert=self.certs.server())
        with socket.create_connection(sink.address, timeout=5) as sock:
            sock.recv(1024)
            sock.sendall(b"EHLO x\r\n")
            _read_reply(sock)
            sock.sendall(b"STARTTLS\r\nRSET\r\n")
            self.assertTrue(_read_reply(sock).startswith(b"220"))
            with client_tls_context().wrap_socket(sock) as tls:
                tls.sendall(b"QUIT\r\n")
                self.assertTrue(_read_reply(tls).startswith(b"221"))
        [session] = sink.wait_sessions(1)
        self.assertEqual(session.injected, b"RSET\r\n")
        self.assertNotIn("RSET", session.commands)

    def test_hundreds_of_concurrent_connections_then_no_leak(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < 1024:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
        threads_before = threading.active_count()
        sink = self.mail_sink()
        clients = [socket.create_connection(sink.address, timeout=10) for _ in range(300)]
        try:
            for sock in clients:
                self.assertTrue(sock.recv(1024).startswith(b"220"))
            self.assertEqual(sink.max_concurrent, 300)
            sent = []
            workers = [threading.Thread(target=lambda: sent.append(smtp_send(sink.port).ok)) for _ in range(40)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join(30)
            self.assertEqual(sent, [True] * 40)
        finally:
            for sock in clients:
                sock.close()
        self.wait_for(lambda: sink.active == 0, 10, "every sink session to end")
        sink.stop()
        self.assertEqual(threading.active_count(), threads_before)

    def test_stop_cuts_idle_sessions(self):
        sink = self.mail_sink()
        with socket.create_connection(sink.address, timeout=5) as sock:
            sock.recv(1024)
            sink.stop()
            self.assertEqual(_read_until_closed(sock), b"")
        self.assertEqual(sink.active, 0)


    def test_accepted_sockets_send_replies_without_nagle_delay(self):
        sink = self.mail_sink()
        with socket.create_connection(sink.address, timeout=5) as sock:
            sock.recv(1024)
            [session] = sink.sessions
            self.assertEqual(session.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), 1)


class ClientCertificateModesTest(PosternTestCase):
    """Exchange Online's strict peer (kill) and the CertificateRequest that only records."""

    def s_client(self, port, cert=None, options=()):
        """openssl s_client through STARTTLS (EHLO, QUIT), presenting cert if given; (rc, output)."""
        argv = ["openssl", "s_client", "-starttls", "smtp", "-connect", f"127.0.0.1:{port}", "-quiet", "-crlf",
                *options]
        if cert is not None:
            argv += ["-cert", cert.cert, "-key", cert.key]
        return self.registry.run(argv, name="s_client", timeout=20, input=b"EHLO s-client.test\nQUIT\n")

    def test_kill_mode_refuses_a_client_certificate_and_accepts_none(self):
        sink = self.mail_sink(cert=self.certs.server(), client_certs="kill", client_ca=self.certs.ca.cert)
        rc, output = self.s_client(sink.port)
        self.assertIn("221 2.0.0 Bye", output)
        rc, output = self.s_client(sink.port, cert=self.certs.client())
        self.assertNotIn("221 2.0.0 Bye", output)
        self.assertNotEqual(rc, 0, output)
        plain, killed = sink.wait_sessions(2)
        self.assertEqual((plain.tls, plain.client_cert_presented, plain.killed), (True, False, None))
        self.assertEqual((killed.client_cert_presented, killed.killed), (True, "client presented a certificate"))

    def test_kill_mode_kills_before_verifying_an_unknown_certificate(self):
        sink = self.mail_sink(cert=self.certs.server(), client_certs="kill")
        stranger = self.certs.self_signed("stranger", "stranger.test")
        for version in ("-tls1_3", "-tls1_2"):
            rc, output = self.s_client(sink.port, cert=stranger, options=[version])
            self.assertNotIn("221 2.0.0 Bye", output)
        for session in sink.wait_sessions(2):
            self.assertEqual(session.killed, "client presented a certificate")
            self.assertIsNone(session.error)  # cut by the kill, not failed by verification

    def test_request_mode_records_whether_a_certificate_came(self):
        sink = self.mail_sink(cert=self.certs.server(), client_certs="request", client_ca=self.certs.ca.cert)
        self.assertTrue(smtp_send(sink.port, starttls=True).ok)
        with_cert = client_tls_context(cert=self.certs.client())
        self.assertTrue(smtp_send(sink.port, starttls=True, tls_context=with_cert).ok)
        anonymous, presented = sink.wait_messages(2)
        self.assertFalse(anonymous.client_cert_presented)
        self.assertTrue(presented.client_cert_presented)

class ProcessesTest(PosternTestCase):
    """Stopping by pid, waiting, ports."""

    def test_stop_kills_what_the_process_left_behind(self):
        process = self.registry.spawn(["sh", "-c", "trap '' TERM; sleep 300 & sleep 300; wait"], name="stubborn")
        self.wait_for(lambda: len(procfs.descendants(process.pid)) == 2, 5, "two sleeps")
        family = procfs.descendants(process.pid)
        rc = process.stop(timeout=0.5, stray_grace=0.2)
        self.assertEqual(rc, -signal.SIGKILL)
        self.assertFalse(any(procfs.alive(p) for p in family))
        self.assertEqual(len(process.strays), 2)

    def test_what_a_test_process_started_dies_with_it(self):
        here = os.path.dirname(os.path.abspath(__file__))
        inner_log = os.path.join(self.tmp, "inner.log")
        script = (f"import sys, time; sys.path.insert(0, {here!r}); from harness.processes import ManagedProcess; "
                  f"print(ManagedProcess(['sleep', '300'], {inner_log!r}).pid, flush=True); time.sleep(300)")
        outer = self.registry.spawn([sys.executable, "-c", script], name="outer-test-process")
        pid = self.wait_for(lambda: open(outer.log_path).read().strip(), 10, "the inner pid")
        inner = procfs.read(int(pid))
        self.assertTrue(procfs.alive(inner))
        outer.send_signal(signal.SIGKILL)
        self.wait_for(lambda: not procfs.alive(inner), 5, "the orphaned sleep to die")

    def test_wait_for_names_what_it_waited_for(self):
        with self.assertRaisesRegex(AssertionError, "timed out after 0.2s waiting for the moon"):
            wait_for(lambda: False, 0.2, "the moon")
        self.assertEqual(wait_for(lambda: 42, 1, "an answer"), 42)

    def test_wait_for_fails_early_when_the_process_died(self):
        process = self.registry.spawn(["sh", "-c", "echo dying words; exit 3"], name="short")
        started = time.monotonic()
        with self.assertRaisesRegex(AssertionError, r"(?s)short exited \(rc 3\).*dying words"):
            wait_for(lambda: False, 10, "something", process=process)
        self.assertLess(time.monotonic() - started, 5)

    def test_wait_log_matches_whole_lines_after_the_offset(self):
        path = os.path.join(self.tmp, "some.log")
        with open(path, "w") as f:
            f.write("old: status=sent\nnew: status=deferred\npartial: status=sent")
        offset = len("old: status=sent\n")
        self.assertEqual(wait_log(path, r"status=(\w+)", offset, 1).group(1), "deferred")
        with self.assertRaises(AssertionError):
            wait_log(path, r"partial", offset, 0.3)
        with open(path, "a") as f:
            f.write("\n")
        self.assertEqual(wait_log(path, r"partial", offset, 1).offset, file_size(path))

    def test_free_ports_are_distinct_and_bindable(self):
        ports = [free_port() for _ in range(50)]
        self.assertEqual(len(set(ports)), 50)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", ports[-1]))
        both = free_port("both")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", both))


class ConfigurationTest(PosternTestCase):
    """The libconfig writer and the Postern configuration defaults."""

    def test_libconfig_text(self):
        text = libconfig.dumps({"name": 'a "q" \\ b\n', "n": 5, "big": 2**40, "on": True, "ratio": 1.0,
                                "list": ["x", "y"], "group": {"inner": {"k": 1}},
                                "routes": ({"domain": "*"},), "skipped": None})
        self.assertEqual(text, 'name = "a \\"q\\" \\\\ b\\n";\nn = 5;\nbig = 1099511627776L;\non = true;\n'
                               'ratio = 1.0;\nlist = [ "x", "y" ];\ngroup = {\n  inner = {\n    k = 1;\n  };\n};\n'
                               'routes = (\n  {\n    domain = "*";\n  }\n);\n')
        with self.assertRaises(ValueError):
            libconfig.dumps({"bad name": 1})

    def test_postern_config_merges_over_defaults(self):
        instance = Postern(self.registry, smtpd={"tls": {"security_level": "may"}}, mynetworks=None,
                           routes=({"domain": "*", "nexthop": "[127.0.0.1]:25"},))
        instance.write_config()
        with open(instance.conf_path) as f:
            text = f.read()
        self.assertIn(f'listen = [ "127.0.0.1:{instance.port}" ];', text)
        self.assertIn('security_level = "may";', text)
        self.assertIn(f'queue_directory = "{instance.queue_directory}";', text)
        self.assertNotIn("mynetworks", text)
        self.assertIn('nexthop = "[127.0.0.1]:25";', text)
        self.assertEqual(os.stat(instance.conf_path).st_mode & 0o777, 0o644)
        self.assertEqual(os.stat(self.tmp).st_mode & 0o777, 0o755)
        self.assertEqual(instance.queue_files("deferred"), [])


class BaseClassTest(unittest.TestCase):
    """PosternTestCase itself: failure messages carry the logs; cleanup happens anyway."""

    def test_failure_carries_log_tails_and_cleanup_still_runs(self):
        seen = {}

        class Failing(PosternTestCase):
            def test_fails(self):
                seen["tmp"] = self.tmp
                seen["process"] = self.registry.spawn(["sh", "-c", "echo marker-line-from-peer; exec sleep 300"],
                                                      name="peer")
                wait_log(seen["process"].log_path, "marker-line", 0, 5)
                self.fail("on purpose")

        result = unittest.TestResult()
        Failing("test_fails").run(result)
        self.assertEqual(len(result.failures), 1)
        report = result.failures[0][1]
        self.assertIn("on purpose", report)
        self.assertIn("----- peer: last 60 lines", report)
        self.assertIn("marker-line-from-peer", report)
        self.assertFalse(seen["process"].running())
        self.assertFalse(os.path.exists(seen["tmp"]))

    def test_a_missing_postern_program_fails_the_test_never_skips_it(self):
        class NeedsPostern(PosternTestCase):
            def test_postern(self):
                self.postern()

        result = unittest.TestResult()
        with unittest.mock.patch.dict(os.environ, {"POSTERN_BUILD_DIR": "/nonexistent/build"}):
            NeedsPostern("test_postern").run(result)
        self.assertEqual(result.skipped, [])
        self.assertEqual(len(result.failures), 1)
        self.assertIn("not built: /nonexistent/build/sbin/postern", result.failures[0][1])

    def test_temp_dir_is_open_to_the_daemon_users(self):
        path = make_temp_dir("probe")
        try:
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o755)
        finally:
            os.rmdir(path)

    def test_registry_stops_newest_first_and_reports_errors(self):
        order = []

        class Stoppable:
            def __init__(self, name, fails=False):
                self.name, self.fails = name, fails

            def stop(self):
                order.append(self.name)
                if self.fails:
                    raise RuntimeError("stuck")

        registry = Registry("/nonexistent")
        for item in (Stoppable("first"), Stoppable("second", fails=True), Stoppable("third")):
            registry.add(item)
        errors = registry.stop_all()
        self.assertEqual(order, ["third", "second", "first"])
        self.assertEqual(len(errors), 1)
        self.assertIn("stuck", errors[0])

def _read_reply(sock):
    """Reads one (possibly multi-line) SMTP reply."""
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return data
        data += chunk
        lines = data.split(b"\r\n")
        if len(lines) > 1 and len(lines[-2]) >= 4 and lines[-2][3:4] == b" ":
            return data


def _read_until_closed(sock):
    """Everything the server sends until it closes (or resets) the connection."""
    data = b""
    while True:
        try:
            chunk = sock.recv(4096)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


if __name__ == "__main__":
    unittest.main()
