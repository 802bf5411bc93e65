"""postfix.py: a throw-away Postfix instance in the test's folder, as /work/shared/PEERS.md says.

DIR/etc holds main.cf and a master.cf made from Debian's prototype (smtpd moved to
127.0.0.1:PORT, chroot off), DIR/spool the queue, DIR/data the data directory (owned by
postfix), DIR/maillog the log. It is a TLS receiver that can send a CertificateRequest,
and it either discards what it accepts or relays it to a sink. Root only: `postfix start`
needs it.
"""
import grp
import os
import pwd
import time

from . import procfs
from .ports import free_port
from .processes import LogFile, kill_leftovers, stop_foreign, tail, wait_for, wait_port
from .system import give_to, is_root, program

MASTER_CF_PROTOTYPES = ("/etc/postfix/master.cf.proto", "/usr/share/postfix/master.cf.dist")
POSTFIX = "/usr/sbin/postfix"
POSTFIX_FILES = "/etc/postfix/postfix-files"


def master_cf_prototype():
    """The path of Debian's master.cf prototype, or None when Postfix is not installed."""
    return next((p for p in MASTER_CF_PROTOTYPES if os.path.exists(p)), None)


def unavailable_reason():
    """Why a PostfixInstance cannot run here (a skip reason), or None when it can."""
    if not is_root():
        return "a Postfix instance needs root (postfix start); run the tests as root"
    if not program(POSTFIX) or master_cf_prototype() is None:
        return "Postfix is not installed (apt-get install postfix)"
    return None


def rewrite_master_cf(text, port):
    """master.cf text with the smtp inet service on 127.0.0.1:port and every chroot off."""
    out = []
    for line in text.splitlines():
        fields = line.split()
        if line and not line[0].isspace() and not line.startswith("#") and len(fields) >= 8:
            if fields[0] == "smtp" and fields[1] == "inet":
                fields[0] = f"127.0.0.1:{port}"
            fields[4] = "n"
            line = "  ".join(fields[:7]) + "  " + " ".join(fields[7:])
        out.append(line)
    return "\n".join(out) + "\n"


def create_spool(spool, data):
    """Creates the queue and data folders as Debian's postfix-files lists them (owner, group,
    mode) and marks the spool quick-start, so `postfix start` skips its install check,
    which costs almost three seconds. False when postfix-files cannot be read."""
    names = {"$queue_directory": spool, "$data_directory": data}
    accounts = {"$mail_owner": "postfix", "$setgid_group": "postdrop"}
    try:
        with open(POSTFIX_FILES) as f:
            entries = [line.strip().split(":") for line in f if line.startswith(tuple(names))]
    except OSError:
        return False
    for path, kind, owner, group, mode, *_ in (e for e in entries if len(e) >= 5 and e[1] == "d"):
        root, _, rest = path.partition("/")
        folder = os.path.join(names[root], rest) if rest else names[root]
        os.makedirs(folder, exist_ok=True)
        uid = pwd.getpwnam(accounts.get(owner, owner)).pw_uid
        gid = -1 if group == "-" else grp.getgrnam(accounts.get(group, group)).gr_gid
        os.chown(folder, uid, gid)
        os.chmod(folder, int(mode, 8))
    open(os.path.join(spool, "quick-start"), "w").close()
    return True


