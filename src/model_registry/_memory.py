"""Neutral (server and client): let the C allocator keep large freed blocks for reuse.

Artifact content moves in pieces of about 1 MiB (a file read, a protobuf message, grpcio's
copy of it), each allocated, used once and freed. glibc's defaults hand such blocks back to
the kernel (``mmap`` above its threshold, or a trim of the heap's top once more than 128 KiB
to 2 MiB of it is free), so the next piece maps fresh pages: every page of every piece is then
faulted in and zeroed by the kernel, which cost about twice the CPU of the transfer itself
(measured: a gRPC download's server, 2.3 ms per MB with the defaults, 0.8 ms with this; see
bench/README.md, "Artifact content throughput"). With a fixed mmap threshold above a piece and
a trim threshold of a few pieces, freed pieces stay in the heap and are reused.

The setting is process-wide, so a process opts in: ``model-registry serve`` and the CLI's
``push`` and ``pull`` call :func:`keep_freed_pieces`; a program using the library may too.
"""

from __future__ import annotations

import ctypes
import sys

__all__ = ["MMAP_THRESHOLD_BYTES", "TRIM_THRESHOLD_BYTES", "keep_freed_pieces"]

MMAP_THRESHOLD_BYTES = 4 * 1024 * 1024
"""Blocks up to this size come from the heap (a content piece and its copies are 1 MiB)."""

TRIM_THRESHOLD_BYTES = 32 * 1024 * 1024
"""Free memory at the top of a heap kept for reuse, up to this much (a few dozen pieces)."""

# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_pieces() -> bool:
    """Set the allocator's thresholds so content pieces reuse freed memory (glibc only).

    Returns:
        True when the allocator took the setting; False elsewhere (another C library, another
        system), where nothing changes.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt answers 1 on success, 0 when it refuses (musl's is a stub that always refuses).
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
