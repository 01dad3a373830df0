"""Regenerates api_v2_pb2.py and api_v2_pb2_grpc.py from api_v2.proto.

Run from the repository root with a Python that has grpcio-tools:

    python -m collector.jaeger_proto.regenerate

The checked-in stubs were made with grpcio-tools 1.66.0 (protoc 27.2): its gencode loads on every
protobuf runtime from 5.27.2 up (7.x included) and its service stubs on grpcio >= 1.66.0, which are
the project's floors. A newer grpcio-tools stamps a newer minimum runtime version into the stubs, so
keep using 1.66.0 (e.g. in a throwaway venv) unless the project raises its floors.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PROTO = HERE.relative_to(ROOT) / "api_v2.proto"
HEADER = (
    "# Generated code: do not edit. Source: {proto}\n"
    "# Regenerate with: python -m collector.jaeger_proto.regenerate (grpcio-tools {tools}, see its docstring)\n"
)


def main() -> int:
    from grpc_tools import protoc  # only needed here, not at run time

    import grpc_tools

    include = Path(protoc.__file__).resolve().parent / "_proto"
    args = ["protoc", f"-I{ROOT}", f"-I{include}", f"--python_out={ROOT}", f"--grpc_python_out={ROOT}", str(PROTO)]
    if protoc.main(args) != 0:
        return 1
    version = getattr(grpc_tools, "__version__", None) or _installed_version()
    for name in ("api_v2_pb2.py", "api_v2_pb2_grpc.py"):
        path = HERE / name
        path.write_text(HEADER.format(proto=PROTO, tools=version) + path.read_text())
    return 0


def _installed_version() -> str:
    from importlib.metadata import version

    return version("grpcio-tools")


if __name__ == "__main__":
    sys.exit(main())
