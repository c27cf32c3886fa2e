"""Certificates for the TLS tests, made with the openssl command line:
a root CA, an intermediate CA under it, and server certificates (IP SAN
127.0.0.1, DNS SAN localhost) issued by the intermediate.

    pki = Pki(tmp_dir)
    leaf = pki.server("a")      # {"cert": chain (leaf, intermediate), "key", "ca": root, "fingerprint"}
"""

import hashlib
import os
import ssl
import subprocess
from pathlib import Path

CA_EXT = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
LEAF_EXT = ("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n")


def openssl(*args, cwd):
    subprocess.run(["openssl"] + [str(a) for a in args], cwd=str(cwd), check=True,
                   capture_output=True, timeout=60, stdin=subprocess.DEVNULL)


def fingerprint(der):
    """SHA-256 of a certificate in DER form, as hex."""
    return hashlib.sha256(der).hexdigest()


def fingerprint_of(pem_path):
    """The fingerprint of the (first) certificate of a PEM file."""
    return fingerprint(ssl.PEM_cert_to_DER_cert(Path(pem_path).read_text()))


class Pki:
    def __init__(self, root_dir):
        self.dir = Path(root_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.root = self._ca("root", None)
        self.inter = self._ca("inter", self.root)

    def _key(self, name):
        key = self.dir / (name + ".key")
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-out", key, cwd=self.dir)
        return key

    def _issue(self, name, subject, ext, issuer):
        """A certificate for a new key: self-signed when issuer is None."""
        key = self._key(name)
        csr, pem, extf = (self.dir / (name + s) for s in (".csr", ".pem", ".ext"))
        extf.write_text(ext)
        openssl("req", "-new", "-key", key, "-subj", subject, "-out", csr, cwd=self.dir)
        if issuer is None:
            signer = ["-signkey", key]
        else:
            signer = ["-CA", issuer["pem"], "-CAkey", issuer["key"], "-set_serial",
                      str(int.from_bytes(os.urandom(8), "big"))]
        openssl("x509", "-req", "-in", csr, "-out", pem, "-days", "2", "-extfile", extf,
                *signer, cwd=self.dir)
        return {"key": key, "pem": pem}

    def _ca(self, name, issuer):
        return self._issue(name, "/CN=exportd test %s CA" % name, CA_EXT, issuer)

    def server(self, name):
        """A server certificate from the intermediate: its chain file holds
        the leaf, then the intermediate."""
        leaf = self._issue(name, "/CN=localhost", LEAF_EXT, self.inter)
        chain = self.dir / (name + ".chain.pem")
        chain.write_bytes(leaf["pem"].read_bytes() + self.inter["pem"].read_bytes())
        return {"cert": chain, "key": leaf["key"], "ca": self.root["pem"],
                "leaf": leaf["pem"], "fingerprint": fingerprint_of(leaf["pem"])}
