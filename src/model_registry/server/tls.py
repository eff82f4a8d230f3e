"""TLS material for both front doors, loaded once from a certificate chain and a key file."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ServerTLS", "load_server_tls"]


@dataclass(frozen=True)
class ServerTLS:
    """The server's TLS set-up.

    Attributes:
        ssl_context: The context the REST listener wraps its socket with.
        cert_chain_pem: The certificate chain (PEM), as gRPC takes it.
        private_key_pem: The private key (PEM), as gRPC takes it.
    """

    ssl_context: ssl.SSLContext
    cert_chain_pem: bytes
    private_key_pem: bytes

    @property
    def grpc(self) -> tuple[bytes, bytes]:
        """``(cert_chain_pem, private_key_pem)``, the ``tls`` argument of the gRPC server."""
        return self.cert_chain_pem, self.private_key_pem


def load_server_tls(
    cert_file: str | os.PathLike[str], key_file: str | os.PathLike[str]
) -> ServerTLS:
    """Load a PEM certificate chain and its private key for serving TLS (1.2 or newer).

    Args:
        cert_file: The server certificate, followed by any intermediates (PEM).
        key_file: The unencrypted private key of the certificate (PEM).

    Returns:
        The loaded TLS set-up.

    Raises:
        ValueError: The files cannot be read, are not PEM, or the key does not match.
    """
    cert_path, key_path = Path(cert_file), Path(key_file)
    try:
        cert_pem = cert_path.read_bytes()
        key_pem = key_path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read TLS file: {exc}") from None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_path, key_path)
    except ssl.SSLError as exc:
        raise ValueError(
            f"cannot use TLS certificate {cert_path} with key {key_path}: {exc.reason or exc}"
        ) from None
    return ServerTLS(ssl_context=context, cert_chain_pem=cert_pem, private_key_pem=key_pem)
