"""soak_chaos.py: the long chaos run (chaos_support.py), for `make soak`: steady load while
a random smtpd, qmgr or smtp process gets kill -9 every 0.5 to 5 seconds, for
POSTERN_SOAK_SECONDS (default 600). Every message that got a 250 reaches the sink;
duplicates are reported.
"""
import os

from chaos_support import run_chaos
from harness import PosternTestCase

SECONDS = int(os.environ.get("POSTERN_SOAK_SECONDS", "600"))


class ChaosSoakTest(PosternTestCase):
    def test_random_kill_9_under_load_for_a_long_time(self):
        report = run_chaos(self, seconds=SECONDS, pause=(0.5, 5.0), threads=6, drain_timeout=300.0)
        self.assertGreaterEqual(len(report.kills), SECONDS // 5, report.summary())
