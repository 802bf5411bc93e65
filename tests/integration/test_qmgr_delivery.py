"""test_qmgr_delivery.py: the queue manager alone (--standalone), the test playing smtpd,
the smtp workers (harness/qmgr.FakeWorker on private/smtp) and `postern queue`.

New mail is delivered at once and removed; 250/450/550 give a delivered, a deferred (with
its reason, retried after the back-off) and a bounced recipient with an RFC 3464 notice
that Python's email package reads back; workers that hang up or send garbage, and no
worker at all, defer with "delivery temporarily suspended"; expiry and delay notices;
control requests cancel deliveries; a restart takes back what was left; one qmgr per queue.
"""
import email
import email.policy
import os

from harness import PosternTestCase
from harness.postern import daemon_binary
from harness.qmgr import DEFAULT_CONTENT, StandaloneQmgr

ID = r"[0-9A-Za-z]{17}"


def inode(path):
    """The inode number of path, or None while there is nothing there."""
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def parse_notice(content):
    """(message, per-message fields, [per-recipient fields]) of an RFC 3464 notice."""
    message = email.message_from_bytes(content, policy=email.policy.default)
    status = [part for part in message.walk() if part.get_content_type() == "message/delivery-status"]
    assert len(status) == 1, f"no single message/delivery-status part in {content!r}"
    groups = [dict(group.items()) for group in status[0].get_payload()]
    return message, groups[0], groups[1:]


