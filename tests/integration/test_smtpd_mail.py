"""test_smtpd_mail.py: smtpd alone takes mail from real clients (smtplib, swaks, raw bytes)
and each message arrives intact in incoming/: plain, pipelined, BDAT, 8-bit, SMTPUTF8 and
DSN parameters, local submissions on public/submit, relay control, the qmgr notice, and the
log lines in Postfix's formats. The queue files are read with harness.queuefile, a reader
independent of the C++ one.
"""
import os
import socket
import struct
import threading

from harness import free_port, make_message, new_message_id, smtp_send
from harness.smtpd import RawSmtp, SmtpdTestCase, StandaloneSmtpd, queued_id, split_received


class PlainMailTest(SmtpdTestCase):
    def test_smtplib_message_arrives_intact_with_postfix_log_lines(self):
        smtpd = self.start_smtpd()
        message_id = new_message_id()
        data = make_message("a@sender.test", ["b@relay.test"], subject="plain", message_id=message_id)
        result = smtp_send(smtpd.port, mail_from="a@sender.test", rcpt_to=["b@relay.test"], data=data)
        self.assertTrue(result.ok, result)
        [queued] = smtpd.wait_queued(1)
        self.assertEqual(smtpd.queued_ids(), [result.queue_id])
        self.assertEqual((queued.sender, [r.address for r in queued.recipients]), ("a@sender.test", ["b@relay.test"]))
        self.assertEqual((queued.client_hostname, queued.client_address, queued.helo, queued.protocol),
                         ("unknown", "127.0.0.1", "client.test", "ESMTP"))
        self.assertEqual(queued.recipients[0].state, "pending")
        received, rest = split_received(queued.content)
        self.assertEqual(rest, data)
        self.assertTrue(received.startswith(b"Received: from client.test (unknown [127.0.0.1])\r\n"
                                            b"\tby mx.postern.test (postern) with ESMTP id " +
                                            result.queue_id.encode() + b"\r\n\tfor <b@relay.test>; "), received)
        qid = result.queue_id
        smtpd.wait_log(r"disconnect from unknown\[127\.0\.0\.1\] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5$")
        for pattern in (r"connect from unknown\[127\.0\.0\.1\]$", rf"{qid}: client=unknown\[127\.0\.0\.1\]$",
                        rf"{qid}: message-id={message_id}$"):
            self.assertTrue(smtpd.has_log(pattern), pattern)

    def test_swaks_plain_and_pipelined(self):
        smtpd = self.start_smtpd()
        for pipeline in (False, True):
            rc, transcript = self.swaks(smtpd.port, to="x@relay.test", mail_from="s@sender.test",
                                        pipeline=pipeline, body="swaks body line")
            self.assertEqual(rc, 0, transcript)
            self.assertIn("queued as", transcript)
        queued = smtpd.wait_queued(2)
        for message in queued:
            self.assertEqual(message.sender, "s@sender.test")
            self.assertIn(b"\r\n\r\nswaks body line\r\n", message.content)

    def test_raw_pipelined_group_and_several_messages_per_session(self):
        smtpd = self.start_smtpd()
        with RawSmtp(smtpd.port) as c:
            c.expect("220")
            c.expect("250", "EHLO raw.test")
            ids = []
            for n in range(3):
                c.send(f"MAIL FROM:<p{n}@sender.test>\r\nRCPT TO:<a@relay.test>\r\nRCPT TO:<b@relay.test>\r\nDATA\r\n")
                for code in ("250", "250", "250", "354"):
                    self.assertReply(c.reply(), code)
                c.send(f"Subject: {n}\r\n\r\n.leading dot is stuffed\r\n..\r\n.\r\n")
                reply = c.reply()
                self.assertReply(reply, "250", "2.0.0 Ok: queued as ")
                ids.append(queued_id(reply))
            c.expect("221", "QUIT")
        self.assertEqual(smtpd.queued_ids(), sorted(ids))
        for n, qid in enumerate(ids):
            message = smtpd.read(qid)
            self.assertEqual(message.sender, f"p{n}@sender.test")
            self.assertEqual([r.address for r in message.recipients], ["a@relay.test", "b@relay.test"])
            self.assertEqual(split_received(message.content)[1], f"Subject: {n}\r\n\r\nleading dot is stuffed\r\n.\r\n".encode())

    def test_bdat_chunks(self):
        smtpd = self.start_smtpd()
        body = b"Subject: chunked\r\n\r\n" + bytes(range(32, 127)) * 50 + b"\r\n.\r\n..\r\n"
        with RawSmtp(smtpd.port) as c:
            c.expect("220")
            self.assertIn("CHUNKING", c.expect("250", "EHLO raw.test"))
            c.expect("250", "MAIL FROM:<b@sender.test>")
            c.expect("250", "RCPT TO:<x@relay.test>")
            c.send(b"BDAT 1000\r\n" + body[:1000])
            self.assertReply(c.reply(), "250", "Ok: 1000 bytes")
            rest = body[1000:]
            c.send(b"BDAT %d LAST\r\n" % len(rest) + rest)
            reply = c.reply()
            self.assertReply(reply, "250", "queued as")
            c.expect("221", "QUIT")
        message = smtpd.read(queued_id(reply))
        self.assertEqual(split_received(message.content)[1], body)  # BDAT content is not unstuffed

    def test_8bit_body(self):
        smtpd = self.start_smtpd()
        data = "Subject: 8bit\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGrüße, 日本語 \xff\r\n".encode("utf-8")
        data = data.replace("\xff".encode("utf-8"), b"\xff")
        result = smtp_send(smtpd.port, rcpt_to=["x@relay.test"], data=data, mail_options=["BODY=8BITMIME"])
        self.assertTrue(result.ok, result)
        [message] = smtpd.wait_queued(1)
        self.assertEqual(message.body, "8BITMIME")
        self.assertEqual(split_received(message.content)[1], data)

    def test_smtputf8_addresses(self):
        smtpd = self.start_smtpd()
        data = "From: jöran@sender.test\r\nSubject: ünïcödé\r\n\r\nhej\r\n".encode("utf-8")
        result = smtp_send(smtpd.port, mail_from="jöran@sender.test", rcpt_to=["åsa@relay.test"], data=data,
                           mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        self.assertTrue(result.ok, result)
        [message] = smtpd.wait_queued(1)
        self.assertTrue(message.smtputf8)
        self.assertEqual((message.sender, message.recipients[0].address), ("jöran@sender.test", "åsa@relay.test"))
        received, rest = split_received(message.content)
        self.assertIn(b" with UTF8SMTP id ", received)
        self.assertEqual(rest, data)

    def test_unicode_address_without_smtputf8_is_refused(self):
        smtpd = self.start_smtpd()
        with RawSmtp(smtpd.port) as c:
            c.expect("220")
            c.expect("250", "EHLO raw.test")
            self.assertReply(c.command("MAIL FROM:<jöran@sender.test>"), "553", "5.6.7")

    def test_dsn_parameters_are_kept(self):
        smtpd = self.start_smtpd()
        result = smtp_send(smtpd.port, mail_from="a@sender.test", rcpt_to=["x@relay.test"],
                           mail_options=["RET=HDRS", "ENVID=env+2Bid"],
                           rcpt_options=["NOTIFY=SUCCESS,DELAY", "ORCPT=rfc822;orig+2Bx@relay.test"])
        self.assertTrue(result.ok, result)
        [message] = smtpd.wait_queued(1)
        self.assertEqual((message.ret, message.envid), ("HDRS", "env+id"))
        self.assertEqual(message.recipients[0].notify, 1 | 4)
        self.assertEqual(message.recipients[0].orcpt, "rfc822;orig+x@relay.test")


class ListenerAndCommandTest(SmtpdTestCase):
    def test_ipv4_and_ipv6_listeners(self):
        smtpd = StandaloneSmtpd(self.registry)
        port6 = free_port()
        smtpd.config["smtpd"]["listen"].append(f"[::1]:{port6}")
        smtpd.start()
        result = smtp_send(port6, host="::1", rcpt_to=["x@relay.test"])
        self.assertTrue(result.ok, result)
        self.assertTrue(smtp_send(smtpd.port, rcpt_to=["y@relay.test"]).ok)
        message = smtpd.read(result.queue_id)
        self.assertEqual(message.client_address, "::1")
        self.assertTrue(message.content.startswith(b"Received: from client.test (unknown [IPv6:::1])\r\n"))
        smtpd.wait_log(r"connect from unknown\[::1\]$")

    def test_the_other_commands(self):
        smtpd = self.start_smtpd()
        with RawSmtp(smtpd.port) as c:
            self.assertEqual(c.reply(), "220 mx.postern.test ESMTP postern\r\n")
            self.assertEqual(c.command("HELO old.test"), "250 mx.postern.test\r\n")
            self.assertEqual(c.command("NOOP"), "250 2.0.0 Ok\r\n")
            self.assertEqual(c.command("VRFY someone"), "252 2.0.0 someone\r\n")
            self.assertReply(c.command("HELP"), "214 2.0.0 ")
            c.expect("250", "MAIL FROM:<a@sender.test>")
            self.assertEqual(c.command("RSET"), "250 2.0.0 Ok\r\n")
            self.assertEqual(c.command("RCPT TO:<x@relay.test>"), "503 5.5.1 Error: need MAIL command\r\n")
            self.assertEqual(c.command("STARTTLS"), "502 5.5.1 Error: command not implemented\r\n")
            self.assertEqual(c.command("XYZZY"), "502 5.5.2 Error: command not recognized\r\n")
            self.assertEqual(c.command("QUIT"), "221 2.0.0 Bye\r\n")
            self.assertTrue(c.closed())
        smtpd.wait_log(r"disconnect from unknown\[127\.0\.0\.1\] helo=1 starttls=0/1 mail=1 rcpt=0/1 rset=1 "
                       r"noop=1 vrfy=1 help=1 quit=1 unknown=0/1 commands=7/10$")


class RelayTest(SmtpdTestCase):
    def test_relay_denied_outside_mynetworks(self):
        smtpd = self.start_smtpd(mynetworks=["192.0.2.0/24"], relay_domains=["relay.test", ".sub.test"])
        offset = smtpd.log_offset()
        with RawSmtp(smtpd.port) as c:
            c.expect("220")
            c.expect("250", "EHLO outside.test")
            c.expect("250", "MAIL FROM:<a@sender.test>")
            self.assertEqual(c.command("RCPT TO:<x@elsewhere.test>"),
                             "554 5.7.1 <x@elsewhere.test>: Relay access denied\r\n")
            self.assertReply(c.command("RCPT TO:<x@deep.sub.test>"), "250")
            self.assertReply(c.command("RCPT TO:<x@sub.test>"), "554")
            self.assertReply(c.command("RCPT TO:<x@RELAY.TEST>"), "250")
            c.expect("221", "QUIT")
        smtpd.wait_log(r"NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 554 5\.7\.1 <x@elsewhere\.test>: "
                       r"Relay access denied; from=<a@sender\.test> to=<x@elsewhere\.test> proto=ESMTP "
                       r"helo=<outside\.test>$", offset)
        smtpd.wait_log(r"disconnect from .* rcpt=2/4 quit=1 commands=5/7$", offset)

    def test_mynetworks_relays_anywhere(self):
        smtpd = self.start_smtpd()
        result = smtp_send(smtpd.port, rcpt_to=["x@anywhere.example", "y@else.example"])
        self.assertTrue(result.ok, result)
        self.assertEqual(result.refused, {})


class LocalSubmissionTest(SmtpdTestCase):
    def test_submit_socket_marks_the_message_local(self):
        smtpd = self.start_smtpd(mynetworks=[])
        with RawSmtp(path=smtpd.submit_path()) as c:
            c.expect("220")
            self.assertNotIn("STARTTLS", c.expect("250", "EHLO localhost"))
            c.expect("250", "MAIL FROM:<root@mx.postern.test>")
            c.expect("250", "RCPT TO:<anyone@anywhere.example>")  # trusted: relays anywhere
            c.expect("354", "DATA")
            c.send("Subject: from sendmail\r\n\r\nbody\r\n.\r\n")
            reply = c.reply()
            self.assertReply(reply, "250", "queued as")
        qid = queued_id(reply)
        message = smtpd.read(qid)
        received, rest = split_received(message.content)
        self.assertTrue(received.startswith(f"Received: by mx.postern.test (postern, from userid {os.getuid()})\r\n"
                                            f"\tid {qid}; ".encode()), received)
        self.assertTrue(rest.startswith(b"Subject: from sendmail\r\nDate: "), rest)
        [message_id] = message.header("Message-ID")
        self.assertRegex(message_id, rf"^<\d{{14}}\.{qid}@mx\.postern\.test>$")
        self.assertTrue(rest.endswith(b"\r\n\r\nbody\r\n"))
        smtpd.wait_log(rf"{qid}: uid={os.getuid()} from=<root@mx\.postern\.test>$")
        smtpd.wait_log(rf"{qid}: message-id={message_id}$")


def _read_frames(conn, want, deadline_s=10.0):
    """Reads postern IPC frames from conn until `want` have come; returns their bodies."""
    conn.settimeout(deadline_s)
    data, bodies = b"", []
    while len(bodies) < want:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        while len(data) >= 8 and len(data) >= 8 + struct.unpack(">I", data[4:8])[0]:
            length = struct.unpack(">I", data[4:8])[0]
            assert data[:4] == b"PSTN"
            bodies.append(data[8:8 + length])
            data = data[8 + length:]
    return bodies


class QmgrNoticeTest(SmtpdTestCase):
    def test_each_committed_message_is_announced_to_qmgr(self):
        smtpd = self.start_smtpd()
        path = os.path.join(smtpd.queue_directory, "private", "qmgr")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(listener.close)
        listener.bind(path)
        os.chmod(path, 0o666)
        listener.listen(5)
        accepted = []
        thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True)
        thread.start()
        first = smtp_send(smtpd.port, rcpt_to=["x@relay.test"])
        second = smtp_send(smtpd.port, rcpt_to=["y@relay.test"])
        self.assertTrue(first.ok and second.ok)
        thread.join(10)
        [conn] = accepted
        self.addCleanup(conn.close)
        bodies = _read_frames(conn, 2)
        self.assertEqual(len(bodies), 2)
        for body, result in zip(bodies, (first, second)):
            self.assertIn(b"qmgr-notify", body)
            self.assertIn(result.queue_id.encode(), body)
        # One persistent connection for both notices.
        listener.settimeout(0.5)
        with self.assertRaises(socket.timeout):
            listener.accept()

    def test_mail_waits_in_incoming_when_qmgr_is_down(self):
        smtpd = self.start_smtpd()
        result = smtp_send(smtpd.port, rcpt_to=["x@relay.test"])
        self.assertTrue(result.ok, result)
        self.assertEqual(smtpd.queued_ids(), [result.queue_id])
        smtpd.wait_log(r"qmgr is not reachable .*; new mail waits in incoming/")
