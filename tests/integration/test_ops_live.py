"""test_ops_live.py: the operator's commands against a real, running postern with real
traffic to a test sink: the mailq listing of deferred and in-flight mail (line by line, and
the same once postern is stopped), the JSON, delete and hold of a message while it is being
delivered (never delivered after the reply, delivered exactly once after release), sendmail
-t through public/submit arriving with its headers, and pflogsumm's counts over the log.
"""
import json
import os
import re
import subprocess
import threading
import unittest

from harness import PosternTestCase
from harness.postern import bin_path, postern_binary
from harness.smtpd import SmtpdTestCase

SENDMAIL, MAILQ = bin_path("sendmail"), bin_path("mailq")
DEFER_REPLY = "450 4.2.0 Recipient temporarily unavailable (test sink)"
RCPT_COLUMN = " " * 47
HEADING = "----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------"
ENTRY = re.compile(r"^(?P<id>[0-9A-Za-z]{17})(?P<mark>[*!]?) +(?P<size>\d+) "
                   r"(?P<time>\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d) (?P<sender>\S+)$")


def run(program, *args, stdin=None, env=None):
    done = subprocess.run([program, *args], input=stdin, capture_output=True, timeout=60, env=env)
    return done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")


class BlockingRecipients:
    """rcpt_replies for the sink: slow@ waits (until released) before its 250, so a test can
    act while a delivery is in flight; the rest as the sink's defaults."""

    def __init__(self):
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, address, session):
        local = address.lower().partition("@")[0]
        if local == "slow":
            self.entered.set()
            self.release.wait(30)
            return "250 2.1.5 Ok"
        return {"defer": DEFER_REPLY, "fail": "550 5.1.1 unknown user (test sink)"}.get(local)