class QmgrDeliveryTest(PosternTestCase):
    def qmgr(self, **config):
        return StandaloneQmgr(self.registry, **config).start()

    def notice_requests(self, worker, count=1):
        """The requests of notices (null sender) once `count` of them came."""
        self.wait_for(lambda: len([r for r in worker.requests if r["sender"] == ""]) >= count, 10,
                      f"{count} notice deliveries")
        return [r for r in worker.requests if r["sender"] == ""]

    def test_new_mail_is_delivered_at_once_and_removed(self):
        qmgr = self.qmgr()
        worker = qmgr.worker()
        queue_id = qmgr.submit(["ok@example.test"])
        [request] = worker.wait_requests(1)
        self.assertEqual(request["queue_id"], queue_id)
        self.assertEqual(request["sender"], "sender@example.test")
        self.assertEqual((request["nexthop"], request["domain"]), ("mx", "example.test"))
        self.assertEqual([r["address"] for r in request["recipients"]], ["ok@example.test"])
        self.assertEqual(request["content"], DEFAULT_CONTENT.encode())
        qmgr.wait_log(rf"{queue_id}: removed")
        self.assertIsNone(qmgr.where(queue_id))
        qmgr.wait_log(rf"postern/qmgr\[\d+\]: {queue_id}: from=<sender@example.test>, size=\d+, nrcpt=1 "
                      r"\(queue active\)$")

    def test_sent_deferred_and_bounced_recipients(self):
        qmgr = self.qmgr()
        worker = qmgr.worker()
        queue_id = qmgr.submit(["ok@example.test", "defer@example.test",
                                {"address": "fail@example.test", "orcpt": "rfc822;orig-fail@example.test"}],
                               envid="ENV-1", ret="HDRS")
        [notice] = self.notice_requests(worker)
        self.assertEqual([r["address"] for r in notice["recipients"]], ["sender@example.test"])
        qmgr.wait_log(rf"{queue_id}: sender non-delivery notification: {notice['queue_id']}")
        message, fields, recipients = parse_notice(notice["content"])
        self.assertEqual(message.get_content_type(), "multipart/report")
        self.assertEqual(message.get_param("report-type"), "delivery-status")
        self.assertEqual(message["From"], "Mail Delivery System <MAILER-DAEMON@postern.test>")
        self.assertEqual(message["To"], "sender@example.test")
        self.assertEqual([p.get_content_type() for p in message.iter_parts()],
                         ["text/plain", "message/delivery-status", "text/rfc822-headers"])
        for part in message.walk():
            self.assertEqual(part.defects, [], part.get_content_type())
        self.assertEqual(fields["Reporting-MTA"], "dns; postern.test")
        self.assertEqual(fields["Original-Envelope-Id"], "ENV-1")
        self.assertEqual(fields["X-Postern-Queue-ID"], queue_id)
        [failed] = recipients
        self.assertEqual(failed["Final-Recipient"], "rfc822; fail@example.test")
        self.assertEqual(failed["Original-Recipient"], "rfc822; orig-fail@example.test")
        self.assertEqual((failed["Action"], failed["Status"]), ("failed", "5.1.1"))
        self.assertEqual(failed["Remote-MTA"], "dns; mx.example.test")
        self.assertEqual(failed["Diagnostic-Code"], "smtp; 550 5.1.1 <fail@example.test>: no such user")
        returned = list(message.iter_parts())[2].get_content()
        self.assertIn("Subject: qmgr test", returned)
        self.assertNotIn("hello", returned)

        # The original waits in deferred/ with each recipient's state and reason...
        self.wait_for(lambda: qmgr.where(queue_id) == "deferred", 10, "the message in deferred/")
        states = [(r.address, r.state) for r in qmgr.read(queue_id).recipients]
        self.assertEqual(states, [("ok@example.test", "delivered"), ("defer@example.test", "deferred"),
                                  ("fail@example.test", "bounced")])
        self.assertEqual(qmgr.read(queue_id).recipients[1].reason, "450 4.2.0 <defer@example.test>: mailbox busy")
        # ...and only the deferred recipient is tried again after the back-off.
        retries = [r for r in worker.wait_requests(3) if r["queue_id"] == queue_id]
        self.wait_for(lambda: len([r for r in worker.requests if r["queue_id"] == queue_id]) >= 2, 10,
                      "the retry")
        retry = [r for r in worker.requests if r["queue_id"] == queue_id][1]
        self.assertEqual([r["address"] for r in retry["recipients"]], ["defer@example.test"])
        self.assertGreaterEqual(len(retries), 1)

    def test_a_worker_that_hangs_up_or_sends_garbage_defers_the_rest(self):
        qmgr = self.qmgr(qmgr={"minimal_backoff_time": 60, "maximal_backoff_time": 60})
        worker = qmgr.worker(mode="hangup")
        offset = qmgr.log_offset()
        queue_id = qmgr.submit(["one@example.test"])
        qmgr.wait_log(rf"{queue_id}: to=<one@example.test>, relay=none, delay=[\d.]+, delays=[\d.]+/[\d.]+/0/0, "
                      r"dsn=4\.3\.0, status=deferred \(delivery temporarily suspended: lost connection with the "
                      r"smtp worker", offset)
        self.wait_for(lambda: qmgr.where(queue_id) == "deferred", 10, "the message in deferred/")
        self.assertIn("delivery temporarily suspended", qmgr.read(queue_id).recipients[0].reason)

        worker.mode = "garbage"
        queue_id = qmgr.submit(["two@example.test"])
        qmgr.wait_log(rf"{queue_id}: to=<two@example.test>.*status=deferred \(delivery temporarily suspended: "
                      r"malformed reply from the smtp worker\)", offset)
        qmgr.wait_log(r"warning: smtp worker: .*disconnecting", offset)

        worker.mode = "partial"
        queue_id = qmgr.submit(["three@example.test", "four@example.test"])
        qmgr.wait_log(rf"{queue_id}: to=<four@example.test>.*status=deferred \(delivery temporarily suspended: "
                      r"the smtp worker sent no result\)", offset)
        self.wait_for(lambda: qmgr.where(queue_id) == "deferred", 10, "the message in deferred/")
        self.assertEqual([r.state for r in qmgr.read(queue_id).recipients], ["delivered", "deferred"])

    def test_without_workers_mail_waits_and_a_flush_sends_it(self):
        qmgr = self.qmgr(qmgr={"minimal_backoff_time": 60, "maximal_backoff_time": 60})
        offset = qmgr.log_offset()
        queue_id = qmgr.submit(["ok@example.test"])
        qmgr.wait_log(rf"{queue_id}: to=<ok@example.test>.*status=deferred \(delivery temporarily suspended: "
                      r"connect to private/smtp: (No such file or directory|Connection refused)\)", offset)
        self.wait_for(lambda: qmgr.where(queue_id) == "deferred", 10, "the message in deferred/")
        worker = qmgr.worker()
        reply = qmgr.control("flush")
        self.assertEqual((reply["status"], reply["done"]), ("ok", [queue_id]))
        worker.wait_requests(1)
        qmgr.wait_log(rf"{queue_id}: removed", offset)
        # One attempt before the flush: the missing worker did not make qmgr spin.
        attempts = [line for line in qmgr.log_lines(offset) if f"{queue_id}: from=" in line]
        self.assertEqual(len(attempts), 2)

    def test_expired_mail_is_returned_and_delay_notice_sent_once(self):
        qmgr = self.qmgr(qmgr={"maximal_queue_lifetime": 2, "delay_warning_time": 1})
        worker = qmgr.worker()
        queue_id = qmgr.submit(["defer@example.test"])
        qmgr.wait_log(rf"{queue_id}: sender delay notification: {ID}", timeout=15)
        qmgr.wait_log(rf"{queue_id}: to=<defer@example.test>, relay=none, delay=[\d.]+, delays=[\d.]+/[\d.]+/0/0, "
                      r"dsn=4\.4\.7, status=expired, returned to sender", timeout=15)
        qmgr.wait_log(rf"{queue_id}: removed")
        notices = self.notice_requests(worker, 2)
        kinds = [parse_notice(n["content"])[2][0]["Action"] for n in notices]
        self.assertEqual(kinds, ["delayed", "failed"])
        delayed, failed = (parse_notice(n["content"]) for n in notices)
        self.assertIn("Will-Retry-Until", delayed[2][0])
        self.assertEqual(failed[2][0]["Status"], "4.4.7")
        self.assertEqual(failed[0]["Subject"], "Undelivered Mail Returned to Sender")

    def test_hold_and_delete_cancel_a_delivery_in_flight(self):
        qmgr = self.qmgr()
        worker = qmgr.worker(mode="hang")
        held = qmgr.submit(["ok@example.test"])
        worker.wait_requests(1)
        reply = qmgr.control("hold", held)
        self.assertEqual((reply["status"], reply["done"]), ("ok", [held]))
        self.wait_for(lambda: worker.cancelled == 1, 10, "the worker to see the cancel")
        self.assertEqual(qmgr.where(held), "hold")
        qmgr.wait_log(rf"{held}: placed on hold")

        deleted = qmgr.submit(["ok@example.test"])
        worker.wait_requests(2)
        reply = qmgr.control("delete", deleted, "0000000000000AAAA")
        self.assertEqual((reply["done"], reply["missing"]), ([deleted], ["0000000000000AAAA"]))
        self.wait_for(lambda: worker.cancelled == 2, 10, "the worker to see the cancel")
        self.assertIsNone(qmgr.where(deleted))
        qmgr.wait_log(rf"{deleted}: removed")

        worker.mode = "answer"
        reply = qmgr.control("release", "ALL")
        self.assertEqual(reply["done"], [held])
        qmgr.wait_log(rf"{held}: released from hold")
        qmgr.wait_log(rf"{held}: removed")
        self.assertEqual(len(worker.requests), 3)

    def test_a_restart_takes_back_active_incoming_and_quarantines_corrupt_files(self):
        qmgr = StandaloneQmgr(self.registry)
        leftover = qmgr.write_message(["ok@example.test"], queue="active")
        unnoticed = qmgr.write_message(["ok@example.test"], queue="incoming")
        corrupt = qmgr.write_message(["ok@example.test"], queue="incoming")
        path = os.path.join(qmgr.queue_directory, "incoming", corrupt)
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) - 3)
        qmgr.start()
        worker = qmgr.worker()
        qmgr.wait_log(rf"warning: {corrupt}: .*moved to corrupt/")
        self.assertEqual(qmgr.where(corrupt), "corrupt")
        # The worker came up after qmgr: the two messages wait their short back-off.
        for queue_id in (leftover, unnoticed):
            qmgr.wait_log(rf"{queue_id}: removed")
        self.assertEqual({r["queue_id"] for r in worker.requests} >= {leftover, unnoticed}, True)

    def test_a_second_qmgr_waits_for_the_first(self):
        first = self.qmgr()
        worker = first.worker()
        argv = [daemon_binary("qmgr", first.instance.build), "-c", first.instance.conf_path, "--standalone"]
        bound_by_first = os.stat(first.qmgr_socket).st_ino
        second = self.registry.spawn(argv, name="second-qmgr")
        # Started alone, the second binds its own private/qmgr, then waits for the lock.
        self.wait_for(lambda: inode(first.qmgr_socket) not in (bound_by_first, None), 10,
                      "the second qmgr to bind private/qmgr", process=second)
        self.assertTrue(second.running())
        self.assertEqual(first.queue_files("active"), [])
        first.stop()
        # The second one, which took over private/qmgr, works once it has the lock.
        queue_id = first.submit(["ok@example.test"])
        worker.wait_requests(1)
        first.wait_log(rf"postern/qmgr\[{second.pid}\]: {queue_id}: removed")
