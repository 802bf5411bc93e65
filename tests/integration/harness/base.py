"""base.py: PosternTestCase, the base class of every integration test.

Each test gets its own temporary folder (traversable by the daemons' unprivileged users;
removed afterwards unless POSTERN_KEEP_TMP is set) and a Registry whose cleanup stops,
by pid, everything the test started, even when it failed; a sanitizer report from any
process it started fails the test (sanitizers.py). When a test (or its setUp) fails, the
last lines of every log it registered are attached to the failure, so the runner's output
explains it. Factory methods start postern and the peers.
"""
import functools
import os
import shutil
import stat
import sys
import tempfile
import types
import unittest

from . import peers, postfix
from .certs import Certs
from .postern import Postern, missing_binaries
from .processes import Registry, wait_for
from .sanitizers import SanitizerReports
from .sinks import MailSink
from .system import is_root, program

LOG_TAIL_LINES = 60


def _traversable_by_all(path):
    """True when every folder from / down to path can be entered by any user."""
    path = os.path.abspath(path)
    while True:
        if not os.stat(path).st_mode & stat.S_IXOTH:
            return False
        parent = os.path.dirname(path)
        if parent == path:
            return True
        path = parent


def make_temp_dir(label):
    """A fresh 0755 folder for one test, under $POSTERN_TEST_TMP or the system temp folder
    (/tmp instead when that one is closed to the daemons' users)."""
    base = os.environ.get("POSTERN_TEST_TMP") or tempfile.gettempdir()
    if is_root() and not _traversable_by_all(base):
        base = "/tmp"
    # Short: UNIX socket paths (the queue's private/ and public/) must fit in 108 bytes.
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in label)[:20]
    path = tempfile.mkdtemp(prefix=f"pt-{safe}-", dir=base)
    os.chmod(path, 0o755)
    return path


class PosternTestCase(unittest.TestCase):
    """A test with a temporary folder (self.tmp), a process registry (self.registry), and
    factories for postern and the peers, all stopped by the cleanup."""

    def __init__(self, methodName="runTest"):
        super().__init__(methodName)
        # Wrapped here because unittest looks the test method up before setUp runs.
        method = getattr(self, methodName, None)
        if method is not None:
            setattr(self, methodName, self._attaching_logs(method))
        self.setUp = self._attaching_logs(self.setUp)
        self.registry = None
        self._certs = None

    def setUp(self):
        """Makes the test's folder and registry and arranges their cleanup."""
        super().setUp()
        self.tmp = make_temp_dir(self._testMethodName.removeprefix("test_"))
        self.registry = Registry(self.tmp)
        self.sanitizers = SanitizerReports(self.tmp).activate()
        self.addCleanup(self._remove_tmp)
        # After everything stopped: reports made at exit count too.
        self.addCleanup(lambda: self.sanitizers.check(self.registry.logs))
        self.addCleanup(self.sanitizers.restore)
        self.addCleanup(self._stop_all)

    # ---- failures carry the logs -----------------------------------------------------
    def _attaching_logs(self, method):
        def wrapper(this, *args, **kwargs):
            """Runs the method; an error leaves with the test's log tails as notes."""
            try:
                return method(*args, **kwargs)
            except (unittest.SkipTest, KeyboardInterrupt):
                raise
            except BaseException as e:
                this._attach_logs(e)
                raise
        # A bound method again: unittest's loader treats a plain function attribute otherwise.
        return types.MethodType(functools.update_wrapper(wrapper, method), self)

    def _attach_logs(self, error):
        if self.registry is None or getattr(error, "_postern_logs_attached", False):
            return
        error._postern_logs_attached = True
        if self.registry.logs:
            error.add_note(self.registry.log_tails(LOG_TAIL_LINES))
        if os.environ.get("POSTERN_KEEP_TMP"):
            error.add_note(f"test folder kept: {self.tmp}")

    def attach_log(self, name, path):
        """Shows the last lines of path under name if this test fails."""
        self.registry.add_log(name, path)

    def _stop_all(self):
        errors = self.registry.stop_all()
        if errors:
            raise AssertionError("cleanup could not stop everything:\n" + "\n".join(errors))

    def _remove_tmp(self):
        if os.environ.get("POSTERN_KEEP_TMP"):
            sys.stderr.write(f"{self.id()}: test folder kept: {self.tmp}\n")
            return
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- waiting ---------------------------------------------------------------------
    def wait_for(self, condition, timeout=10.0, what="a condition", process=None):
        """processes.wait_for: polls condition until true (returns it) or fails naming what."""
        return wait_for(condition, timeout, what, process=process)

    # ---- postern ---------------------------------------------------------------------
    def postern(self, name="postern", **config):
        """A Postern (not started yet) with config merged over the test defaults; fails the
        test when postern is not built."""
        self.require_built(*missing_binaries())
        return Postern(self.registry, name=name, **config)

    def start_postern(self, **config):
        """A started Postern (see postern())."""
        return self.postern(**config).start()

    # ---- peers -----------------------------------------------------------------------
    @property
    def certs(self):
        """Certs making certificates into the test folder (the CA is made on first use)."""
        if self._certs is None:
            self._certs = Certs(os.path.join(self.tmp, "certs"))
        return self._certs

    def _require(self, path):
        if not program(path):
            self.skipTest(f"{path} is not installed")

    def require_built(self, *paths):
        """Fails the test naming the postern programs among paths that are not built: every
        program is part of the build, and a broken build must never pass as skipped."""
        missing = [path for path in paths if not os.access(path, os.X_OK)]
        if missing:
            self.fail(f"not built: {', '.join(missing)} (run make)")

    def mail_sink(self, **options):
        """A started sinks.MailSink (see its options), transcript logged in the test folder."""
        name, path = self.registry.log_path("mail-sink")
        sink = MailSink(log_path=path, **options).start()
        self.registry.add_log(name, path)
        return self.registry.add(sink)

    def smtp_sink(self, **options):
        """A started peers.SmtpSink (/usr/sbin/smtp-sink)."""
        self._require(peers.SMTP_SINK)
        return peers.SmtpSink(self.registry, **options).start()

    def dnsmasq(self, **options):
        """A started peers.Dnsmasq (mx=[(domain, host, pref)], hosts=[(name, ip)])."""
        self._require(peers.DNSMASQ)
        return peers.Dnsmasq(self.registry, **options).start()

    def postfix(self, **options):
        """A started postfix.PostfixInstance; skips the test when not root or no Postfix."""
        reason = postfix.unavailable_reason()
        if reason:
            self.skipTest(reason)
        return postfix.PostfixInstance(self.registry, **options).start()

    def swaks(self, port, **options):
        """peers.swaks: one message to port; returns (rc, transcript)."""
        self._require(peers.SWAKS)
        return peers.swaks(self.registry, port, **options)

    def smtp_source(self, port, **options):
        """peers.smtp_source against port, to completion; returns (rc, output)."""
        self._require(peers.SMTP_SOURCE)
        return peers.smtp_source(self.registry, port, **options)
