"""Builds the sanitized extensions (fuzz/build.py), then runs each harness under libFuzzer for a bounded time
with the sanitizer runtime preloaded, and prints executions, coverage and the outcome per target. Exits 1 if
any target crashed: a sanitizer report, an exception the harness does not expect, a disagreement with the
reference walk, a timeout or running out of memory. The crashing input is left in
build/fuzz/crashes/<target>/ (reproduce: docs/contributing.md, "Fuzzing").

    python -m fuzz.run [--seconds 60] [--jobs 2] [target ...]

New inputs the fuzzer finds go to build/fuzz/corpus/<target>/, so that a later run on this machine starts
from them; the committed seeds (fuzz/corpus/<target>/) are only read.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from fuzz import build
from fuzz._harness import BUILD_ENV, CORPUS

TARGETS = ("locate", "json_tokens", "attribute_values", "number_sum", "fnv1a64", "genai_attributes", "otlp_json_traces",
           "unknown_fields", "count_walk", "pii_scan", "pii_rewrite")
# Entry points of collector.wire.native no client byte reaches, so not fuzzed on their own (every PII
# harness runs the first at import, under the same sanitizers).
NOT_FUZZED = {"pii_compile": "compiles the built-in detectors' own patterns at start-up"}
WORK = build.OUT


@dataclass
class Outcome:
    target: str
    code: int
    seconds: float
    stats: dict[str, int]
    coverage: str
    log: Path
    crashes: list[Path]


def environment(done: build.Build) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        BUILD_ENV: str(done.directory),
        "LD_PRELOAD": ":".join(done.preload),
        # CPython keeps some allocations until exit; a leak report would only be noise. A smaller quarantine
        # keeps two parallel runs well under libFuzzer's RSS limit.
        "ASAN_OPTIONS": "detect_leaks=0:quarantine_size_mb=64:symbolize=1",
        "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
        # Every Python object its own malloc, so ASan sees the bounds of the buffers the walks read.
        "PYTHONMALLOC": "malloc",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(build.REPO), env.get("PYTHONPATH")])),
    })
    return env


def run_target(target: str, seconds: int, env: dict[str, str]) -> Outcome:
    corpus, crashes = WORK / "corpus" / target, WORK / "crashes" / target
    corpus.mkdir(parents=True, exist_ok=True)
    crashes.mkdir(parents=True, exist_ok=True)
    log = WORK / f"{target}.log"
    command = [
        sys.executable, "-m", f"fuzz.fuzz_{target}", str(corpus), str(CORPUS / target),
        f"-max_total_time={seconds}", "-timeout=20", "-rss_limit_mb=3072", "-print_final_stats=1",
        f"-artifact_prefix={crashes}/",
    ]
    started = time.monotonic()
    with open(log, "wb") as out:
        # The wall-clock bound covers start-up and the merge of the corpus on top of the fuzzing time.
        try:
            code = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=build.REPO, timeout=seconds + 300).returncode
        except subprocess.TimeoutExpired:
            code = -1
    text = log.read_text(errors="replace")
    stats = {name: int(value) for name, value in re.findall(r"^stat::(\w+):\s+(\d+)", text, re.M)}
    progress = re.findall(r"cov: (\d+) ft: (\d+) corp: (\d+)", text)
    coverage = "cov {} ft {} corpus {}".format(*progress[-1]) if progress else "-"
    return Outcome(target, code, time.monotonic() - started, stats, coverage, log, sorted(crashes.iterdir()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="fuzzing time per target")
    parser.add_argument("--jobs", type=int, default=1, help="targets run at once")
    parser.add_argument("targets", nargs="*", metavar="target", help=f"some of {', '.join(TARGETS)} (default: all)")
    args = parser.parse_args()
    unknown = set(args.targets) - set(TARGETS)
    if unknown:
        parser.error(f"no such target: {', '.join(sorted(unknown))}")
    done = build.build()
    if not done.coverage:
        print(f"fuzz: {done.compiler} is not clang, so the C code has no coverage counters: the fuzzing is guided by the Python "
              "reference walks' coverage only (install clang for coverage-guided fuzzing of the C walks)", file=sys.stderr)
    for target in TARGETS:  # inputs left from an earlier run would read as this run's crashes
        for old in (WORK / "crashes" / target).glob("*"):
            old.unlink()
    env = environment(done)
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        outcomes = list(pool.map(lambda t: run_target(t, args.seconds, env), args.targets or TARGETS))
    print(f"{'target':<18} {'result':<8} {'seconds':>7} {'execs':>10} {'exec/s':>7}  coverage")
    for o in outcomes:
        result = "ok" if o.code == 0 and not o.crashes else "CRASH"
        print(f"{o.target:<18} {result:<8} {o.seconds:7.0f} {o.stats.get('number_of_executed_units', 0):>10} "
              f"{o.stats.get('average_exec_per_sec', 0):>7}  {o.coverage}")
    failed = [o for o in outcomes if o.code != 0 or o.crashes]
    replay = " ".join(f"{name}={env[name]}" for name in (BUILD_ENV, "LD_PRELOAD", "ASAN_OPTIONS", "PYTHONMALLOC"))
    for o in failed:
        tail = o.log.read_text(errors="replace").splitlines()[-60:]
        print(f"\n==== {o.target}: exit {o.code}; log {o.log}; inputs {', '.join(map(str, o.crashes)) or 'none'}", file=sys.stderr)
        print("\n".join(tail), file=sys.stderr)
        for crash in o.crashes:
            print(f"replay: {replay} {sys.executable} -m fuzz.fuzz_{o.target} {crash}", file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