class PostfixInstance(LogFile):
    """Postfix in registry.tmp/NAME/, smtpd on 127.0.0.1:port.

    cert: a certs.CertPair for STARTTLS (None: no TLS); ask_ccert sends a CertificateRequest;
    ca_file lets it verify client certificates. relay_to=(host, port) relays everything
    there instead of discarding it. main_cf: extra or overriding main.cf parameters.
    """

    def __init__(self, registry, cert=None, ask_ccert=True, ca_file=None, relay_to=None, main_cf=None, port=None,
                 name="postfix"):
        self.registry = registry
        self.port = port or free_port()
        self.folder = os.path.join(registry.tmp, name)
        self.etc = os.path.join(self.folder, "etc")
        self.spool = os.path.join(self.folder, "spool")
        self.data = os.path.join(self.folder, "data")
        self.log_path = os.path.join(self.folder, "maillog")
        self.cert, self.ask_ccert, self.ca_file, self.relay_to = cert, ask_ccert, ca_file, relay_to
        self.overrides = dict(main_cf or {})
        self.name = name
        self.master = None

    def __repr__(self):
        return f"<PostfixInstance {self.folder} 127.0.0.1:{self.port}>"

    def main_cf(self):
        """The main.cf parameters, as a dict."""
        params = {
            "compatibility_level": "3.6", "queue_directory": self.spool, "data_directory": self.data,
            "maillog_file": self.log_path, "maillog_file_prefixes": self.folder,
            "inet_interfaces": "127.0.0.1", "inet_protocols": "ipv4", "mydestination": "",
            "mynetworks": "127.0.0.0/8", "myhostname": "postfix.test", "alias_maps": "", "alias_database": "",
            "biff": "no", "smtputf8_enable": "yes", "default_transport": "discard", "relay_transport": "discard",
        }
        if self.relay_to:
            host, port = self.relay_to
            params.update(default_transport="smtp", relay_transport="relay", relayhost=f"[{host}]:{port}")
        if self.cert:
            params.update(smtpd_tls_security_level="may", smtpd_tls_cert_file=self.cert.chain,
                          smtpd_tls_key_file=self.cert.key, smtpd_tls_loglevel="1",
                          smtpd_tls_ask_ccert="yes" if self.ask_ccert else "no")
            if self.ca_file:
                params["smtpd_tls_CAfile"] = self.ca_file
        params.update(self.overrides)
        return params

    def _write_config(self):
        for folder in (self.folder, self.etc, self.spool, self.data):
            os.makedirs(folder, mode=0o755, exist_ok=True)
            os.chmod(folder, 0o755)
        give_to(self.data, "postfix")
        if not os.path.exists(os.path.join(self.spool, "pid")):
            create_spool(self.spool, self.data)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.writelines(f"{key} = {value}\n" for key, value in self.main_cf().items())
        with open(master_cf_prototype()) as f:
            master_cf = rewrite_master_cf(f.read(), self.port)
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(master_cf)
        # Postfix waits, 300 ms at a time, until a configuration file is over a second old.
        an_hour_ago = time.time() - 3600
        for name in ("main.cf", "master.cf"):
            os.chmod(os.path.join(self.etc, name), 0o644)
            os.utime(os.path.join(self.etc, name), (an_hour_ago, an_hour_ago))

    def postfix(self, *args, timeout=60.0):
        """Runs `postfix -c DIR/etc ARGS` (under script(1), which shows its fatal errors);
        returns (rc, output)."""
        command = " ".join([POSTFIX, "-c", self.etc, *args])
        argv = ["script", "-qec", command, "/dev/null"] if program("script") else command.split()
        return self.registry.run(argv, name=f"{self.name}-{args[0]}", timeout=timeout)

    def start(self, timeout=30.0):
        """Writes the configuration, starts Postfix and waits for its 220; returns self."""
        reason = unavailable_reason()
        if reason:
            raise RuntimeError(reason)
        self._write_config()
        self.registry.add_log(self.name, self.log_path)
        self.registry.add(self)
        rc, output = self.postfix("start")
        if rc != 0:
            raise AssertionError(f"postfix start failed (rc {rc}):\n{output}\n{tail(self.log_path, 20)}")
        self.master = wait_for(self._master_from_pid_file, timeout, f"{self!r} master pid file")
        wait_port(self.port, greeting=b"220", timeout=timeout)
        return self

    def _master_from_pid_file(self):
        try:
            with open(os.path.join(self.spool, "pid", "master.pid")) as f:
                return procfs.read(int(f.read().strip()))
        except (FileNotFoundError, ValueError):
            return None

    def stop(self, timeout=15.0):
        """`postfix stop`, then waits for its master to exit (SIGKILL past timeout)."""
        if self.master is None:
            return
        master, self.master = self.master, None
        if not procfs.alive(master):
            return
        family = procfs.descendants(master.pid)
        self.postfix("stop")
        try:
            wait_for(lambda: not procfs.alive(master), timeout, "postfix master to exit")
        except AssertionError:
            stop_foreign(master, timeout=2)
        kill_leftovers(family)

    def reload(self):
        """`postfix reload` (after changing self.overrides, rewrites main.cf first)."""
        self._write_config()
        rc, output = self.postfix("reload")
        if rc != 0:
            raise AssertionError(f"postfix reload failed (rc {rc}):\n{output}")
