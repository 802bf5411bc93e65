"""test_qmgr_end_to_end.py: the queue manager in a whole postern (master, smtpd, qmgr and
the smtp workers) against a Python SMTP sink that answers per recipient.

One message to three recipients answered 250, 450 and 550: one delivered, one deferred
with its reason and back-off, one bounced with a notice that reaches the sender's sink;
a message past maximal_queue_lifetime bounces as expired; with the sink down mail is
deferred with a visible reason, and once it is up a flush delivers it and empties the queue.
"""
import email
import email.policy
import os

from harness import MailSink, PosternTestCase, queuefile
from harness.ports import free_port
from harness.qmgr import control_request


def notice_fields(message):
    """The per-recipient fields of a notice the sink received."""
    parsed = email.message_from_bytes(message.data, policy=email.policy.default)
    [status] = [p for p in parsed.walk() if p.get_content_type() == "message/delivery-status"]
    return [dict(group.items()) for group in status.get_payload()][1:]


class QmgrEndToEndTest(PosternTestCase):
    def postern_to(self, port, **config):
        """A started postern that sends everything to 127.0.0.1:port."""
        return self.start_postern(routes=({"domain": "*", "nexthop": f"[127.0.0.1]:{port}"},), **config)

    def test_delivered_deferred_and_bounced_with_a_notice(self):
        sink = self.mail_sink()
        mx = self.postern_to(sink.port, qmgr={"minimal_backoff_time": 60, "maximal_backoff_time": 60})
        offset = mx.log_offset()
        result = mx.send(mail_from="sender@client.test", rcpt_to=["ok@far.test", "defer@far.test", "fail@far.test"])
        self.assertTrue(result.ok, result)
        messages = sink.wait_messages(2, timeout=20)
        [delivered] = [m for m in messages if m.mail_from != ""]
        self.assertEqual(delivered.rcpt_to, ["ok@far.test"])
        [notice] = [m for m in messages if m.mail_from == ""]
        self.assertEqual(notice.rcpt_to, ["sender@client.test"])
        [failed] = notice_fields(notice)
        self.assertEqual((failed["Final-Recipient"], failed["Action"], failed["Status"]),
                         ("rfc822; fail@far.test", "failed", "5.1.1"))
        mx.wait_log(rf"{result.queue_id}: sender non-delivery notification: ", offset)
        mx.wait_log(rf"{result.queue_id}: to=<defer@far.test>.*status=deferred", offset)
        self.wait_for(lambda: mx.queue_files("deferred") == [result.queue_id], 10, "the message in deferred/")
        self.assertEqual(sink.duplicates(), {})

    def test_mail_past_its_lifetime_is_returned_as_expired(self):
        sink = self.mail_sink()
        mx = self.postern_to(sink.port, qmgr={"maximal_queue_lifetime": 1})
        offset = mx.log_offset()
        result = mx.send(mail_from="sender@client.test", rcpt_to=["defer@far.test"])
        self.assertTrue(result.ok, result)
        mx.wait_log(rf"{result.queue_id}: to=<defer@far.test>, relay=none, .*dsn=4\.4\.7, "
                    r"status=expired, returned to sender", offset, timeout=20)
        [notice] = [m for m in sink.wait_messages(1, timeout=20) if m.mail_from == ""]
        self.assertEqual(notice_fields(notice)[0]["Status"], "4.4.7")
        self.wait_for(lambda: not any(mx.all_queue_files().values()), 10, "an empty queue")

    def test_a_sink_that_is_down_defers_and_a_flush_delivers_when_it_is_up(self):
        port = free_port()
        mx = self.postern_to(port, qmgr={"minimal_backoff_time": 60, "maximal_backoff_time": 60})
        offset = mx.log_offset()
        result = mx.send(mail_from="sender@client.test", rcpt_to=["ok@far.test"])
        self.assertTrue(result.ok, result)
        mx.wait_log(rf"{result.queue_id}: to=<ok@far.test>.*status=deferred \(.+\)", offset, timeout=20)
        self.wait_for(lambda: mx.queue_files("deferred") == [result.queue_id], 10, "the message in deferred/")
        [queued] = queuefile.read(os.path.join(mx.queue_directory, "deferred", result.queue_id)).recipients
        self.assertEqual(queued.state, "deferred")
        self.assertIn("127.0.0.1", queued.reason)  # the reason names the server that was down
        name, path = self.registry.log_path("mail-sink-late")
        sink = self.registry.add(MailSink(port=port, log_path=path).start())
        reply = control_request(mx.queue_directory, "flush")
        self.assertEqual(reply["done"], [result.queue_id])
        [message] = sink.wait_messages(1, timeout=20)
        self.assertEqual(message.rcpt_to, ["ok@far.test"])
        mx.wait_log(rf"{result.queue_id}: removed", offset)
        self.wait_for(lambda: not any(mx.all_queue_files().values()), 10, "an empty queue")
