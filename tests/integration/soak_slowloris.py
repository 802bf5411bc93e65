"""soak_slowloris.py: the long slowloris run (slowloris_support.py), for `make soak`: 4,000
connections from 100 addresses, each sending a byte every 10 seconds, for
POSTERN_SOAK_SECONDS (default 600) — longer than smtpd.timeout, which the bytes keep from
firing — while a plain client sends a message every second: every message is taken within
3 seconds, and no smtpd dies.
"""
import os

from harness import PosternTestCase
from slowloris_support import run_slowloris

SECONDS = int(os.environ.get("POSTERN_SOAK_SECONDS", "600"))


class SlowlorisSoakTest(PosternTestCase):
    def test_slow_connections_for_a_long_time(self):
        run_slowloris(self, connections=4000, seconds=SECONDS, interval=10.0)
