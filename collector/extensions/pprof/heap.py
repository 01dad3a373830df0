"""The heap profile's encoding, run in a child process: a tracemalloc snapshot of a busy daemon holds
hundreds of thousands of traces, and grouping and encoding them inside the traced process took 45 s for 290k,
because tracemalloc traces every allocation the encoder itself makes. The daemon dumps the snapshot to a
file (tracemalloc's own pickle) and this module, run without PYTHONTRACEMALLOC, turns it into pprof's
inuse_objects / inuse_space profile on stdout.

    python -m collector.extensions.pprof.heap SNAPSHOT_FILE FRAMES MAPPING_FILE"""

from __future__ import annotations

import sys
import time
import tracemalloc

from .profile import ProfileBuilder


def encode(snapshot: tracemalloc.Snapshot, frames: int, mapping_file: str) -> bytes:
    """The live allocations of `snapshot` by allocating stack, gzipped. tracemalloc keeps file and line, not the
    function: a frame's function is named `file:line`. The snapshot's own allocations (tracemalloc.py) are
    left out."""
    snapshot = snapshot.filter_traces((tracemalloc.Filter(False, tracemalloc.__file__, all_frames=True),))
    builder = ProfileBuilder((("inuse_objects", "count"), ("inuse_space", "bytes")), period_type=("space", "bytes"), period=1,
                             default_sample_type="inuse_space")
    builder.comment(f"llm-collector heap profile: tracemalloc, {frames} frames kept per allocation")
    for stat in snapshot.statistics("traceback"):
        # tracemalloc lists a traceback's frames from the oldest to the most recent; pprof wants the innermost first.
        stack = tuple((f"{f.filename}:{f.lineno}", f.filename, f.lineno, f.lineno) for f in reversed(stat.traceback))
        builder.add(stack, (stat.count, stat.size))
    return builder.gzipped(time_nanos=time.time_ns(), mapping_file=mapping_file)


def main(argv: list[str]) -> int:
    path, frames, mapping_file = argv
    sys.stdout.buffer.write(encode(tracemalloc.Snapshot.load(path), int(frames), mapping_file))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