class LiveQueueTest(PosternTestCase):
    def start(self, **config):
        self.gate = BlockingRecipients()
        self.addCleanup(self.gate.release.set)
        self.sink = self.mail_sink(rcpt_replies=self.gate)
        routes = ({"domain": "*", "nexthop": f"[127.0.0.1]:{self.sink.port}"},)
        self.mx = self.start_postern(routes=routes, qmgr={"minimal_backoff_time": 60,
                                                          "maximal_backoff_time": 120}, **config)
        return self.mx

    def queue(self, *args):
        rc, out, err = self.mx.cli("queue", *args)
        self.assertEqual(rc, 0, err)
        return out

    def test_listing_of_deferred_mail_running_then_stopped(self):
        mx = self.start()
        sent = mx.send(mail_from="alice@example.test", rcpt_to=["defer@far.test", "ok@far.test"])
        self.assertTrue(sent.ok, sent)
        mx.wait_log(rf"{sent.queue_id}: to=<defer@far.test>.*status=deferred")
        self.wait_for(lambda: sent.queue_id in mx.queue_files("deferred"), 10, "the message in deferred/")

        [record] = [json.loads(line) for line in self.queue("--json").splitlines()]
        self.assertEqual((record["queue_id"], record["queue_name"], record["sender"]),
                         (sent.queue_id, "deferred", "alice@example.test"))
        [recipient] = record["recipients"]  # ok@ was delivered: no longer listed
        self.assertEqual(recipient["address"], "defer@far.test")
        self.assertIn("450 4.2.0 Recipient temporarily unavailable", recipient["delay_reason"])

        listing = self.queue()
        lines = listing.split("\n")
        self.assertEqual(lines[0], HEADING)
        entry = ENTRY.match(lines[1])
        self.assertIsNotNone(entry, lines[1])
        self.assertEqual((entry["id"], entry["mark"], int(entry["size"]), entry["sender"]),
                         (sent.queue_id, "", record["message_size"], "alice@example.test"))
        reason = recipient["delay_reason"]
        self.assertEqual(lines[2], " " * max(0, 76 - len(reason)) + f"({reason})")
        self.assertEqual(lines[3:], [RCPT_COLUMN + "defer@far.test", "",
                                     f"-- {record['message_size'] // 1024} Kbytes in 1 Request.", ""])
        self.assertEqual(run(MAILQ, "-C", mx.conf_path)[1], listing)

        mx.stop()
        self.assertEqual(self.queue(), listing)  # read from the files: the same
        rc, out, err = mx.cli("queue", "delete", sent.queue_id)
        self.assertEqual((rc, out), (0, f"{sent.queue_id}: removed\n"), err)
        self.assertIn("not running", err)
        self.assertEqual(self.queue(), "Mail queue is empty\n")

    def send_slow(self):
        """A message whose delivery is held at RCPT by the sink; returns its queue ID."""
        sent = self.mx.send(mail_from="alice@example.test", rcpt_to=["slow@far.test"])
        self.assertTrue(sent.ok, sent)
        self.assertTrue(self.gate.entered.wait(15), "the delivery never reached the sink")
        return sent.queue_id

    def test_delete_during_delivery_is_never_delivered(self):
        mx = self.start()
        queue_id = self.send_slow()
        self.assertIn(f"{queue_id}*", self.queue())  # being delivered
        rc, out, err = mx.cli("queue", "delete", queue_id)
        self.assertEqual((rc, out), (0, f"{queue_id}: removed\n"), err)
        self.assertNotIn("not running", err)
        self.gate.release.set()
        self.sink.wait_sessions(1, timeout=15)
        self.assertEqual(self.sink.messages, [])
        self.assertEqual(mx.all_queue_files(), {q: [] for q in mx.all_queue_files()})
        self.assertFalse([line for line in mx.log_lines() if queue_id in line and "status=sent" in line])
        mx.wait_log(rf"postern/qmgr\[\d+\]: {queue_id}: removed")

    def test_hold_during_delivery_then_release_delivers_once(self):
        mx = self.start()
        queue_id = self.send_slow()
        rc, out, err = mx.cli("queue", "hold", queue_id)
        self.assertEqual((rc, out), (0, f"{queue_id}: placed on hold\n"), err)
        self.gate.release.set()
        self.sink.wait_sessions(1, timeout=15)
        self.assertEqual(self.sink.messages, [])
        self.assertEqual(mx.queue_files("hold"), [queue_id])
        self.assertIn(f"{queue_id}!", self.queue())
        rc, out, err = mx.cli("queue", "release", queue_id)
        self.assertEqual((rc, out), (0, f"{queue_id}: released from hold\n"), err)
        [message] = self.sink.wait_messages(1, timeout=20)
        self.assertEqual(message.rcpt_to, ["slow@far.test"])
        self.wait_for(lambda: not any(mx.all_queue_files().values()), 10, "an empty queue")
        self.assertEqual(len(self.sink.messages), 1)
        self.assertEqual(self.sink.duplicates(), {})

    def test_sendmail_t_arrives_with_its_headers(self):
        mx = self.start()
        long_line = b"x" * 900
        message = (b"To: Ann <ok@far.test>\nCc: ok2@far.test\nBcc: hidden@far.test\n"
                   b"Subject: sendmail test\n\n.a line with a leading dot\n" + long_line + b"\nend\n")
        rc, _, err = run(SENDMAIL, "-C", mx.conf_path, "-t", "-i", "-f", "me@example.test", "-F", "Me Too",
                         stdin=message)
        self.assertEqual(rc, 0, err)
        [received] = self.sink.wait_messages(1, timeout=20)
        self.assertEqual(sorted(received.rcpt_to), ["hidden@far.test", "ok2@far.test", "ok@far.test"])
        self.assertEqual(received.mail_from, "me@example.test")
        headers = received.headers
        self.assertEqual(headers["To"], "Ann <ok@far.test>")
        self.assertEqual(headers["Cc"], "ok2@far.test")
        self.assertIsNone(headers["Bcc"])
        self.assertEqual(headers["From"], "Me Too <me@example.test>")
        self.assertEqual(headers["Subject"], "sendmail test")
        self.assertIsNotNone(headers["Message-ID"])
        self.assertEqual(received.body, b".a line with a leading dot\r\n" + long_line + b"\r\nend\r\n")

    def test_show_flush_requeue_and_bp_on_a_running_postern(self):
        mx = self.start()
        sent = mx.send(mail_from="alice@example.test", rcpt_to=["defer@far.test"], subject="shown")
        self.wait_for(lambda: sent.queue_id in mx.queue_files("deferred"), 15, "the message in deferred/")
        shown = self.queue("show", sent.queue_id)
        self.assertIn("queue_name: deferred\n", shown)
        self.assertRegex(shown, r"recipient: defer@far\.test\n  status: deferred, dsn=4\.2\.0, last attempt "
                                r".*: host 127\.0\.0\.1\[127\.0\.0\.1\] said: 450 4\.2\.0")
        self.assertIn("Subject: shown\n", shown)
        for command in ([SENDMAIL, "-C", mx.conf_path, "-q"], [postern_binary(),
                        "-c", mx.conf_path, "queue", "requeue", sent.queue_id]):
            offset = mx.log_offset()
            rc, out, err = run(*command)
            self.assertEqual(rc, 0, err)
            mx.wait_log(rf"{sent.queue_id}: to=<defer@far.test>.*status=deferred", offset)  # tried again now
        mx.wait_log(rf"postern/qmgr\[\d+\]: {sent.queue_id}: requeued")
        self.wait_for(lambda: sent.queue_id in mx.queue_files("deferred"), 15, "the message back in deferred/")
        rc, out, _ = run(SENDMAIL, "-C", mx.conf_path, "-bp")
        self.assertEqual((rc, out), (0, self.queue()))

    def test_check_passes_on_a_running_postern(self):
        mx = self.start()
        rc, _, err = mx.cli("check")
        self.assertEqual(rc, 0, err)


