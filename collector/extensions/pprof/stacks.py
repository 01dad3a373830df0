"""What Go's goroutine and heap profiles show, for a Python process: every thread's current stack (as a pprof
goroutine profile, or as text with debug=1 grouped by stack and debug=2 one thread after another), and the
memory tracemalloc has seen allocated and still alive, by allocating stack (a pprof heap profile's inuse_*)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc

from .profile import Frame, ProfileBuilder, Stack
from .sampler import stack_of

HEAP_ENCODE_TIMEOUT_S = 120.0

HEAP_NEEDS_TRACEMALLOC = (
    "heap profile unavailable: tracemalloc is not tracing. Python records where memory was allocated only while "
    "tracemalloc traces, which costs time and memory on every allocation, so it is off by default: start the daemon "
    "with PYTHONTRACEMALLOC=<frames> (e.g. PYTHONTRACEMALLOC=25, the stack depth kept) to enable it.\n"
)


def _threads() -> list[tuple[int, str, bool, Stack]]:
    """(ident, name, daemon, stack) of every thread running Python code, by ident."""
    frames = sys._current_frames()
    known = {t.ident: t for t in threading.enumerate()}
    out = []
    for ident, frame in sorted(frames.items()):
        thread = known.get(ident)
        out.append((ident, thread.name if thread else f"thread-{ident}", bool(thread and thread.daemon), stack_of(frame)))
    return out


def _frame_lines(frame: Frame) -> str:
    name, filename, _, line = frame
    return f"{name}()\n\t{filename}:{line}\n"


def goroutine_profile() -> bytes:
    """debug=0: a pprof profile of goroutine/count samples, one per distinct stack, labelled with thread names."""
    builder = ProfileBuilder((("goroutine", "count"),), period_type=("goroutine", "count"), period=1)
    groups: dict[Stack, list[str]] = {}
    for _, name, _, stack in _threads():
        groups.setdefault(stack, []).append(name)
    for stack, names in groups.items():
        builder.add(stack, (len(names),), {"threads": ", ".join(names)})
    return builder.gzipped(time_nanos=time.time_ns(), mapping_file=sys.executable)


def goroutine_text(debug: int) -> str:
    """debug=1: distinct stacks with how many threads are in each (as Go's `N @ ...` blocks); debug=2: every
    thread with its whole stack (as Go's `goroutine N [state]:` dump), innermost frame first."""
    threads = _threads()
    if debug >= 2:
        parts = []
        for ident, name, daemon, stack in threads:
            parts.append(f'thread {ident} "{name}"{" [daemon]" if daemon else ""}:\n' + "".join(_frame_lines(f) for f in stack))
        return "\n".join(parts)
    groups: dict[Stack, list[str]] = {}
    for _, name, _, stack in threads:
        groups.setdefault(stack, []).append(name)
    lines = [f"thread profile: total {len(threads)}"]
    for stack, names in sorted(groups.items(), key=lambda g: -len(g[1])):
        lines.append(f"{len(names)} @ threads: {', '.join(names)}")
        lines.extend(f"#\t{name}\t{filename}:{line}" for name, filename, _, line in stack)
        lines.append("")
    return "\n".join(lines) + "\n"


def heap_profile() -> bytes | None:
    """The live allocations tracemalloc traced, by allocating stack, as pprof's inuse_objects and inuse_space;
    None when tracemalloc is not tracing. Only the snapshot is taken here; it is grouped and encoded in a
    child process that does not trace (collector/extensions/pprof/heap.py says why)."""
    if not tracemalloc.is_tracing():
        return None
    frames = tracemalloc.get_traceback_limit()
    with tempfile.TemporaryDirectory(prefix="llm-collector-heap-") as directory:
        path = os.path.join(directory, "heap.snapshot")
        tracemalloc.take_snapshot().dump(path)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONTRACEMALLOC"}
        child = subprocess.run([sys.executable, "-m", "collector.extensions.pprof.heap", path, str(frames), sys.executable],
                               env=env, capture_output=True, timeout=HEAP_ENCODE_TIMEOUT_S, check=False)
    if child.returncode != 0:
        raise RuntimeError(f"heap profile encoder exited with {child.returncode}: {child.stderr.decode(errors='replace')[-500:]}")
    return child.stdout
