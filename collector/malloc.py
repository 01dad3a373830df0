"""The C allocator's settings for a daemon whose memory is measured by its resident set (memory_limiter, a
container limit): freed memory must go back to the system, or RSS stays at a burst's peak after the burst.

glibc serves a large allocation from its own mapping (returned to the system when freed) only above a
threshold that it raises to the size of any such block freed, up to 32 MiB. After one 20 MiB request, every
later 20 MiB buffer comes from the heap, whose freed pages stay resident: a limiter that measures RSS then
goes on refusing long after the requests are gone. `configure` fixes the threshold (its environment
variable carries it to child processes: the file exporter's encoder, redaction workers), and `trim` hands
back the free pages the heap still holds. Elsewhere than glibc both do nothing.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

# Blocks of this size and more are mapped on their own. Requests of a few hundred KiB (the common case) stay
# on the heap, where allocation is cheapest; a request's buffers past it cost a mapping and its page faults.
MMAP_THRESHOLD = 1 << 20
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
_ENV = "MALLOC_MMAP_THRESHOLD_"


def _libc() -> Any:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt  # noqa: B018 - not glibc without these
        libc.malloc_trim  # noqa: B018
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _libc()


def configure() -> None:
    """Fixes the mapping threshold in this process and in the processes it starts."""
    if _LIBC is None:
        return
    os.environ.setdefault(_ENV, str(MMAP_THRESHOLD))
    _LIBC.mallopt(_M_MMAP_THRESHOLD, int(os.environ[_ENV]))


def trim() -> None:
    """Returns the heap's free pages to the system (glibc's malloc_trim)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
