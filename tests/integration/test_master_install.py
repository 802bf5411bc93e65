"""test_master_install.py: `make install` (scripts/install.sh) into temporary folders.

Files and modes under DESTDIR/PREFIX, the installed configuration (queue in
/var/spool/postern, log to syslog, otherwise the shipped file), a second install that keeps
an edited configuration, PREFIX=/usr putting it in /etc/postern, another MTA's sendmail
left alone, the installed postern finding its configuration without -c, and the systemd
unit (checked by systemd-analyze when there is one).
"""
import os
import shutil
import stat
import subprocess

from harness import PosternTestCase
from harness.postern import REPO, build_dir, missing_binaries

INSTALL = os.path.join(REPO, "scripts", "install.sh")


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class InstallTest(PosternTestCase):
    def setUp(self):
        super().setUp()
        self.build = build_dir()
        self.require_built(*missing_binaries(self.build))

    def install(self, prefix, destdir=""):
        """Runs the installer; returns its output."""
        env = {**os.environ, "PREFIX": prefix, "DESTDIR": destdir, "BUILD": self.build, "MAIL_OWNER": "postern"}
        done = subprocess.run([INSTALL], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        return done.stdout + done.stderr

    def test_files_modes_and_configuration(self):
        dest = os.path.join(self.tmp, "dest")
        self.install("/usr/local", dest)
        root = dest + "/usr/local"
        self.assertEqual(mode(f"{root}/sbin/postern"), 0o755)
        for daemon in ("master", "smtpd", "qmgr", "smtp"):
            self.assertEqual(mode(f"{root}/libexec/postern/{daemon}"), 0o755)
        conf = f"{root}/etc/postern/postern.conf"
        self.assertEqual(mode(conf), 0o644)
        with open(os.path.join(REPO, "conf", "postern.conf")) as f:
            shipped = f.read().splitlines()
        with open(conf) as f:
            installed = f.read().splitlines()
        changed = [(a, b) for a, b in zip(shipped, installed) if a != b]
        self.assertEqual(len(shipped), len(installed))
        self.assertEqual([b for _, b in changed], ['queue_directory = "/var/spool/postern";', 'log_file = "syslog";'])

        unit = f"{root}/lib/systemd/system/postern.service"
        self.assertEqual(mode(unit), 0o644)
        with open(unit) as f:
            lines = f.read().splitlines()
        for wanted in ("Type=notify", "NotifyAccess=main",
                       "ExecStart=/usr/local/sbin/postern -c /usr/local/etc/postern/postern.conf start --foreground",
                       "ExecReload=/bin/kill -HUP $MAINPID"):
            self.assertIn(wanted, lines)
        self.assertFalse([line for line in lines if line.startswith("ExecStop=")])  # SIGTERM by default

        # The installed command finds the installed configuration without -c.
        env = {k: v for k, v in os.environ.items() if k != "POSTERN_CONF"}
        done = subprocess.run([f"{root}/sbin/postern", "config", "queue_directory", "log_file"], cwd=self.tmp,
                              env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(done.stdout, "log_file = syslog\nqueue_directory = /var/spool/postern\n", done.stderr)

    def test_second_install_keeps_an_edited_configuration(self):
        dest = os.path.join(self.tmp, "dest")
        self.install("/usr/local", dest)
        conf = f"{dest}/usr/local/etc/postern/postern.conf"
        with open(conf, "a") as f:
            f.write('myhostname = "edited.example";\n')
        with open(conf) as f:
            edited = f.read()
        out = self.install("/usr/local", dest)
        with open(conf) as f:
            self.assertEqual(f.read(), edited)
        self.assertIn("postern.conf exists and is kept", out)
        with open(conf + ".default") as f:
            self.assertNotIn("edited.example", f.read())

    def test_prefix_usr_puts_the_configuration_in_etc(self):
        dest = os.path.join(self.tmp, "dest")
        self.install("/usr", dest)
        self.assertTrue(os.path.isfile(f"{dest}/etc/postern/postern.conf"))
        self.assertFalse(os.path.exists(f"{dest}/usr/etc"))
        with open(f"{dest}/usr/lib/systemd/system/postern.service") as f:
            self.assertIn("ExecStart=/usr/sbin/postern -c /etc/postern/postern.conf start --foreground\n", f.read())

    def test_another_mta_sendmail_is_left_alone(self):
        self.require_built(os.path.join(self.build, "bin", "sendmail"))
        dest = os.path.join(self.tmp, "dest")
        other = f"{dest}/usr/sbin/sendmail"
        os.makedirs(os.path.dirname(other))
        with open(other, "w") as f:
            f.write("#!/bin/sh\necho another MTA\n")
        out = self.install("/usr", dest)
        with open(other) as f:
            self.assertIn("another MTA", f.read())
        self.assertIn("/usr/sbin/sendmail belongs to another program and is left alone", out)
        self.assertEqual(mode(f"{dest}/usr/lib/postern/sendmail"), 0o755)
        self.assertEqual(mode(f"{dest}/usr/bin/mailq"), 0o755)  # that name was free

    def test_systemd_accepts_the_unit(self):
        analyze = shutil.which("systemd-analyze")
        if not analyze:
            self.skipTest("no systemd-analyze")
        prefix = os.path.join(self.tmp, "prefix")  # no DESTDIR: the unit's programs exist
        self.install(prefix)
        done = subprocess.run([analyze, "verify", f"{prefix}/lib/systemd/system/postern.service"],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
