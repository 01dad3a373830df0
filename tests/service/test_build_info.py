"""llm_collector_build_info{version,python} on the self-metrics endpoint of the running daemon."""

from __future__ import annotations

import platform
from typing import Any

from collector import __version__


def test_build_info_names_the_versions_running(daemon_factory: Any) -> None:
    daemon = daemon_factory()
    assert daemon.metric("llm_collector_build_info", version=__version__, python=platform.python_version()) == 1
    assert "# TYPE llm_collector_build_info gauge" in daemon.metrics()
