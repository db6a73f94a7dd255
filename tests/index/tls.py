"""A throw-away certificate authority for the https loopback index, made with the `openssl` CLI.

`make_loopback_ca(directory)` writes a CA and a server certificate for `127.0.0.1` and `localhost`
(both names the loopback index can use); clients trust it through `SSL_CERT_FILE` (the `ca_file`)
or pip's `cert` setting, as they would trust a company CA.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LoopbackCA", "make_loopback_ca", "openssl_available"]

_DAYS = "3"
# Strict X.509 checks (Python 3.13's default context) want key identifiers and key usages.
_SERVER_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""


@dataclass(frozen=True)
class LoopbackCA:
    """The files of a test CA: its certificate (`ca_file`) and the server's cert and key."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        """A server-side context presenting the loopback certificate (HTTP/1.1 only)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def openssl_available() -> bool:
    """Whether the `openssl` command is on PATH."""
    return shutil.which("openssl") is not None


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_loopback_ca(directory: Path) -> LoopbackCA:
    """Write a CA and a server certificate signed by it into `directory` (EC P-256 keys).

    Raises subprocess.CalledProcessError if openssl fails, FileNotFoundError if it is missing.
    """
    directory.mkdir(parents=True, exist_ok=True)
    curve = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl(
        "req", "-x509", *curve, "-keyout", "ca.key", "-out", "ca.pem", "-days", _DAYS,
        "-subj", "/CN=hardenreq test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "req", *curve, "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=localhost",
        cwd=directory,
    )  # fmt: skip
    (directory / "server.ext").write_text(_SERVER_EXTENSIONS)
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", _DAYS, "-extfile", "server.ext",
        cwd=directory,
    )  # fmt: skip
    return LoopbackCA(directory / "ca.pem", directory / "server.pem", directory / "server.key")
