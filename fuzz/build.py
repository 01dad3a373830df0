"""Compiles the C extensions of collector/wire/ (_walks.c, _otlp_json.c, _pii.c) with AddressSanitizer and
UndefinedBehaviorSanitizer into build/fuzz/, for the harnesses (_harness loads them from there).

With clang, also -fsanitize=fuzzer-no-link: libFuzzer's edge counters and comparison hooks in the C code,
so the fuzzer is guided by the C walks' coverage as well as by the Python reference's (atheris' bytecode
instrumentation). Without clang, gcc builds them with the same sanitizers but no coverage counters: the
fuzzer then only sees the Python side's coverage. Either way the shared objects are linked without a
sanitizer runtime of their own: the one to preload is atheris' asan_with_fuzzer.so (ASan, UBSan and
libFuzzer in one, as atheris documents for native extensions), whose entry points gcc's instrumentation
calls too. (gcc's own libasan would not do: its coverage stubs would shadow libFuzzer's, and atheris would
see no coverage at all.)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from fuzz._harness import EXTENSIONS, extension_path

REPO = Path(__file__).resolve().parent.parent
SOURCES = REPO / "collector" / "wire"
OUT = REPO / "build" / "fuzz"
SANITIZERS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]


@dataclass(frozen=True)
class Build:
    directory: Path
    compiler: str
    coverage: bool  # libFuzzer's counters are in the C code (clang)
    preload: tuple[str, ...]  # the sanitizer runtime, for LD_PRELOAD


def _compiler() -> tuple[str, bool]:
    chosen = os.environ.get("CC") or shutil.which("clang") or shutil.which("gcc") or "cc"
    version = subprocess.run([chosen, "--version"], capture_output=True, text=True, check=True).stdout
    return chosen, "clang" in version


def _runtime() -> tuple[str, ...]:
    import atheris

    return (str(Path(atheris.path()) / "asan_with_fuzzer.so"),)


def build(directory: Path = OUT) -> Build:
    compiler, clang = _compiler()
    directory.mkdir(parents=True, exist_ok=True)
    flags = ["-g", "-O1", "-fno-omit-frame-pointer", "-fPIC", *SANITIZERS, f"-I{sysconfig.get_paths()['include']}"]
    if clang:
        flags.append("-fsanitize=fuzzer-no-link")
    for name in EXTENSIONS:
        obj = directory / f"{name}.o"
        subprocess.run([compiler, *flags, "-c", str(SOURCES / f"{name}.c"), "-o", str(obj)], check=True)
        subprocess.run([compiler, "-shared", str(obj), "-o", str(extension_path(directory, name))], check=True)
    return Build(directory, compiler, clang, _runtime())


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    done = build()
    kind = "with libFuzzer coverage counters" if done.coverage else "WITHOUT C coverage counters (no clang): not coverage-guided in C"
    print(f"built {', '.join(EXTENSIONS)} into {done.directory} with {done.compiler}, ASan+UBSan, {kind}")
    print(f"preload: {':'.join(done.preload)}")


if __name__ == "__main__":
    main()