class SendmailToSmtpdTest(SmtpdTestCase):
    """sendmail into a real smtpd (alone: no qmgr takes the message out of incoming/), then
    the queue commands on what smtpd wrote."""

    def test_sendmail_t_queues_the_message_with_its_headers(self):
        smtpd = self.start_smtpd()
        message = (b"To: Ann <ann@relay.test>, bob@relay.test\nBcc: hidden@relay.test\n"
                   b"Subject: queued by sendmail\n\n.dot line\n" + b"y" * 3000 + b"\n")
        rc, _, err = run(SENDMAIL, "-C", smtpd.conf_path, "-t", "-v", "-f", "me@mx.postern.test",
                         "-N", "success,failure", "carl@relay.test", stdin=message)
        self.assertEqual(rc, 0, err)
        [queued] = smtpd.wait_queued(1)
        self.assertIn(f"sendmail: queued as {smtpd.queued_ids()[0]}", err)
        self.assertEqual(queued.sender, "me@mx.postern.test")
        self.assertEqual([r.address for r in queued.recipients],
                         ["carl@relay.test", "ann@relay.test", "bob@relay.test", "hidden@relay.test"])
        self.assertEqual(queued.header("To"), ["Ann <ann@relay.test>, bob@relay.test"])
        self.assertEqual(queued.header("Bcc"), [])
        self.assertEqual(len(queued.header("From")), 1)
        self.assertTrue(queued.content.endswith(b"\r\n\r\n.dot line\r\n" + b"y" * 3000 + b"\r\n"))

        queue_id = smtpd.queued_ids()[0]
        postern = postern_binary()
        rc, out, err = run(postern, "-c", smtpd.conf_path, "queue", "--json")
        self.assertEqual(rc, 0, err)
        [record] = [json.loads(line) for line in out.splitlines()]
        self.assertEqual((record["queue_id"], record["queue_name"], record["message_size"]),
                         (queue_id, "incoming", len(queued.content)))
        self.assertEqual([r["address"] for r in record["recipients"]],
                         ["carl@relay.test", "ann@relay.test", "bob@relay.test", "hidden@relay.test"])
        rc, out, _ = run(postern, "-c", smtpd.conf_path, "queue", "show", queue_id, "--headers")
        self.assertIn("Subject: queued by sendmail\n", out)
        self.assertNotIn("Bcc:", out)
        rc, out, err = run(postern, "-c", smtpd.conf_path, "queue", "hold", queue_id)
        self.assertEqual((rc, out), (0, f"{queue_id}: placed on hold\n"), err)
        self.assertTrue(smtpd.has_log(rf"postern/postsuper\[\d+\]: {queue_id}: placed on hold$"))

    def test_bs_speaks_to_smtpd(self):
        smtpd = self.start_smtpd()
        session = (b"EHLO me\r\nMAIL FROM:<me@mx.postern.test>\r\nRCPT TO:<x@relay.test>\r\nDATA\r\n"
                   b"Subject: bs\r\n\r\nhi\r\n.\r\nQUIT\r\n")
        rc, out, err = run(SENDMAIL, "-C", smtpd.conf_path, "-bs", stdin=session)
        self.assertEqual(rc, 0, err)
        self.assertIn("250 2.0.0 Ok: queued as ", out)
        self.assertTrue(out.rstrip().split("\r\n")[-1].startswith("221"), out)
        smtpd.wait_queued(1)


