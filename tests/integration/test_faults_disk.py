"""test_faults_disk.py: postern with its queue on a small file system (a tmpfs) that fills up.

- Too little room for a whole message (1.5 x message_size_limit, as Postfix): MAIL gets
  452 4.3.1 Insufficient system storage.
- The disk fills while a message comes in: the writer fails, smtpd answers 451 4.3.0, the
  half-written file is removed; it is never delivered and never left in the queue.
- qmgr cannot write a bounce notice on a full disk: the failed recipient waits, and the
  notice goes out once there is room again.
- Room again: mail is accepted and everything that got a 250 is delivered, exactly once.

Needs root to mount the tmpfs (CI runs as root); skipped with the reason otherwise.
"""
import errno
import os
import subprocess

from harness import PosternTestCase, make_message, new_message_id
from harness.smtpd import RawSmtp
from harness.system import is_root

SIZE_LIMIT = 100_000          # smtpd wants 150,000 bytes free at MAIL
FS_SIZE = 4 * 1024 * 1024


class SmallDisk:
    """A tmpfs of FS_SIZE bytes at path, and filler files to take its room away."""

    def __init__(self, test, path):
        self.path = path
        self.fillers = []
        os.makedirs(path)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FS_SIZE},mode=0755", "tmpfs", path],
                              capture_output=True, text=True)
        if done.returncode != 0:
            test.skipTest(f"cannot mount a tmpfs here: {done.stderr.strip()}")

    def free(self):
        """Bytes available."""
        fs = os.statvfs(self.path)
        return fs.f_bavail * fs.f_frsize

    def fill(self, leave=0):
        """Takes every byte away but about `leave` (rounded to pages)."""
        filler = os.path.join(self.path, f"filler{len(self.fillers)}")
        self.fillers.append(filler)
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        size = 0
        try:
            chunk = b"\0" * 65536
            while True:
                try:
                    size += os.write(fd, chunk)
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    if len(chunk) == 4096:
                        break
                    chunk = b"\0" * 4096
        finally:
            os.close(fd)
        if leave:
            os.truncate(filler, max(0, size - leave))

    def empty(self):
        """Gives all room back."""
        for filler in self.fillers:
            os.unlink(filler)
        self.fillers = []

    def unmount(self):
        subprocess.run(["umount", self.path], capture_output=True)
        if os.path.ismount(self.path):
            subprocess.run(["umount", "-l", self.path], capture_output=True)


