"""test_slowloris.py: the short slowloris run (slowloris_support.py): 2,000 connections
from 50 addresses, each sending a byte every 10 seconds, held for 20 seconds, while a plain
client sends a message every second: every message is taken within 3 seconds, and no
smtpd dies. soak_slowloris.py is the long run.
"""
from harness import PosternTestCase
from slowloris_support import run_slowloris


class SlowlorisTest(PosternTestCase):
    def test_slow_connections_do_not_keep_other_clients_out(self):
        run_slowloris(self, connections=2000, seconds=20, interval=10.0)
