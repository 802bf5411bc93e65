"""certs.py: test certificates made with the openssl command line (req, x509).

Certs(folder) makes a test CA, server certificates signed by it (with subjectAltNames),
client certificates, and self-signed ones. Each comes back as a CertPair of file paths;
.chain is the leaf followed by the CA (what a server's cert_file holds). Files are 0644 so
daemons that dropped privileges can read them (they are throw-away test keys).
"""
import ipaddress
import os
import subprocess
from dataclasses import dataclass

DAYS = 30


@dataclass(frozen=True)
class CertPair:
    """A certificate, its key, and the leaf+CA chain file (the cert itself when self-signed)."""
    cert: str
    key: str
    chain: str
    subject: str


def _san_entries(names):
    entries = []
    for name in names:
        try:
            ipaddress.ip_address(name)
            entries.append(f"IP:{name}")
        except ValueError:
            entries.append(f"DNS:{name}")
    return ",".join(entries)


class Certs:
    """Makes certificates into folder; the CA is made on first need and shared by the rest.
    key_type "ec" (P-256, the default: 20 times faster to make) or "rsa:BITS"."""

    def __init__(self, folder, key_type="ec"):
        self.folder = folder
        self.key_type = key_type
        os.makedirs(folder, mode=0o755, exist_ok=True)
        os.chmod(folder, 0o755)
        self._ca = None

    def _path(self, name, ext):
        return os.path.join(self.folder, f"{name}.{ext}")

    def _openssl(self, *args):
        done = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"openssl {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout

    def _key_args(self):
        kind, _, size = self.key_type.partition(":")
        if kind == "rsa":
            return ["-newkey", f"rsa:{size or 2048}"]
        if kind == "ec":
            return ["-newkey", "ec", "-pkeyopt", f"ec_paramgen_curve:{size or 'prime256v1'}"]
        raise ValueError(f"Certs: unknown key type {self.key_type!r}")

    def _finish(self, name, chain_parts, subject):
        cert, key = self._path(name, "crt"), self._path(name, "key")
        chain = cert
        if len(chain_parts) > 1:
            chain = self._path(name, "chain.pem")
            with open(chain, "w") as out:
                for part in chain_parts:
                    with open(part) as f:
                        out.write(f.read())
        for path in {cert, key, chain}:
            os.chmod(path, 0o644)
        return CertPair(cert=cert, key=key, chain=chain, subject=subject)

    @property
    def ca(self):
        """The test CA (made on first use)."""
        if self._ca is None:
            self._ca = self.self_signed("ca", "postern test CA", ca=True)
        return self._ca

    def self_signed(self, name, common_name, names=(), ca=False):
        """A self-signed certificate for common_name with subjectAltNames names."""
        subject = f"/CN={common_name}/O=postern tests"
        args = ["req", "-x509", "-nodes", *self._key_args(), "-keyout", self._path(name, "key"),
                "-out", self._path(name, "crt"), "-days", str(DAYS), "-subj", subject]
        if ca:
            args += ["-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
        else:
            args += ["-addext", "basicConstraints=CA:FALSE"]
        if names:
            args += ["-addext", f"subjectAltName={_san_entries(names)}"]
        self._openssl(*args)
        return self._finish(name, [self._path(name, "crt")], subject)

    def _signed(self, name, common_name, names, usage):
        subject = f"/CN={common_name}/O=postern tests"
        csr, ext = self._path(name, "csr"), self._path(name, "ext")
        self._openssl("req", "-new", "-nodes", *self._key_args(), "-keyout", self._path(name, "key"),
                      "-out", csr, "-subj", subject)
        with open(ext, "w") as f:
            f.write(f"basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                    f"extendedKeyUsage={usage}\n")
            if names:
                f.write(f"subjectAltName={_san_entries(names)}\n")
        ca = self.ca
        self._openssl("x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial",
                      "-days", str(DAYS), "-extfile", ext, "-out", self._path(name, "crt"))
        return self._finish(name, [self._path(name, "crt"), ca.cert], subject)

    def server(self, name="server", common_name="localhost", names=("localhost", "127.0.0.1")):
        """A server certificate signed by the test CA, for common_name and the SANs names."""
        return self._signed(name, common_name, names, "serverAuth")

    def client(self, name="client", common_name="client.test", names=()):
        """A client certificate signed by the test CA."""
        return self._signed(name, common_name, names, "clientAuth")

    def describe(self, cert_file):
        """openssl's text dump of a certificate (subject, issuer, SANs), for checks and messages."""
        return self._openssl("x509", "-in", cert_file, "-noout", "-subject", "-issuer", "-ext", "subjectAltName")