class DiskFullTest(PosternTestCase):
    def setUp(self):
        super().setUp()
        if not is_root():
            self.skipTest("mounting a small file system needs root")

    def start_on_small_disk(self, sink):
        disk = SmallDisk(self, os.path.join(self.tmp, "fs"))
        # After postern stopped (registered last, so it runs first: stop everything, then unmount).
        self.addCleanup(disk.unmount)
        self.addCleanup(self.registry.stop_all)
        queue = os.path.join(disk.path, "queue")
        # One smtpd: each process reads the free space at most once a second, on its own.
        mx = self.postern(queue_directory=queue, message_size_limit=SIZE_LIMIT,
                          routes=({"domain": "*", "nexthop": f"[127.0.0.1]:{sink.port}"},),
                          services=({"name": "smtpd", "processes": 1},))
        mx.queue_directory = queue
        return disk, mx.start()

    def send(self, mx, rcpt="ok@far.test", size=2000):
        message_id = new_message_id()
        data = make_message(headers={"Message-ID": message_id}, body="x" * size)
        return mx.send(rcpt_to=[rcpt], data=data), message_id

    def test_full_disk_refuses_then_recovers_and_loses_nothing(self):
        sink = self.mail_sink()
        disk, mx = self.start_on_small_disk(sink)
        accepted = []
        result, message_id = self.send(mx)
        self.assertTrue(result.ok, result)
        accepted.append(message_id)

        # No room for a whole message: refused at MAIL (the free space is read once a second).
        disk.fill(leave=100_000)
        offset = mx.log_offset()
        self.wait_for(lambda: self.send(mx)[0].code == 452, 10, "MAIL to be refused for want of room")
        refused, _ = self.send(mx)
        self.assertEqual((refused.code, refused.reply), (452, "4.3.1 Insufficient system storage"))
        mx.wait_log(r"NOQUEUE: reject: MAIL from \S+: 452 4\.3\.1 Insufficient system storage", offset)

        # Room at MAIL, none left by the time the content is written: 451, nothing kept.
        disk.empty()
        self.wait_for(lambda: self.send(mx, size=10)[0].ok, 10, "mail to be accepted again")
        self.wait_for(lambda: len(sink.messages) >= 2, 20, "the messages sent so far to arrive")
        before = {m.message_id for m in sink.messages}
        lost_id = new_message_id()
        with RawSmtp(mx.port) as c:
            c.expect("220")
            c.transaction(rcpt_to=("ok@far.test",))
            disk.fill()
            c.expect("354", "DATA")
            c.send(make_message(headers={"Message-ID": lost_id}, body="y" * 90_000) + b"\r\n.\r\n")
            self.assertEqual(c.reply(), "451 4.3.0 Error: queue file write error\r\n")
            c.expect("250", "RSET")
        self.assertEqual(self.queue_names(mx, "incoming"), [])
        self.assertEqual(self.queue_names(mx, "corrupt"), [])

        # Room again: accepted and delivered, and the refused message never shows up.
        disk.empty()
        self.wait_for(lambda: self.send(mx)[0].ok, 10, "mail to be accepted after the disk was emptied")
        result, message_id = self.send(mx)
        self.assertTrue(result.ok, result)
        accepted.append(message_id)
        self.wait_for(lambda: set(accepted) <= {m.message_id for m in sink.messages}, 20,
                      "every accepted message at the sink")
        self.wait_for(lambda: not any(mx.all_queue_files().values()), 20, "an empty queue")
        received = [m.message_id for m in sink.messages]
        self.assertNotIn(lost_id, received)
        self.assertEqual(sink.duplicates(), {})
        self.assertTrue(before)

    def test_a_bounce_that_cannot_be_written_goes_out_once_there_is_room(self):
        failing = {"now": False}

        def replies(address, session):
            if address.startswith("later-fail@"):
                return "550 5.1.1 Unknown user (test sink)" if failing["now"] else "450 4.2.0 Try later (test sink)"
            return None

        sink = self.mail_sink(rcpt_replies=replies)
        disk, mx = self.start_on_small_disk(sink)
        offset = mx.log_offset()
        result = mx.send(mail_from="sender@client.test", rcpt_to=["later-fail@far.test"],
                         data=make_message(body="z" * 20_000))
        self.assertTrue(result.ok, result)
        mx.wait_log(rf"{result.queue_id}: to=<later-fail@far.test>.*status=deferred", offset, timeout=20)
        disk.fill()
        failing["now"] = True
        offset = mx.log_offset()
        mx.wait_log(rf"{result.queue_id}: to=<later-fail@far.test>.*status=bounced", offset, timeout=20)
        # No room for the notice: nothing reaches the sender yet, and the message stays queued.
        mx.wait_log(rf"warning: {result.queue_id}: cannot queue non-delivery notification: .*No space left on device",
                    offset, timeout=10)
        self.assertEqual([m for m in sink.messages if m.mail_from == ""], [])
        self.assertTrue(any(result.queue_id in ids for ids in mx.all_queue_files().values()))
        disk.empty()
        [notice] = self.wait_for(lambda: [m for m in sink.messages if m.mail_from == ""], 30,
                                 "the bounce notice once there is room")
        self.assertEqual(notice.rcpt_to, ["sender@client.test"])
        self.wait_for(lambda: not any(mx.all_queue_files().values()), 20, "an empty queue")

    def queue_names(self, mx, queue):
        """Every name in a queue folder, temporaries included."""
        return sorted(os.listdir(os.path.join(mx.queue_directory, queue)))
