"""Regenerates zipkin_pb2.py from zipkin.proto.

Run from the repository root with a Python that has grpcio-tools:

    python -m collector.receivers.zipkin.proto.regenerate

The checked-in module was made with grpcio-tools 1.66.0 (protoc 27.2), as collector/exporters/jaeger_proto's
stubs are: its gencode loads on every protobuf runtime from 5.27.2 up, the project's floor. A newer
grpcio-tools stamps a newer minimum runtime version into it, so keep using 1.66.0 (in a throwaway venv: never
in the project's venv, where it would downgrade protobuf) unless the project raises its floor.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]
PROTO = HERE.relative_to(ROOT) / "zipkin.proto"
HEADER = (
    "# Generated code: do not edit. Source: {proto}\n"
    "# Regenerate with: python -m collector.receivers.zipkin.proto.regenerate (grpcio-tools {tools}, see its docstring)\n"
)


def main() -> int:
    from grpc_tools import protoc  # only needed here, not at run time

    import grpc_tools

    include = Path(protoc.__file__).resolve().parent / "_proto"
    args = ["protoc", f"-I{ROOT}", f"-I{include}", f"--python_out={ROOT}", str(PROTO)]
    if protoc.main(args) != 0:
        return 1
    version = getattr(grpc_tools, "__version__", None) or _installed_version()
    path = HERE / "zipkin_pb2.py"
    path.write_text(HEADER.format(proto=PROTO, tools=version) + path.read_text())
    return 0


def _installed_version() -> str:
    from importlib.metadata import version

    return version("grpcio-tools")


if __name__ == "__main__":
    sys.exit(main())
