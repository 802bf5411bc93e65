"""test_bench_tools.py: the benchmark's instruments measure what they claim (make bench).

bench_sink against smtp-source (its count and its time of the last message), with
STARTTLS and a pipelined "." + QUIT (the 250 and the 221 must both arrive), and its
per-Message-ID times; idle_sessions holding sessions with and without STARTTLS;
rate_client holding its rate; the report's verdicts and the PNG chart.
"""
import os
import re
import smtplib
import socket
import ssl
import struct
import sys
import time
import unittest
import zlib

from harness import PosternTestCase
from harness.ports import free_port
from harness.processes import wait_for

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "bench"))

from benchkit import chart, report, runs, tools  # noqa: E402


def bench_tool(name):
    return os.path.join(os.environ.get("POSTERN_BUILD_DIR") or os.path.join(REPO, "build"), "bench", name)


class BenchToolCase(PosternTestCase):
    def setUp(self):
        super().setUp()
        for name in ("bench_sink", "idle_sessions", "rate_client"):
            if not os.access(bench_tool(name), os.X_OK):
                self.skipTest(f"{bench_tool(name)} is not built")
        os.environ.setdefault("POSTERN_BUILD_DIR", os.path.dirname(os.path.dirname(bench_tool("x"))))


class BenchSinkTest(BenchToolCase):
    def test_counts_what_smtp_source_sends_and_times_the_last(self):
        port = free_port()
        sink = tools.BenchSink(self.registry, port, expect=300)
        before = time.monotonic_ns()
        rc, output = self.smtp_source(port, sessions=10, messages=300, size=2000)
        self.assertEqual(rc, 0, output)
        wait_for(sink.done, 10, "bench_sink to announce the 300th message")
        self.assertTrue(before < sink.end_ns() < time.monotonic_ns())
        self.assertEqual(sink.stop(), 300)

    def test_starttls_with_pipelined_end_of_data_and_quit(self):
        port = free_port()
        cert = self.certs.server("sink", "localhost")
        times = os.path.join(self.tmp, "times.txt")
        sink = tools.BenchSink(self.registry, port, cert=cert, times=times)
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            self.assertTrue(raw.recv(512).startswith(b"220"))
            raw.sendall(b"EHLO t\r\n")
            self.assertIn(b"STARTTLS", self._reply(raw))
            raw.sendall(b"STARTTLS\r\n")
            self.assertTrue(self._reply(raw).startswith(b"220"))
            conn = context.wrap_socket(raw, server_hostname="localhost")
            conn.sendall(b"EHLO t\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")
            replies = b""
            while b"354 " not in replies:
                replies += conn.recv(4096)
            self.assertNotIn(b"STARTTLS", replies)
            self.assertIn(b"250 2.1.5", replies)
            conn.sendall(b"Message-ID: <pipelined@test>\r\n\r\nbody\r\n.\r\nQUIT\r\n")
            rest = b""
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                rest += chunk
        self.assertRegex(rest, rb"^250 .*\r\n221 ")
        self.assertEqual(sink.stop(), 1)
        self.assertEqual(list(tools.read_times(times)), ["<pipelined@test>"])

    def _reply(self, sock):
        data = b""
        while not re.search(rb"(^|\n)\d{3} [^\n]*\n$", data):
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        return data

    def test_a_lone_dot_ends_an_empty_body_and_dots_inside_do_not(self):
        port = free_port()
        times = os.path.join(self.tmp, "times.txt")
        sink = tools.BenchSink(self.registry, port, times=times)
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.sendmail("a@b.test", ["c@d.test"], "Message-ID: <one@test>\r\n\r\n.\r\n..\r\nx\r\n")
            client.sendmail("a@b.test", ["c@d.test"], "Message-ID: <two@test>\r\n\r\n")
        self.assertEqual(sink.stop(), 2)
        self.assertEqual(sorted(tools.read_times(times)), ["<one@test>", "<two@test>"])


