"""What every harness shares: the sanitized extensions put in place of the built ones, buffers of exactly the
input's size, the framing of several fields in one fuzz input, and the atheris entry point.

With FUZZ_BUILD set (run.py sets it to build.py's output), importing this module loads `_walks`, `_pii` and
`_otlp_json` from there as collector.wire._walks and so on, and rebinds
collector.wire.native to them, so the Python reference walks and the C walks under test run in one process
and every caller of the C functions gets the sanitized ones. Without FUZZ_BUILD the harnesses run on
the extensions the install built (tests/wire/test_fuzz_corpus.py replays the corpus that way).
"""

from __future__ import annotations

import ctypes
import importlib.util
import inspect
import os
import struct
import sys
import sysconfig
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

CORPUS = Path(__file__).resolve().parent / "corpus"
BUILD_ENV = "FUZZ_BUILD"
EXTENSIONS = ("_walks", "_otlp_json", "_pii")


def extension_path(where: Path, name: str) -> Path:
    return where / f"{name}{sysconfig.get_config_var('EXT_SUFFIX')}"


def _load_sanitized() -> bool:
    where = os.environ.get(BUILD_ENV)
    if not where:
        return False
    for ext in EXTENSIONS:
        full, path = f"collector.wire.{ext}", extension_path(Path(where), ext)
        spec = importlib.util.spec_from_file_location(full, path)
        if not path.exists() or spec is None or spec.loader is None:
            raise RuntimeError(f"no {path}: run fuzz/build.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[full] = module
    # native binds the functions at import: run it again on the modules just put in place. Every caller
    # reads native's names at call time, so the reference walks' calls into C reach the sanitized build too.
    importlib.reload(importlib.import_module("collector.wire.native"))
    return True


SANITIZED = _load_sanitized()


def exact(data: bytes) -> Any:
    """`data` in a buffer of exactly its size, for the C functions that take any buffer: a bytes object
    carries a trailing NUL, so a read one byte past its end would go unnoticed. ctypes allocates an array
    of over 16 bytes on its own (run.py sets PYTHONMALLOC=malloc, so that is one malloc with ASan's redzone
    right after it). Plain bytes where the extensions are not the sanitized ones."""
    if not SANITIZED:
        return data
    return (ctypes.c_char * len(data)).from_buffer_copy(data)


_LENGTH = struct.Struct("<H")


def frame(*parts: bytes) -> bytes:
    """Fields of one fuzz input: each but the last prefixed by its length (little-endian uint16)."""
    out = bytearray()
    for part in parts[:-1]:
        out += _LENGTH.pack(len(part)) + part
    return bytes(out + parts[-1])


def unframe(data: bytes, count: int) -> list[bytes]:
    """`count` fields as `frame` wrote them; a length past the end takes what is left, missing fields are
    empty, so that every input means something."""
    parts, pos = [], 0
    for _ in range(count - 1):
        size = _LENGTH.unpack_from(data, pos)[0] if pos + 2 <= len(data) else 0
        pos += 2
        parts.append(data[pos:pos + size])
        pos += size
    parts.append(data[pos:])
    return parts


def hits_of(data: bytes, limit: int) -> list[tuple[int, int]]:
    """Sorted, disjoint byte ranges within [0, limit) from (start, length) uint16 pairs: what the redaction
    prefilter hands the walks."""
    ranges = []
    for at in range(0, len(data) - 3, 4):
        start, length = struct.unpack_from("<HH", data, at)
        if start < limit:
            ranges.append((start, min(limit, start + 1 + length % 64)))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def hits_bytes(hits: Iterable[tuple[int, int]]) -> bytes:
    """The (start, length) pairs `hits_of` reads back as `hits` (each under 64 bytes long)."""
    return b"".join(struct.pack("<HH", start, max(0, min(end - start, 64) - 1)) for start, end in hits)


def _instrument(module: ModuleType) -> None:
    """Atheris' bytecode coverage for the module's own functions and methods: the reference walks' branches
    guide the fuzzer as the C walk's do."""
    import atheris

    for value in vars(module).values():
        targets = vars(value).values() if inspect.isclass(value) and value.__module__ == module.__name__ else [value]
        for target in targets:
            target = getattr(target, "__func__", target)
            if inspect.isfunction(target) and target.__module__ == module.__name__:
                atheris.instrument_func(target)


def main(test_one_input: Callable[[bytes], None], references: Iterable[ModuleType] = ()) -> None:
    """Runs the harness under libFuzzer (sys.argv: corpus directories and libFuzzer flags)."""
    import atheris

    if not SANITIZED:
        print(f"fuzz: {BUILD_ENV} is not set, so this fuzzes the extensions as built, without sanitizers (use fuzz/run.py)", file=sys.stderr)
    for module in references:
        _instrument(module)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