PFLOGSUMM = "/usr/sbin/pflogsumm"


@unittest.skipUnless(os.access(PFLOGSUMM, os.X_OK), "pflogsumm is not installed")
class PflogsummTest(PosternTestCase):
    def test_pflogsumm_counts_what_was_sent(self):
        sink = self.mail_sink()
        routes = ({"domain": "*", "nexthop": f"[127.0.0.1]:{sink.port}"},)
        # 127.0.0.1 outside mynetworks: far.test is accepted (relay_domains), other.test refused.
        mx = self.start_postern(routes=routes, mynetworks=["192.0.2.0/24"], relay_domains=["far.test"],
                                qmgr={"minimal_backoff_time": 60, "maximal_backoff_time": 120})
        ids = []
        for n in range(3):
            sent = mx.send(mail_from="a@example.test", rcpt_to=[f"ok{n}@far.test" if n else "ok@far.test"])
            self.assertTrue(sent.ok, sent)
            ids.append(sent.queue_id)
        deferred = mx.send(mail_from="b@example.test", rcpt_to=["defer@far.test"])
        bounced = mx.send(mail_from="", rcpt_to=["fail@far.test"])  # null sender: no bounce notice
        refused = mx.send(mail_from="c@example.test", rcpt_to=["someone@other.test"])
        self.assertTrue(deferred.ok and bounced.ok, (deferred, bounced))
        self.assertFalse(refused.ok)
        mx.wait_log(rf"{deferred.queue_id}: to=<defer@far.test>.*status=deferred")
        mx.wait_log(rf"{bounced.queue_id}: to=<fail@far.test>.*status=bounced")
        sink.wait_messages(3)
        for queue_id in ids:
            mx.wait_log(rf"{queue_id}: to=<.*status=sent")

        done = subprocess.run([PFLOGSUMM, "--syslog-name=postern", mx.log_path], capture_output=True,
                              text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)
        totals = dict((name, int(count)) for count, name in
                      re.findall(r"^\s+(\d+)\s+(received|delivered|deferred|bounced|rejected)\b",
                                 done.stdout, re.MULTILINE))
        self.assertEqual(totals, {"received": 5, "delivered": 3, "deferred": 1, "bounced": 1,
                                  "rejected": 1}, done.stdout)


if __name__ == "__main__":
    unittest.main()