class LoadToolsTest(BenchToolCase):
    def _idle(self, starttls):
        port = free_port()
        cert = self.certs.server("sink", "localhost")
        sink = tools.BenchSink(self.registry, port, cert=cert)
        holder = tools.start_idle_sessions(self.registry, port, 150, starttls)
        found = wait_for(lambda: re.search(r"established (\d+) failed (\d+)", tools.read_text(holder.log_path)), 60,
                         "idle_sessions to finish setting up", process=holder)
        self.assertEqual((found.group(1), found.group(2)), ("150", "0"))
        holder.stop()
        self.assertIn("dropped 0", tools.read_text(holder.log_path))
        sink.stop()
        total = re.search(r"total (\d+) (\d+) (\d+)", tools.read_text(sink.process.log_path))
        self.assertEqual(total.group(2), "150")
        self.assertEqual(total.group(3), "150" if starttls else "0")

    def test_idle_sessions_after_ehlo(self):
        self._idle(starttls=False)

    def test_idle_sessions_after_starttls(self):
        self._idle(starttls=True)

    def test_rate_client_holds_its_rate_and_times_every_message(self):
        port = free_port()
        sink_times, client_times = os.path.join(self.tmp, "sink.txt"), os.path.join(self.tmp, "client.txt")
        sink = tools.BenchSink(self.registry, port, expect=200, times=sink_times)
        started = time.monotonic()
        client = tools.start_rate_client(self.registry, port, 400, 200, 3000, "t", client_times, sessions=5)
        client.wait(30)
        elapsed = time.monotonic() - started
        self.assertGreater(elapsed, 0.45)  # 200 messages at 400/s take half a second at least
        self.assertRegex(tools.read_text(client.log_path), r"sent 200 accepted 200 failed 0")
        sink.stop()
        accepted, delivered = tools.read_times(client_times), tools.read_times(sink_times)
        self.assertEqual(len(accepted), 200)
        self.assertEqual(set(accepted), set(delivered))


class ReportTest(unittest.TestCase):
    def results(self, ours, theirs):
        row = {"size": 4096, "sessions": 20, "tls": False, "postern": {"e2e": ours, "accept": ours},
               "postfix": {"e2e": theirs, "accept": theirs}}
        return {"throughput": [row], "meta": {}, "fsync": {}, "sinks": {}}

    def test_headline_row_wants_four_times_postfix(self):
        rows = report.table_rows(self.results(390, 100))
        self.assertEqual(rows[0][3], "3.90×")
        self.assertEqual(rows[0][5], "**not met**")
        self.assertEqual(rows[1][5], "met")  # accept-only wants 3×
        self.assertEqual(report.table_rows(self.results(400, 100))[0][5], "met")

    def test_a_failed_run_shows_why(self):
        results = self.results(400, 100)
        results["throughput"][0]["postfix"] = {"error": "only 3 of 6 messages reached the sink"}
        row = report.table_rows(results)[0]
        self.assertEqual(row[2], "failed: only 3 of 6 messages reached the sink")
        self.assertEqual(row[5], "not measured")
        self.assertIn("| failed: only 3 of 6", report.markdown(results))

    def test_percentile_is_nearest_rank(self):
        values = list(range(1, 101))
        self.assertEqual(runs.percentile(values, 0.5), 50)
        self.assertEqual(runs.percentile(values, 0.99), 99)
        self.assertEqual(runs.percentile([7], 0.99), 7)

    def test_chart_is_a_png_of_the_right_size(self):
        png = chart.throughput_chart(self.results(400, 100))
        self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
        width, height = struct.unpack(">II", png[16:24])
        self.assertEqual(width, 1100)
        length = struct.unpack(">I", png[33:37])[0]
        self.assertEqual(png[37:41], b"IDAT")
        raw = zlib.decompress(png[41:41 + length])
        self.assertEqual(len(raw), height * (1 + 3 * width))


if __name__ == "__main__":
    unittest.main()
