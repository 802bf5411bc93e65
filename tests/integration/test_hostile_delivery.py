"""test_hostile_delivery.py: a whole postern (master, smtpd, qmgr, smtp workers) between a
client and a hostile or odd next hop, end to end:

- a malicious server's replies with NUL, bare CR and LF, escape sequences, invalid UTF-8 and
  a fake end of data in them: nothing of it reaches the log, the queue file's reason, the
  `postern queue` output or the bounce notice unescaped;
- a server whose reply never ends (thousands of lines): the delivery is deferred, the
  worker lives on;
- shell metacharacters in addresses: taken as they are (RFC 5321 allows them), passed on
  verbatim, and no shell ever runs them.

The worker alone against such servers is in test_delivery_session.py (escaping of one
reply, fake capabilities behind the greeting) and test_delivery_tls.py (plaintext behind
the STARTTLS reply).
"""
import email
import email.policy
import json
import os
import shutil
import tempfile

from harness import PosternTestCase, queuefile
from hostile_support import assert_clean_text, read_bytes

EVIL_FAIL = (b"550-5.1.1 first\x00line\r\n550-bare\rcr\r\n550-\x1b[31mred\x1b[0m \xff\xfe\r\n"
             b"550-\r\n550-.\r\n550-MAIL FROM:<evil@attacker.test>\r\n550 5.1.1 last\r\n")
EVIL_DEFER = b"451-4.3.0 try\x00again\r\n451 4.3.0 later\x07\x1b]0;title\x07\r\n"
# A bare LF ends a reply line: "evil\x1b line" is then no reply line at all (the session
# ends; the recipient is deferred, where Postfix would read on past the garbage).
EVIL_LF = b"250-ok\x00\nevil\x1b line\r\n250 ok\r\n"
ENDLESS = b"".join(b"250-line %d\r\n" % n for n in range(5000)) + b"250 ok\r\n"


def hostile_replies(session, line):
    """The sink's hook: hostile replies to RCPT for evil-fail@, evil-defer@, evil-lf@ and
    endless@."""
    if line.upper().startswith("RCPT TO:<EVIL-FAIL@"):
        return EVIL_FAIL
    if line.upper().startswith("RCPT TO:<EVIL-DEFER@"):
        return EVIL_DEFER
    if line.upper().startswith("RCPT TO:<EVIL-LF@"):
        return EVIL_LF
    if line.upper().startswith("RCPT TO:<ENDLESS@"):
        return ENDLESS
    return None


def notice_text(message):
    """The text of every part of a delivery notice, decoded."""
    parsed = email.message_from_bytes(message.data, policy=email.policy.default)
    return "\n".join(str(part.get_payload(decode=True) or b"", "utf-8", "replace") for part in parsed.walk()
                     if not part.is_multipart())


