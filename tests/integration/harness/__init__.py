"""harness: shared helpers for postern's integration tests (Python standard library only).

Start with base.PosternTestCase; README.md in this folder shows a whole test.
"""
from .base import PosternTestCase, make_temp_dir
from .certs import CertPair, Certs
from .client import SendResult, client_tls_context, make_message, new_message_id, smtp_send
from .peers import Dnsmasq, PostfixInstance, SmtpSink, smtp_source, swaks
from .ports import free_port
from .postern import Postern, build_dir
from .processes import ManagedProcess, Registry, wait_for, wait_log, wait_port
from .sinks import MailSink, ReceivedMessage

__all__ = [
    "PosternTestCase", "make_temp_dir", "CertPair", "Certs", "SendResult", "client_tls_context", "make_message",
    "new_message_id", "smtp_send", "Dnsmasq", "PostfixInstance", "SmtpSink", "smtp_source", "swaks", "free_port",
    "Postern", "build_dir", "ManagedProcess", "Registry", "wait_for", "wait_log", "wait_port", "MailSink",
    "ReceivedMessage",
]
