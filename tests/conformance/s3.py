"""A real S3-wire server for tests: moto's server (``moto[server]``) in its own process.

Its own process, so the memory it uses to hold objects is not the test process's (the
big-file tests measure that one), and the client and server talk over a real socket.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
"""What moto accepts; set in the environment for the code under test's boto3."""


@dataclass(frozen=True)
class S3Server:
    """A running S3-wire server.

    Attributes:
        endpoint_url: ``http://127.0.0.1:<port>``.
    """

    endpoint_url: str

    def client(self) -> Any:
        """A boto3 S3 client of this server."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
        )

    def new_bucket(self) -> str:
        """Create a bucket of a fresh name and return its name."""
        name = f"test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object key under ``prefix``."""
        pages = (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        )
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def pending_uploads(self, bucket: str) -> list[str]:
        """Keys of multipart uploads neither completed nor aborted."""
        answer = self.client().list_multipart_uploads(Bucket=bucket)
        return [item["Key"] for item in answer.get("Uploads", [])]


@dataclass
class ContentStore:
    """Where a test server keeps artifact content, and what the test sees it hold.

    Attributes:
        uri: ``serve --artifact-store``.
        endpoint_url: ``serve --s3-endpoint-url`` (None for a folder).
        digests: The digests stored, sorted.
        place: Store bytes under a digest's name behind the server's back (as content
            stored before the sweep's table existed was).
    """

    uri: str
    endpoint_url: str | None
    digests: Callable[[], list[str]]
    place: Callable[[str, bytes], None]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_s3_server() -> Iterator[S3Server]:
    """Start ``moto_server`` on a free port; stop it afterwards."""
    port = _free_port()
    command = [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ}
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
