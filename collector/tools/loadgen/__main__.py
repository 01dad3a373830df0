"""`python -m collector.tools.loadgen`: the load generator without the rest of the CLI."""

from __future__ import annotations

import argparse
import sys

from . import add_arguments, main


def _standalone() -> int:
    parser = argparse.ArgumentParser(prog="python -m collector.tools.loadgen",
                                     description="Send realistic LLM-application OTLP load to a collector.")
    add_arguments(parser)
    return main(parser.parse_args())


if __name__ == "__main__":
    sys.exit(_standalone())
