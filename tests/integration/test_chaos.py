"""test_chaos.py: the short chaos run (chaos_support.py): 20 seconds of steady load while a
random smtpd, qmgr or smtp process gets kill -9 every 1.5 to 3.5 seconds. Every message
that got a 250 reaches the sink; duplicates are reported. soak_chaos.py is the long run.
"""
from chaos_support import run_chaos
from harness import PosternTestCase


class ChaosTest(PosternTestCase):
    def test_random_kill_9_under_load_loses_no_accepted_message(self):
        report = run_chaos(self, seconds=20, pause=(1.5, 3.5))
        self.assertGreaterEqual(len(report.kills), 4, report.summary())
