"""`llm-collector run | validate | components | loadgen | replay | report`."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from typing import Any

from . import __version__, malloc


def _add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="FILE",
        help="YAML config file; repeat to merge several in order (maps merge, lists replace). Default: the embedded config/default.yaml.",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="Override one value after the files are merged, e.g. --set processors.batch.timeout=2s.",
    )


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The command line. Given `argv`, only the subcommand it names gets its arguments, so `run` and
    `validate` never import the load generator or replay (tens of milliseconds of start-up)."""
    command = next((a for a in argv if not a.startswith("-")), None) if argv is not None else None
    parser = argparse.ArgumentParser(prog="llm-collector", description="LLM-aware OpenTelemetry processing daemon.")
    parser.add_argument("--version", action="version", version=f"llm-collector {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="Run the daemon.")
    _add_config_args(run)

    validate = sub.add_parser("validate", help="Check the config and list every problem; exit 0 if valid, 1 if not.")
    _add_config_args(validate)

    sub.add_parser("components", help="List every receiver, processor, exporter and extension type.")

    loadgen_parser = sub.add_parser("loadgen", help="Send realistic LLM telemetry to an OTLP endpoint and report rate and latency.")
    if command in (None, "loadgen"):
        from .tools import loadgen

        loadgen.add_arguments(loadgen_parser)

    replay_parser = sub.add_parser("replay", help="Push what a file exporter wrote back through the config's pipelines (receivers not started).")
    _add_config_args(replay_parser)
    if command in (None, "replay"):
        from .tools import replay

        replay.add_arguments(replay_parser)

    report_parser = sub.add_parser("report", help="Spend, calls, tokens and latency by any attribute, from the files a file exporter wrote.")
    if command in (None, "report"):
        from .report import command as report_command

        report_command.add_arguments(report_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    # gRPC's C core prints its own plain-text lines (e.g. on a bind failure), which would break the
    # JSON-only stderr; the daemon reports those failures itself. Set GRPC_VERBOSITY to see them.
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    args = build_parser(sys.argv[1:] if argv is None else argv).parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "validate":
        return _validate(args)
    if args.command == "components":
        return _components()
    if args.command == "loadgen":
        from .tools import loadgen

        return loadgen.main(args)
    if args.command == "replay":
        from .tools import replay

        return replay.main(args)
    if args.command == "report":
        from .report import command as report_command

        return report_command.main(args)
    return 2


def _load(args: argparse.Namespace, open_files: bool = True) -> Any:
    from .config import ConfigErrors, load_config

    try:
        return load_config(args.config, args.set, open_files=open_files), None
    except ConfigErrors as exc:
        return None, exc.errors


def _validate(args: argparse.Namespace) -> int:
    config, errors = _load(args, open_files=False)  # as otelcol's validate: `run` opens the TLS files
    if errors:
        print(f"invalid configuration: {len(errors)} problem(s)", file=sys.stderr)
        for error in errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    pipelines = ", ".join(config.pipelines)
    print(f"configuration is valid ({', '.join(config.sources)}): pipelines {pipelines}")
    return 0


def _components() -> int:
    from . import registry
    from .component import Kind

    for kind in Kind:
        print(f"{kind.section}:")
        for name in registry.types(kind):
            cls = registry.lookup(kind, name)
            assert cls is not None
            signals = "" if kind is Kind.EXTENSION else f"  [{', '.join(s.value for s in sorted(cls.signals))}]"
            older = f"  (also answers to its older name {', '.join(cls.deprecated_type_names)})" if cls.deprecated_type_names else ""
            print(f"  {name:<16} {cls.description}{older}{signals}")
    return 0


def _run(args: argparse.Namespace) -> int:
    config, errors = _load(args)
    if errors:
        print(f"invalid configuration: {len(errors)} problem(s)", file=sys.stderr)
        for error in errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    from .telemetry import log_uncaught_exceptions, rate_limiter, setup_logging

    logs = config.service.telemetry.logs
    try:
        setup_logging(logs.level, logs.encoding, output_paths=logs.output_paths, initial_fields=logs.initial_fields)
    except OSError as exc:
        print(f"service.telemetry.logs.output_paths: cannot open {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 1
    log_uncaught_exceptions()
    raise_open_file_limit()
    malloc.configure()
    try:
        return asyncio.run(_serve(config, args.config, args.set))
    finally:
        rate_limiter.flush(everything=True)


# The soft limit on open files is raised to the hard limit, up to this: every connection is a descriptor,
# and the usual soft default (1,024) is what a thousand idle clients take.
OPEN_FILES_TARGET = 65_536


def raise_open_file_limit() -> None:
    """Raise the soft RLIMIT_NOFILE towards the hard one at start-up, logging both values."""
    import resource

    from .telemetry import component_logger

    log = component_logger("service", "service")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = OPEN_FILES_TARGET if hard == resource.RLIM_INFINITY else min(hard, OPEN_FILES_TARGET)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit", soft=soft, hard=hard, error=str(exc))
            return
        log.info("raised the open-file limit", previous=soft, soft=target, hard=hard)
    else:
        log.info("open-file limit", soft=soft, hard=hard)


# Python's default first threshold (700 net allocations) suits short programs. The daemon keeps hundreds of
# thousands of objects alive for a decision_wait (tail_sampling's buffer) and allocates per request: at the
# default, collections took ~6% of the event loop at 30k spans/s, at this one ~1% (benchmarks/full_pipeline.py).
# Cycles are still found: young collections caught the same garbage at both settings, and memory_limiter
# forces a full collection above its limit.
GC_FIRST_THRESHOLD = 10_000


def tune_garbage_collector() -> None:
    """Once the components are built and started: what exists then (modules, price tables, tokenizer
    vocabularies, the pipeline) lives as long as the daemon, so full collections need not traverse it
    again (gc.freeze), and young collections run per GC_FIRST_THRESHOLD net allocations."""
    import gc

    gc.collect()
    gc.freeze()
    _, second, third = gc.get_threshold()
    gc.set_threshold(GC_FIRST_THRESHOLD, second, third)


async def _serve(config: Any, config_paths: list[str], sets: list[str]) -> int:
    from google.protobuf.internal import api_implementation

    from .config import load_config
    from .reload import Reloader
    from .service import Service, StartupError
    from .telemetry import RATE_LIMIT_REPORT_INTERVAL, component_logger, log_loop_exception, rate_limiter

    log = component_logger("service", "service")
    loop = asyncio.get_running_loop()
    # asyncio's own reports (e.g. "socket.accept() out of system resource", retried every second while
    # descriptors are exhausted) as rate-limited JSON lines; what a window suppressed is reported once it ends.
    loop.set_exception_handler(log_loop_exception)

    def report_suppressed() -> None:
        rate_limiter.flush()
        loop.call_later(RATE_LIMIT_REPORT_INTERVAL, report_suppressed)

    loop.call_later(RATE_LIMIT_REPORT_INTERVAL, report_suppressed)
    backend = api_implementation.Type()
    if backend != "upb":
        log.warning("protobuf is not using the upb backend; expect far lower throughput", backend=backend)

    try:
        service = Service(config)
    except StartupError as exc:
        log.error("start-up failed", error=str(exc))
        return 1
    service.reloader = Reloader(service, lambda: load_config(config_paths, sets))
    stop = asyncio.Event()
    received: list[int] = []
    reloads: set[asyncio.Task[list[str]]] = set()

    def on_signal(signum: int) -> None:
        if signum == signal.SIGHUP:
            # As otelcol: SIGHUP reloads the configuration (collector/reload.py); reloads run one at a time.
            if not received:
                task = loop.create_task(service.reload("SIGHUP"))
                reloads.add(task)
                task.add_done_callback(reloads.discard)
            return
        received.append(signum)
        if len(received) > 1:
            log.error("second signal while draining; exiting without finishing", signal=signal.Signals(signum).name)
            os._exit(1)
        log.info("signal received; shutting down", signal=signal.Signals(signum).name)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await service.start()
    except StartupError as exc:
        log.error("start-up failed", error=str(exc))
        return 1
    tune_garbage_collector()
    await stop.wait()
    for task in list(reloads):
        await task  # a reload in progress finishes (or gives up) before the drain
    return 0 if await service.shutdown() else 1


if __name__ == "__main__":
    sys.exit(main())
