"""test_hostile_privileges.py: least privilege in a running postern started as root.

- The queue folders, private/ and every queue file and internal socket belong to mail_owner
  and are readable by it alone (0700 folders, 0600 files and sockets).
- No process but master keeps root: every smtpd, qmgr and smtp (a replacement for one that
  was killed too) runs with real, effective, saved and file-system user and group IDs of
  mail_owner, no other group, and no capability.
- No message data can reach a shell: the daemons that handle it (smtpd, qmgr, smtp) import
  no function that starts a program, and master and the commands start programs only with
  execv/execve (no shell, no PATH search). test_hostile_delivery.py sends addresses full of
  shell metacharacters through a running postern.
"""
import os
import pwd
import shutil
import signal
import stat
import subprocess

from harness import PosternTestCase
from harness.postern import QUEUE_NAMES, bin_path, daemon_binary, postern_binary
from harness.system import is_root, user_exists

# Functions that start programs (or a shell) from a process.
SPAWNING = {"system", "popen", "execl", "execlp", "execle", "execv", "execvp", "execvpe", "execve", "fexecve",
            "posix_spawn", "posix_spawnp", "fork", "vfork", "clone", "wordexp"}
STATUS_FIELDS = ("Uid", "Gid", "Groups", "CapPrm", "CapEff", "CapAmb")


def process_status(pid):
    """{field: value text} of /proc/PID/status for STATUS_FIELDS; {} once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return {}
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    return {name: fields.get(name, "").strip() for name in STATUS_FIELDS}


def imported_functions(binary):
    """The names of the dynamic symbols binary imports."""
    done = subprocess.run(["nm", "-D", "--undefined-only", binary], capture_output=True, text=True, check=True)
    return {line.split()[-1].split("@")[0] for line in done.stdout.splitlines() if line.strip()}


class PrivilegeTest(PosternTestCase):
    def setUp(self):
        super().setUp()
        if not is_root() or not user_exists("postern"):
            self.skipTest("needs root and the postern account (CI runs as root)")
        self.owner = pwd.getpwnam("postern")

    def expected_status(self):
        uid, gid = self.owner.pw_uid, self.owner.pw_gid
        ids = lambda n: "\t".join([str(n)] * 4)  # noqa: E731 - real, effective, saved, file system
        return {"Uid": ids(uid), "Gid": ids(gid), "Groups": str(gid), "CapPrm": "0" * 16, "CapEff": "0" * 16,
                "CapAmb": "0" * 16}

    def children_dropped(self, mx):
        """{pid: status} of every child once none runs as root any more (start-up is over)."""
        def settled():
            pids = [p for pids in mx.service_pids().values() for p in pids]
            statuses = {pid: process_status(pid) for pid in pids}
            if len(pids) < 4 or any(s.get("Uid", "0").startswith("0\t") for s in statuses.values()):
                return None
            return statuses
        return self.wait_for(settled, 15, "every child of master to drop root")

    def test_queue_and_private_belong_to_mail_owner_alone(self):
        sink = self.mail_sink()
        mx = self.start_postern(routes=({"domain": "*", "nexthop": f"[127.0.0.1]:{sink.port}"},))
        mx.send(rcpt_to=["defer@far.test"])
        self.wait_for(lambda: mx.queue_files("deferred"), 20, "a message in deferred/")
        for name in QUEUE_NAMES + ("private",):
            folder = os.path.join(mx.queue_directory, name)
            with self.subTest(folder=name):
                self.assertOwnedAlone(folder, 0o700)
                for entry in os.listdir(folder):
                    self.assertOwnedAlone(os.path.join(folder, entry), 0o600)
        self.assertTrue(os.listdir(os.path.join(mx.queue_directory, "private")))

    def assertOwnedAlone(self, path, mode):
        info = os.lstat(path)
        self.assertEqual((info.st_uid, info.st_gid), (self.owner.pw_uid, self.owner.pw_gid), path)
        self.assertEqual(stat.S_IMODE(info.st_mode), mode, f"{path}: {oct(stat.S_IMODE(info.st_mode))}")

    def test_no_process_but_master_keeps_root(self):
        mx = self.start_postern()
        master = process_status(mx.master_pid())
        self.assertTrue(master["Uid"].startswith("0\t"), master)
        expected = self.expected_status()
        for pid, status in self.children_dropped(mx).items():
            self.assertEqual(status, expected, f"pid {pid}")
        # A child master starts again after a crash drops root too.
        [qmgr] = mx.children("qmgr")
        os.kill(qmgr, signal.SIGKILL)
        self.wait_for(lambda: mx.children("qmgr") and mx.children("qmgr") != [qmgr], 15, "a new qmgr")
        for pid, status in self.children_dropped(mx).items():
            self.assertEqual(status, expected, f"pid {pid}")


class NoShellTest(PosternTestCase):
    def test_message_handling_daemons_start_no_program(self):
        if not shutil.which("nm"):
            self.skipTest("nm (binutils) is not installed")
        for service in ("smtpd", "qmgr", "smtp"):
            binary = daemon_binary(service)
            if not os.access(binary, os.X_OK):
                self.skipTest(f"{binary} is not built")
            with self.subTest(service=service):
                self.assertEqual(imported_functions(binary) & SPAWNING, set())
        for binary in (daemon_binary("master"), postern_binary(), bin_path("sendmail"), bin_path("mailq")):
            with self.subTest(binary=os.path.basename(binary)):
                self.assertLessEqual(imported_functions(binary) & SPAWNING, {"execv", "execve", "fork"})