class HostileServerTest(PosternTestCase):
    def postern_to(self, sink, **config):
        return self.start_postern(routes=({"domain": "*", "nexthop": f"[127.0.0.1]:{sink.port}"},),
                                  qmgr={"minimal_backoff_time": 60, "maximal_backoff_time": 60}, **config)

    def test_hostile_replies_reach_nothing_unescaped(self):
        sink = self.mail_sink(hook=hostile_replies)
        mx = self.postern_to(sink)
        result = mx.send(mail_from="sender@client.test",
                         rcpt_to=["evil-fail@far.test", "evil-defer@far.test", "evil-lf@far.test"])
        self.assertTrue(result.ok, result)
        [notice] = sink.wait_messages(1, timeout=20)
        self.assertEqual((notice.mail_from, notice.rcpt_to), ("", ["sender@client.test"]))
        assert_clean_text(self, notice.data, "the bounce notice", crlf_lines=True)
        self.assertNotIn(b"\r\n.\r\n", notice.data)
        text = notice_text(notice)
        self.assertIn("first\\x00line", text)
        self.assertIn("\\x1B[31mred", text)
        self.assertIn("MAIL FROM:<evil@attacker.test>", text)  # harmless once it is on one line
        # The deferred recipient's reason in the queue file, and in every view of the queue.
        self.wait_for(lambda: mx.queue_files("deferred") == [result.queue_id], 20, "the message in deferred/")
        path = os.path.join(mx.queue_directory, "deferred", result.queue_id)
        recipients = {r.address: r for r in queuefile.read(path).recipients}
        self.assertEqual(recipients["evil-fail@far.test"].state, "bounced")
        self.assertEqual(recipients["evil-defer@far.test"].state, "deferred")
        self.assertIn("try\\x00again", recipients["evil-defer@far.test"].reason)
        self.assertEqual(recipients["evil-lf@far.test"].state, "deferred")
        self.assertIn("evil\\x1B line", recipients["evil-lf@far.test"].reason)
        for recipient in recipients.values():
            assert_clean_text(self, recipient.reason.encode(), "a reason in the queue file")
        for args in (("queue",), ("queue", "--json"), ("queue", "show", result.queue_id)):
            rc, out, err = mx.cli(*args)
            self.assertEqual(rc, 0, err)
            self.assertIn("try\\x00again" if args[-1] != "--json" else "try\\\\x00again", out)
            assert_clean_text(self, out.encode(), f"postern {' '.join(args)}")
        [entry] = [json.loads(line) for line in mx.cli("queue", "--json")[1].splitlines()]
        self.assertEqual(entry["queue_id"], result.queue_id)
        assert_clean_text(self, read_bytes(mx.log_path), "postern's log")

    def test_a_reply_that_never_ends_defers_and_the_worker_lives_on(self):
        sink = self.mail_sink(hook=hostile_replies)
        mx = self.postern_to(sink)
        workers = mx.children("smtp")
        offset = mx.log_offset()
        result = mx.send(rcpt_to=["endless@far.test"])
        self.assertTrue(result.ok, result)
        found = mx.wait_log(rf"{result.queue_id}: to=<endless@far.test>, .*status=deferred", offset, timeout=20)
        self.assertNotIn("line 4999", found.line)
        self.assertEqual(mx.children("smtp"), workers)  # no worker died of it
        result = mx.send(rcpt_to=["ok@far.test"])
        [message] = [m for m in sink.wait_messages(1, timeout=20)]
        self.assertEqual(message.rcpt_to, ["ok@far.test"])
        assert_clean_text(self, read_bytes(mx.log_path), "postern's log")


# Each is a valid address (RFC 5321: atext, or a quoted string) that would do harm if any
# part of postern handed it to a shell: every command writes a file in the test folder.
# The folder is short: a local part has at most 64 characters.
def shell_addresses(folder):
    mark = os.path.join(folder, "")
    return [
        f"`touch${{IFS}}{mark}1`@far.test",
        f"\"$(touch {mark}2)\"@far.test",
        f"|touch${{IFS}}{mark}3@far.test",
        f"\"|/bin/sh -c 'touch {mark}4'\"@far.test",
        f"\"a;touch {mark}5;b\"@far.test",
        f"\"x&&touch {mark}6||\"@far.test",
        f"\"\\\"$(touch {mark}7)\\\"\"@far.test",
        "$HOME{}~!#%^*+=?'@far.test",
    ]


class ShellMetacharacterTest(PosternTestCase):
    def test_addresses_are_passed_on_verbatim_and_never_run(self):
        sink = self.mail_sink()
        mx = self.start_postern(routes=({"domain": "*", "nexthop": f"[127.0.0.1]:{sink.port}"},))
        marks = tempfile.mkdtemp(prefix="pw", dir="/tmp")
        self.addCleanup(shutil.rmtree, marks, True)
        os.chmod(marks, 0o1777)  # were a daemon to run a command, it could write here
        addresses = shell_addresses(marks)
        sender = f"\"$(touch {marks}/0)\"@client.test"
        result = mx.send(mail_from=sender, rcpt_to=addresses)
        self.assertTrue(result.ok, result)
        self.assertEqual(result.refused, {})
        [message] = sink.wait_messages(1, timeout=20)
        self.assertEqual(message.mail_from, sender)
        self.assertEqual(sorted(message.rcpt_to), sorted(addresses))
        mx.wait_log(rf"{result.queue_id}: removed", timeout=20)
        self.assertEqual(os.listdir(marks), [])
        assert_clean_text(self, read_bytes(mx.log_path), "postern's log")
