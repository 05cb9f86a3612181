"""A throw-away TLS identity for the embedded API server (one per process, made with the ``openssl`` CLI).

Why TLS on a loopback port: kubectl sends a kubeconfig's credentials (token, client certificate, exec plugin) only
over TLS — over plain HTTP it sends none — and the embedded cluster needs a bearer token per cluster, because every
cluster's port is reachable by every local process, another episode's kubectl included. The key never touches a
file longer than it takes the server to load it; the certificate (public) goes into each kubeconfig as its CA.
"""

from __future__ import annotations

import functools
import shutil
import ssl
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from opsgym.errors import BackendUnavailableError

__all__ = ["ServerIdentity", "make_identity"]


@dataclass(frozen=True)
class ServerIdentity:
    """The server's TLS context and its self-signed certificate (PEM), which clients trust as their CA."""

    context: ssl.SSLContext
    certificate_pem: str

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting only this certificate (for tests and tools speaking HTTPS to the server)."""
        return ssl.create_default_context(cadata=self.certificate_pem)


@functools.cache
def make_identity(host: str = "127.0.0.1") -> ServerIdentity:
    """A P-256 key and a certificate for ``host`` (an IP address), valid ten years, made once per process (every
    server of the process shares it: a private server, as benchmarks and tests make, costs no second ``openssl``).

    Raises:
        BackendUnavailableError: the ``openssl`` command is missing or failed (the message says which).
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise BackendUnavailableError("the embedded cluster serves HTTPS (kubectl sends its token only over TLS) and "
                                      "makes its certificate with the openssl command, which is not installed: "
                                      "`apt-get install openssl`")
    with tempfile.TemporaryDirectory(prefix="opsgym-sim-tls-") as folder:
        key, cert = Path(folder) / "key.pem", Path(folder) / "cert.pem"
        done = subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                               "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "3650",
                               "-subj", "/CN=opsgym-sim", "-addext", f"subjectAltName=IP:{host}"],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise BackendUnavailableError(f"openssl could not make the embedded cluster's certificate: "
                                          f"{done.stderr.strip()[:300]}")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        return ServerIdentity(context, cert.read_text(encoding="ascii"))
