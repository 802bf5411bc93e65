"""test_ops_commands.py: the operator's commands against a queue postern is not running on
(and against stand-ins for its daemons): `postern queue` listing (text checked line by line,
JSON parsed), show, delete/hold/release/requeue/flush done on the files with postsuper-style
log lines, the same verbs sent to a stand-in qmgr while a master holds the lock, mailq,
sendmail (-bp, not running, bad input, SMTP to a stand-in smtpd), cert and check.

The known queue is written by queue_files.py, a Python writer independent of lib/queue_*.
"""
import fcntl
import json
import os
import re
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import queue_files as qf

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("POSTERN_BUILD_DIR", os.path.join(REPO, "build"))
POSTERN = os.path.join(BUILD, "sbin", "postern")
SENDMAIL = os.path.join(BUILD, "bin", "sendmail")
MAILQ = os.path.join(BUILD, "bin", "mailq")
EX_USAGE, EX_DATAERR, EX_TEMPFAIL = 64, 65, 75

BASE = 1754000000  # Thu Jul 31 22:13:20 2025 UTC
REFUSED = "connect to mx.example.net[192.0.2.1]:25: Connection refused"
IDS = [qf.queue_id((BASE + n) * 1000000 + 250000) for n in range(6)]


def run(program, *args, stdin=None, env_extra=None):
    env = dict(os.environ, TZ="UTC")
    env.pop("POSTERN_CONF", None)
    env.update(env_extra or {})
    proc = subprocess.run([program, *args], input=stdin, capture_output=True, timeout=60, env=env)
    return proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")


