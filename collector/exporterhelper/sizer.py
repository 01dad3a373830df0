"""What `sending_queue.queue_size` counts (otelcol's `sizer`): requests, items or serialized bytes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..component import Signal

# (signal, request, items already counted, serialized length or -1 if unknown) -> size in sizer units
Sizer = Callable[[Signal, Any, int, int], int]


def _requests(signal: Signal, data: Any, items: int, nbytes: int) -> int:
    return 1


def _items(signal: Signal, data: Any, items: int, nbytes: int) -> int:
    return items


def _bytes(signal: Signal, data: Any, items: int, nbytes: int) -> int:
    # The serialized size: what the request costs on the wire and, in a persistent queue, on disk.
    return nbytes if nbytes >= 0 else data.ByteSize()


SIZERS: dict[str, Sizer] = {"requests": _requests, "items": _items, "bytes": _bytes}


def sizer(name: str) -> Sizer:
    return SIZERS[name]
