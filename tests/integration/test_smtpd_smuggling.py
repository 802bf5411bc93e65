"""test_smtpd_smuggling.py: the published SMTP smuggling sequences (SEC Consult, December
2023, CVE-2023-51764 and kin) against smtpd. Only CR LF . CR LF ends a message: with the
default smtpd.forbid_bare_newline = normalize, each fake end is message content and exactly
one message is queued; with reject, the message is refused (550 5.5.2) and none is queued.
Either way no second, smuggled message ever reaches the queue.
"""
from harness.smtpd import RawSmtp, SmtpdTestCase, queued_id

# The fake ends of data: bare LF and bare CR in every combination, and NUL around the dot.
FAKE_ENDS = [b"\n.\n", b"\n.\r\n", b"\r.\r", b"\r.\r\n", b"\r\n.\n", b"\r\n.\r", b"\n.\r", b"\r.\n",
             b"\r\n\x00.\r\n", b"\r\n.\x00\r\n", b"\n..\n"]

SMUGGLED = (b"MAIL FROM:<admin@sender.test>\r\nRCPT TO:<victim@relay.test>\r\nDATA\r\n"
            b"From: admin@sender.test\r\nSubject: smuggled\r\n\r\nevil\r\n")


def transaction(sequence):
    """A whole session's bytes after EHLO: one message hiding a second behind `sequence`."""
    return (b"MAIL FROM:<user@sender.test>\r\nRCPT TO:<x@relay.test>\r\nDATA\r\n",
            b"Subject: first\r\n\r\nbody" + sequence + SMUGGLED + b"\r\n.\r\nQUIT\r\n")


class SmugglingTest(SmtpdTestCase):
    def run_sequence(self, smtpd, sequence):
        """Sends one smuggling attempt; returns the reply to the end of data."""
        envelope, content = transaction(sequence)
        with RawSmtp(smtpd.port) as c:
            c.expect("220")
            c.expect("250", "EHLO smuggler.test")
            c.send(envelope)
            for code in ("250", "250", "354"):
                self.assertReply(c.reply(), code)
            c.send(content)
            end = c.reply()
            self.assertReply(c.reply(), "221")
            self.assertTrue(c.closed())
        return end

    def test_fake_ends_are_content_when_normalizing(self):
        smtpd = self.start_smtpd()
        for sequence in FAKE_ENDS:
            with self.subTest(sequence=sequence):
                before = set(smtpd.queued_ids())
                end = self.run_sequence(smtpd, sequence)
                self.assertReply(end, "250", "queued as")
                new = set(smtpd.queued_ids()) - before
                self.assertEqual(new, {queued_id(end)})  # one message, not two
                message = smtpd.read(queued_id(end))
                self.assertEqual([r.address for r in message.recipients], ["x@relay.test"])
                self.assertIn(b"MAIL FROM:<admin@sender.test>", message.content)
                self.assertIn(b"Subject: smuggled", message.content)
                # Bare CR and LF are stored as CR LF: no delivery can pass them on as a fake end.
                body = message.content.split(b"\r\n\r\n", 1)[1]
                self.assertNotIn(b"\n", body.replace(b"\r\n", b""))
                self.assertNotIn(b"\r", body.replace(b"\r\n", b""))
        self.assertFalse(any("victim" in r.address for i in smtpd.queued_ids() for r in smtpd.read(i).recipients))

    def test_fake_ends_are_refused_under_reject(self):
        smtpd = self.start_smtpd(smtpd={"forbid_bare_newline": "reject"})
        offset = smtpd.log_offset()
        for sequence in FAKE_ENDS:
            if b"\x00" in sequence:
                continue  # no bare CR or LF: nothing for reject to refuse
            with self.subTest(sequence=sequence):
                end = self.run_sequence(smtpd, sequence)
                self.assertEqual(end, "550 5.5.2 Error: bare <CR> or <LF> received\r\n")
        self.assertEqual(smtpd.queue_names(), [])
        smtpd.wait_log(r": reject: END-OF-MESSAGE from unknown\[127\.0\.0\.1\]: 550 5\.5\.2 ", offset)

    def test_bare_lf_after_the_data_command(self):
        # "DATA\n" ends the command; a "." line right after it is no end of data.
        smtpd = self.start_smtpd()
        with RawSmtp(smtpd.port) as c:
            c.expect("220")
            c.transaction("smuggler.test", "user@sender.test")
            c.send(b"DATA\n")
            self.assertReply(c.reply(), "354")
            c.send(b".\r\nstill content\r\n.\r\n")
            end = c.reply()
            self.assertReply(end, "250", "queued as")
        self.assertIn(b"still content", smtpd.read(queued_id(end)).content)
