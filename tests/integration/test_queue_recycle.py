"""test_queue_recycle.py: queue_file_recycle_limit in a whole postern (docs/QUEUE_FORMAT.md,
"recycle/"): delivered messages' files are kept in recycle/ and reused for new ones.

Large messages first, then small ones that reuse the large ones' files: every message
reaches the sink intact (Message-ID and body), recycle/ holds files afterwards, and
`postern queue` says the queue is empty.
"""
import email
import email.policy
import os

from harness import PosternTestCase
from harness.client import make_message

LARGE, SMALL = 25, 25


def body_of(data):
    """The body of a message as the sink got it (CRLF lines), without the header block."""
    return data.split(b"\r\n\r\n", 1)[1]


class QueueRecycleTest(PosternTestCase):
    def test_recycled_files_carry_every_message_intact(self):
        sink = self.mail_sink()
        mx = self.start_postern(routes=({"domain": "*", "nexthop": f"[127.0.0.1]:{sink.port}"},))
        sent = {}
        for n in range(LARGE + SMALL):
            size = 30000 if n < LARGE else None
            body = f"message {n}\n"
            result = mx.send(rcpt_to=["ok@far.test"], subject=f"recycle {n}", body=body, body_size=size)
            self.assertTrue(result.ok, result)
            sent[f"<{result.message_id.strip('<>')}>"] = body_of(make_message(body=body, body_size=size))
            if n == LARGE - 1:
                sink.wait_messages(LARGE, timeout=60)
                self.wait_for(lambda: not any(mx.all_queue_files().values()), 20, "an empty queue")
                self.assertGreater(len(self._recycled(mx)), 0)
        messages = sink.wait_messages(LARGE + SMALL, timeout=60)
        got = {}
        for message in messages:
            parsed = email.message_from_bytes(message.data, policy=email.policy.default)
            got[parsed["Message-ID"]] = body_of(message.data)
        self.assertEqual(sorted(got), sorted(sent))
        for message_id, body in sent.items():
            self.assertEqual(got[message_id], body, message_id)
        self.wait_for(lambda: not any(mx.all_queue_files().values()), 20, "an empty queue")
        # Every delivered file was kept; fewer are there because new messages took some.
        self.assertIn(len(self._recycled(mx)), range(1, LARGE + SMALL))
        self.assertEqual(mx.cli("queue")[:2], (0, "Mail queue is empty\n"))
        self.assertEqual(sink.duplicates(), {})

    @staticmethod
    def _recycled(mx):
        """The names in recycle/."""
        return os.listdir(os.path.join(mx.queue_directory, "recycle"))