class QueueFixture(unittest.TestCase):
    """A configuration and a queue directory with known messages, postern stopped."""

    def setUp(self):
        self.folder = tempfile.TemporaryDirectory(prefix="postern-ops-")
        self.addCleanup(self.folder.cleanup)
        self.spool = os.path.join(self.folder.name, "spool")
        self.log = os.path.join(self.folder.name, "postern.log")
        self.conf = os.path.join(self.folder.name, "postern.conf")
        self.write_conf()
        qf.make_layout(self.spool)

    def write_conf(self, smtpd_tls=""):
        with open(self.conf, "w") as f:
            f.write('myhostname = "mx.test.example";\nqueue_directory = "spool";\n'
                    f'log_file = "{self.log}";\nmail_owner = "{self.owner_name()}";\n'
                    f'smtpd = {{ listen = [ "127.0.0.1:2599" ]; {smtpd_tls} }};\n')

    @staticmethod
    def owner_name():
        import pwd
        return pwd.getpwuid(os.geteuid()).pw_name

    def postern(self, *args, stdin=None):
        return run(POSTERN, "-c", self.conf, *args, stdin=stdin)

    def plant_known_queue(self):
        """Active (2000 bytes), deferred from <> with mixed states, on hold, incoming."""
        micros = lambda n: (BASE + n) * 1000000 + 250000
        later = (BASE + 3600) * 1000000
        messages = [
            ("active", IDS[1], "alice@example.org", [qf.Recipient("bob@example.com")], "a" * 2000),
            ("deferred", IDS[2], "", [
                qf.Recipient("r1@example.net", "T", "4.4.1", micros(9), REFUSED, "rfc822;o@example.net"),
                qf.Recipient("r2@example.net", "T", "4.4.1", micros(9), REFUSED),
                qf.Recipient("done@example.net", "D", "2.0.0", micros(9), "250 ok"),
                qf.Recipient("r4@sub.example.net")], "b" * 500),
            ("hold", IDS[3], "carol@example.org", [qf.Recipient("dave@example.com")],
             "Subject: held\r\n\r\nbody\r\n"),
            ("incoming", IDS[4], "erin@example.org", [qf.Recipient("frank@example.com")], "c" * 1000),
        ]
        for queue, message_id, sender, recipients, content in messages:
            number = IDS.index(message_id)
            data = qf.encode_message(sender, recipients, content, micros(number),
                                     next_attempt=later if queue == "deferred" else 0, attempts=2)
            qf.write_message(self.spool, queue, message_id, data)

    def where(self, message_id):
        return qf.where(self.spool, message_id)

    def log_lines(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return f.read().splitlines()


def rcpt_line(address):
    return " " * 47 + address


class QueueListingTest(QueueFixture):
    def setUp(self):
        super().setUp()
        self.plant_known_queue()

    def expected_listing(self):
        return [
            "----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------",
            IDS[4] + "     1000 Thu Jul 31 22:13:24 erin@example.org",
            rcpt_line("frank@example.com"),
            "",
            IDS[1] + "*     2000 Thu Jul 31 22:13:21 alice@example.org",
            rcpt_line("bob@example.com"),
            "",
            IDS[2] + "      500 Thu Jul 31 22:13:22 MAILER-DAEMON",
            " " * (76 - len(REFUSED)) + "(" + REFUSED + ")",
            rcpt_line("r1@example.net"),
            rcpt_line("r2@example.net"),
            " " * (76 - len("reason unavailable")) + "(reason unavailable)",
            rcpt_line("r4@sub.example.net"),
            "",
            IDS[3] + "!       23 Thu Jul 31 22:13:23 carol@example.org",
            rcpt_line("dave@example.com"),
            "",
            "-- 3 Kbytes in 4 Requests.",
        ]

    def test_text_listing_line_by_line(self):
        status, out, err = self.postern("queue")
        self.assertEqual(status, 0, err)
        self.assertEqual(out.split("\n")[:-1], self.expected_listing())
        self.assertTrue(out.endswith("\n"))

    def test_mailq_and_sendmail_bp_print_the_same(self):
        _, listing, _ = self.postern("queue")
        status, out, err = run(MAILQ, "-C", self.conf)
        self.assertEqual((status, out), (0, listing), err)
        status, out, err = run(SENDMAIL, "-bp", env_extra={"POSTERN_CONF": self.conf})
        self.assertEqual((status, out), (0, listing), err)
        status, out, _ = run(MAILQ, "-C", self.conf, "--queue", "hold")
        self.assertIn(IDS[3] + "!", out)
        self.assertNotIn(IDS[1], out)

    def test_json_lines_parse_with_postqueue_fields(self):
        status, out, err = self.postern("queue", "--json")
        self.assertEqual(status, 0, err)
        objects = [json.loads(line) for line in out.splitlines()]
        self.assertEqual([o["queue_id"] for o in objects], [IDS[4], IDS[1], IDS[2], IDS[3]])
        deferred = objects[2]
        self.assertEqual(deferred["queue_name"], "deferred")
        self.assertEqual(deferred["arrival_time"], BASE + 2)
        self.assertEqual(deferred["message_size"], 500)
        self.assertIs(deferred["forced_expire"], False)
        self.assertEqual(deferred["sender"], "MAILER-DAEMON")
        self.assertEqual(deferred["recipients"], [
            {"address": "r1@example.net", "orig_address": "o@example.net", "delay_reason": REFUSED},
            {"address": "r2@example.net", "delay_reason": REFUSED},
            {"address": "r4@sub.example.net"}])
        self.assertEqual([o["queue_name"] for o in objects], ["incoming", "active", "deferred", "hold"])

    def test_filters(self):
        def ids(*args):
            status, out, err = self.postern("queue", "--json", *args)
            self.assertEqual(status, 0, err)
            return [json.loads(line)["queue_id"] for line in out.splitlines()]
        self.assertEqual(ids("--queue", "deferred", "-q", "hold"), [IDS[2], IDS[3]])
        self.assertEqual(ids("--sender", "MAILER-DAEMON"), [IDS[2]])
        self.assertEqual(ids("--sender", "Alice@Example.org"), [IDS[1]])
        self.assertEqual(ids("--domain", "example.com"), [IDS[4], IDS[1], IDS[3]])
        self.assertEqual(ids("--domain", ".example.net"), [IDS[2]])
        status, _, err = self.postern("queue", "--queue", "nosuch")
        self.assertEqual(status, EX_USAGE)

    def test_empty_queue(self):
        for queue in qf.QUEUES:
            for name in os.listdir(os.path.join(self.spool, queue)):
                os.unlink(os.path.join(self.spool, queue, name))
        self.assertEqual(self.postern("queue")[:2], (0, "Mail queue is empty\n"))
        self.assertEqual(self.postern("queue", "--json")[:2], (0, ""))

    def test_show_envelope_headers_and_body(self):
        status, out, err = self.postern("queue", "show", IDS[3])
        self.assertEqual(status, 0, err)
        self.assertIn("queue_name: hold\n", out)
        self.assertIn("sender: carol@example.org\n", out)
        self.assertIn("recipient: dave@example.com\n  status: pending\n", out)
        self.assertEqual(self.postern("queue", "show", IDS[3], "--envelope")[1],
                         out[:out.index("*** HEADERS ***")])
        self.assertTrue(out.endswith("*** HEADERS ***\nSubject: held\n*** BODY ***\nbody\n"), out)
        status, out, _ = self.postern("queue", "show", IDS[2], "--body")
        self.assertEqual(out, "*** BODY ***\n" + "b" * 500 + "\n")
        status, _, err = self.postern("queue", "show", IDS[5])
        self.assertEqual(status, 1)
        self.assertIn("no such message", err)
        self.assertEqual(self.postern("queue", "show", "../etc/passwd")[0], EX_USAGE)


class OfflineManagementTest(QueueFixture):
    def setUp(self):
        super().setUp()
        self.plant_known_queue()

    def test_hold_release_requeue_delete_on_the_files_with_log_lines(self):
        status, out, err = self.postern("queue", "hold", IDS[1], IDS[2])
        self.assertEqual(status, 0, err)
        self.assertIn("not running", err)
        self.assertEqual(out, f"{IDS[1]}: placed on hold\n{IDS[2]}: placed on hold\n")
        self.assertIn("postern: hold: 2 done\n", err)
        self.assertEqual((self.where(IDS[1]), self.where(IDS[2])), ("hold", "hold"))

        status, out, _ = self.postern("queue", "release", IDS[2])
        self.assertEqual((status, out), (0, f"{IDS[2]}: released from hold\n"))
        self.assertEqual(self.where(IDS[2]), "deferred")
        self.assertEqual(qf.read_schedule(os.path.join(self.spool, "deferred", IDS[2]))[0], 0)

        status, out, _ = self.postern("queue", "requeue", IDS[2])
        self.assertEqual((status, out), (0, f"{IDS[2]}: requeued\n"))
        path = os.path.join(self.spool, "incoming", IDS[2])
        self.assertEqual(qf.read_states(path),
                         [("P", ""), ("P", ""), ("D", "250 ok"), ("P", "")])

        status, out, err = self.postern("queue", "delete", "-", stdin=f"{IDS[2]}\n{IDS[3]} {IDS[5]}\n".encode())
        self.assertEqual(status, 1)  # IDS[5] is not there
        self.assertEqual(out, f"{IDS[2]}: removed\n{IDS[3]}: removed\n")
        self.assertIn(f"{IDS[5]}: not found", err)
        self.assertEqual((self.where(IDS[2]), self.where(IDS[3])), (None, None))

        log = self.log_lines()
        pattern = re.compile(r"^\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ postern/postsuper\[\d+\]: (\S+): (.*)$")
        events = [pattern.match(line).groups() for line in log]
        self.assertEqual(events, [(IDS[1], "placed on hold"), (IDS[2], "placed on hold"),
                                  (IDS[2], "released from hold"), (IDS[2], "requeued"),
                                  (IDS[2], "removed"), (IDS[3], "removed")])

    def test_all_and_flush(self):
        status, out, err = self.postern("queue", "flush")
        self.assertEqual(status, 0, err)
        self.assertEqual(qf.read_schedule(os.path.join(self.spool, "deferred", IDS[2])), (0, 2))
        status, out, err = self.postern("queue", "hold", "ALL")
        self.assertEqual(status, 0, err)
        self.assertEqual(len(out.splitlines()), 3)  # incoming, active, deferred; hold stays
        self.assertEqual(sorted(os.listdir(os.path.join(self.spool, "hold"))), sorted(IDS[1:5]))
        status, out, err = self.postern("queue", "delete", "ALL")
        self.assertEqual((status, len(out.splitlines())), (0, 4), err)
        self.assertEqual(self.postern("queue")[1], "Mail queue is empty\n")

    def test_nothing_named_is_nothing_done(self):
        status, _, err = self.postern("queue", "delete", "-", stdin=b"")
        self.assertEqual(status, 1)
        self.assertIn("nothing done", err)
        status, _, err = self.postern("queue", "delete", "-", stdin=b"not-an-id ../x\n")
        self.assertEqual(status, 1)
        self.assertIn('invalid queue ID "not-an-id"', err)
        self.assertEqual(self.postern("queue", "delete", "ALL", IDS[1])[0], EX_USAGE)
        self.assertEqual(self.postern("queue", "delete")[0], EX_USAGE)
        self.assertEqual(self.postern("queue", "frobnicate")[0], EX_USAGE)
        self.assertEqual(len(os.listdir(os.path.join(self.spool, "incoming"))), 1)


class StandInQmgr:
    """Holds the master lock (as a running master does) and answers qmgr-control requests on private/qmgr."""

    def __init__(self, spool, answer=True):
        self.requests = []
        self.lock = open(os.path.join(spool, "pid", "master.lock"), "w")
        fcntl.lockf(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a record lock, as master takes
        self.server = None
        if answer:
            self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.server.bind(os.path.join(spool, "private", "qmgr"))
            self.server.listen(5)
            self.thread = threading.Thread(target=self.serve, daemon=True)
            self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                data = b""
                while (frame := qf.decode_frame(data)) is None:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                if frame is None:
                    continue
                attributes = dict(frame[2])
                ids = [attributes[f"id.{i}"] for i in range(int(attributes["id_count"]))]
                self.requests.append((attributes["op"], ids))
                done = [i for i in ids if i not in (IDS[5], "ALL")]
                conn.sendall(qf.control_reply("ok", "", done, [i for i in ids if i == IDS[5]]))

    def close(self):
        if self.server:
            self.server.close()
        self.lock.close()


class OnlineManagementTest(QueueFixture):
    def setUp(self):
        super().setUp()
        self.plant_known_queue()

    def test_requests_go_to_qmgr_and_the_files_stay(self):
        qmgr = StandInQmgr(self.spool)
        self.addCleanup(qmgr.close)
        status, out, err = self.postern("queue", "delete", IDS[1], IDS[5])
        self.assertEqual(status, 1, err)
        self.assertEqual(out, f"{IDS[1]}: removed\n")
        self.assertIn(f"{IDS[5]}: not found", err)
        self.assertNotIn("not running", err)
        self.assertEqual(self.where(IDS[1]), "active")  # qmgr's job, not the command's
        self.assertEqual(self.log_lines(), [])
        status, out, err = self.postern("queue", "hold", "ALL")
        self.assertEqual(status, 0, err)
        status, _, err = run(SENDMAIL, "-C", self.conf, "-q")
        self.assertEqual(status, 0, err)
        self.assertEqual(qmgr.requests, [("delete", [IDS[1], IDS[5]]), ("hold", ["ALL"]), ("flush", [])])

    def test_running_master_without_qmgr_changes_nothing(self):
        qmgr = StandInQmgr(self.spool, answer=False)
        self.addCleanup(qmgr.close)
        status, out, err = self.postern("queue", "delete", IDS[1])
        self.assertEqual(status, EX_TEMPFAIL)
        self.assertIn("did not answer", err)
        self.assertIn("nothing was changed", err)
        self.assertEqual(self.where(IDS[1]), "active")
        self.assertEqual(out, "")


class StandInSmtpd:
    """A minimal SMTP server on public/submit that records one transaction."""

    def __init__(self, spool, rcpt_reply="250 2.1.5 Ok"):
        self.commands, self.data, self.rcpt_reply = [], b"", rcpt_reply
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(os.path.join(spool, "public", "submit"))
        self.server.listen(5)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        conn, _ = self.server.accept()
        with conn, conn.makefile("rb") as reader:
            conn.sendall(b"220 stand-in ESMTP\r\n")
            while line := reader.readline():
                command = line.decode().rstrip("\r\n")
                self.commands.append(command)
                verb = command.split(" ")[0].upper()
                if verb == "EHLO":
                    conn.sendall(b"250-stand-in\r\n250-8BITMIME\r\n250 DSN\r\n")
                elif verb == "RCPT":
                    conn.sendall(self.rcpt_reply.encode() + b"\r\n")
                elif verb == "DATA":
                    conn.sendall(b"354 go ahead\r\n")
                    while (data := reader.readline()) != b".\r\n":
                        self.data += data
                    conn.sendall(b"250 2.0.0 Ok: queued as 0123456789ABCDEFG\r\n")
                elif verb == "QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 Ok\r\n")

    def close(self):
        self.server.close()


class SendmailTest(QueueFixture):
    def test_not_running_is_a_clear_temporary_failure(self):
        status, _, err = run(SENDMAIL, "-C", self.conf, "user@example.com", stdin=b"Subject: x\n\nhi\n")
        self.assertEqual(status, EX_TEMPFAIL)
        self.assertIn("sendmail: fatal: postern is not running (connect to ", err)
        self.assertIn("public/submit: ", err)

    def test_bad_flags_and_addresses(self):
        self.assertEqual(run(SENDMAIL, "-C", self.conf, "-z")[0], EX_USAGE)
        status, _, err = run(SENDMAIL, "-C", self.conf, "bad address@@x", stdin=b"x\n")
        self.assertEqual(status, EX_DATAERR)
        self.assertIn("bad recipient address syntax", err)
        status, _, err = run(SENDMAIL, "-C", self.conf, "-t", stdin=b"Subject: none\n\n")
        self.assertEqual(status, EX_USAGE)

    def test_extract_recipients_and_headers_over_smtp(self):
        smtpd = StandInSmtpd(self.spool)
        self.addCleanup(smtpd.close)
        message = (b"To: A <a@example.com>\nBcc: hidden@example.com\nSubject: hello\n\n"
                   b".leading dot\nlong " + b"x" * 5000 + b"\n.\nnot read\n")
        status, _, err = run(SENDMAIL, "-C", self.conf, "-t", "-f", "me@example.org", "-F", "Me Myself",
                             "-N", "failure", "-V", "env1", "cc@example.com", stdin=message)
        self.assertEqual(status, 0, err)
        smtpd.thread.join(5)
        self.assertEqual(smtpd.commands[1:4], [
            "MAIL FROM:<me@example.org> ENVID=env1",
            "RCPT TO:<cc@example.com> NOTIFY=FAILURE",
            "RCPT TO:<a@example.com> NOTIFY=FAILURE"])
        self.assertEqual(smtpd.commands[4], "RCPT TO:<hidden@example.com> NOTIFY=FAILURE")
        self.assertEqual(smtpd.data, b"To: A <a@example.com>\r\nSubject: hello\r\n"
                                     b"From: Me Myself <me@example.org>\r\n\r\n"
                                     b"..leading dot\r\nlong " + b"x" * 5000 + b"\r\n")

    def test_bs_relays_an_smtp_session(self):
        smtpd = StandInSmtpd(self.spool)
        self.addCleanup(smtpd.close)
        session = (b"EHLO me\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
                   b"Subject: bs\r\n\r\nhi\r\n.\r\nQUIT\r\n")
        status, out, err = run(SENDMAIL, "-C", self.conf, "-bs", stdin=session)
        self.assertEqual(status, 0, err)
        self.assertTrue(out.startswith("220 stand-in ESMTP\r\n"), out)
        self.assertIn("250 2.0.0 Ok: queued as 0123456789ABCDEFG\r\n", out)
        self.assertTrue(out.endswith("221 bye\r\n"), out)
        self.assertEqual(smtpd.data, b"Subject: bs\r\n\r\nhi\r\n")

    def test_message_over_the_size_limit(self):
        with open(self.conf, "a") as f:
            f.write("message_size_limit = 1000;\n")
        status, _, err = run(SENDMAIL, "-C", self.conf, "a@example.com", stdin=b"x" * 5000)
        self.assertEqual(status, EX_DATAERR)
        self.assertIn("message too big", err)

    def test_refused_recipient_is_ex_nouser(self):
        smtpd = StandInSmtpd(self.spool, rcpt_reply="550 5.1.1 no such user")
        self.addCleanup(smtpd.close)
        status, _, err = run(SENDMAIL, "-C", self.conf, "-oi", "nobody@example.com", stdin=b"hi\n")
        self.assertEqual(status, 67)
        self.assertIn("550 5.1.1 no such user", err)


class CertAndCheckTest(QueueFixture):
    def test_create_show_and_key_mismatch(self):
        out_dir = os.path.join(self.folder.name, "tls")
        status, out, err = self.postern("cert", "create", "--cn", "mx.test.example", "--bits", "2048",
                                        "--days", "10", "--org", "Test", "--san", "alt.test.example",
                                        "192.0.2.7", "--out", out_dir)
        self.assertEqual(status, 0, err)
        key, cert = os.path.join(out_dir, "key.pem"), os.path.join(out_dir, "cert.pem")
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        status, out, err = self.postern("cert", "show", cert, "--key", key)
        self.assertEqual(status, 0, err)
        self.assertIn("subject:     O=Test, CN=mx.test.example", out)
        self.assertIn("names:       DNS:mx.test.example, DNS:alt.test.example, IP:192.0.2.7", out)
        self.assertIn("self-signed: yes", out)
        self.assertIn("chain: in order, complete", out)
        fingerprint = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", cert],
                                     capture_output=True, text=True).stdout.strip().split("=")[1]
        self.assertIn("sha256:      " + fingerprint, out)
        self.assertEqual(self.postern("cert", "create", "--cn", "x", "--out", out_dir)[0], 1)
        other = os.path.join(self.folder.name, "other")
        self.assertEqual(self.postern("cert", "create", "--cn", "other", "--out", other)[0], 0)
        status, out, _ = self.postern("cert", "show", cert, "--key", os.path.join(other, "key.pem"))
        self.assertEqual(status, 1)
        self.assertIn("DOES NOT MATCH", out)
        self.assertEqual(self.postern("cert", "create", "--cn", "x", "--days", "1", "--years", "1",
                                      "--out", other)[0], EX_USAGE)

        self.write_conf(f'tls = {{ security_level = "may"; cert_file = "{cert}"; key_file = "{key}"; }};')
        status, _, err = self.postern("check")
        self.assertEqual(status, 0, err)
        self.assertRegex(err, r"warning: .*smtpd\.tls\.cert_file: .*expires in \d+ days")
        os.chmod(os.path.join(self.spool, "deferred"), 0o755)
        status, _, err = self.postern("check")
        self.assertEqual(status, 1)
        self.assertIn("deferred: mode 0755, should be 0700", err)


class HelpTest(unittest.TestCase):
    def test_every_command_has_help(self):
        for args in (["queue", "--help"], ["cert", "--help"], ["check", "--help"]):
            status, out, _ = run(POSTERN, *args)
            self.assertEqual(status, 0)
            self.assertIn("usage: postern", out)
        for program, name in ((MAILQ, "mailq"), (SENDMAIL, "sendmail")):
            status, out, _ = run(program, "--help")
            self.assertEqual(status, 0)
            self.assertIn("usage: " + name, out)


if __name__ == "__main__":
    unittest.main()
