"""mtas.py: the two MTAs under test, configured alike.

Both keep their queue in the benchmark's temporary folder (one file system), fsync as
they do by default, take mail from 127.0.0.0/8 on a free port, offer STARTTLS with the
same certificate, and relay everything to the sink on 127.0.0.1:SINK_PORT, with TLS on
that leg only when the phase says so (`encrypt`, so a missing STARTTLS is an error and
never a silent plaintext run). Postfix's process and concurrency limits are raised so
that its defaults do not throttle it. Each exposes .port, .pids() (every process of the
MTA) and .queue_count() (messages still queued).
"""
import os

from harness import procfs
from harness.postern import Postern
from harness.postfix import PostfixInstance

# Deliveries in flight to the one next hop (the sink), the same for both MTAs.
DELIVERY_CONCURRENCY = 50


def tree_pids(root_pid):
    """root_pid and every live process below it."""
    if root_pid is None or procfs.read(root_pid) is None:
        return []
    return [root_pid] + [p.pid for p in procfs.descendants(root_pid) if p.state != "Z"]


def count_files(folder):
    """Files below folder (0 when it does not exist)."""
    total = 0
    for _, _, files in os.walk(folder):
        total += len(files)
    return total


class MtaUnderTest:
    """What the measurements need of an MTA; self.instance is the harness's helper."""

    instance = None

    @property
    def port(self):
        return self.instance.port

    def start(self):
        """Starts the MTA and waits for its 220."""
        self.instance.start(timeout=60)
        return self

    def stop(self):
        """Stops it (its own stop command, then by pid)."""
        self.instance.stop()

    def log_path(self):
        return self.instance.log_path


class PosternMta(MtaUnderTest):
    """postern from POSTERN_BUILD_DIR, in registry.tmp/NAME."""

    name = "postern"
    programs = ("master", "smtpd", "qmgr", "smtp")

    def __init__(self, registry, label, cert, sink_port, delivery_tls):
        tls_level = "encrypt" if delivery_tls else "none"
        self.instance = Postern(
            registry, name=f"postern-{label}",
            myhostname="postern.bench",
            mynetworks=["127.0.0.0/8"],
            smtpd={"client_connection_count_limit": 0, "process_connection_limit": 20000,
                   "tls": {"security_level": "may", "cert_file": cert.chain, "key_file": cert.key}},
            smtp={"tls": {"security_level": tls_level}},
            qmgr={"destination_concurrency_limit": DELIVERY_CONCURRENCY,
                  "total_concurrency_limit": 2 * DELIVERY_CONCURRENCY},
            routes=({"domain": "*", "nexthop": f"[127.0.0.1]:{sink_port}",
                     "tls": {"security_level": tls_level}},),
        )

    def pids(self):
        """Every postern process: master and its children."""
        process = self.instance.process
        return tree_pids(process.pid if process is not None else None)

    def queue_count(self):
        """Messages in incoming/, active/ and deferred/."""
        queues = self.instance.all_queue_files()
        return sum(len(queues[q]) for q in ("incoming", "active", "deferred"))


class PostfixMta(MtaUnderTest):
    """Debian's Postfix in registry.tmp/NAME, as the rival."""

    name = "Postfix"
    programs = ("master", "smtpd", "cleanup", "qmgr", "smtp", "trivial-rewrite", "anvil", "postlogd")

    def __init__(self, registry, label, cert, sink_port, delivery_tls, process_limit=300):
        limits = {
            # Processes: smtpd per session, cleanup per session, smtp per delivery.
            "default_process_limit": process_limit,
            "smtpd_client_connection_count_limit": 0,
            "smtpd_client_connection_rate_limit": 0,
            "smtpd_client_message_rate_limit": 0,
            "smtpd_peername_lookup": "no",
            "default_destination_concurrency_limit": DELIVERY_CONCURRENCY,
            "smtp_destination_concurrency_limit": DELIVERY_CONCURRENCY,
            "relay_destination_concurrency_limit": DELIVERY_CONCURRENCY,
            "initial_destination_concurrency": DELIVERY_CONCURRENCY,
            "smtp_tls_security_level": "encrypt" if delivery_tls else "none",
            "smtpd_tls_loglevel": 1,
            "smtp_tls_loglevel": 1,
        }
        self.instance = PostfixInstance(registry, cert=cert, ask_ccert=False, relay_to=("127.0.0.1", sink_port),
                                        main_cf=limits, name=f"postfix-{label}")

    def pids(self):
        """Every Postfix process: master and its children."""
        master = self.instance.master
        return tree_pids(master.pid if master is not None else None)

    def queue_count(self):
        """Messages in Postfix's incoming, active and deferred queues (hashed folders)."""
        spool = self.instance.spool
        return sum(count_files(os.path.join(spool, q)) for q in ("incoming", "active", "deferred"))
