"""collector/components.py's rows against the classes their modules register: every built-in type is
listed under its module with the same current name and older spellings, and looking a type up imports its
module and no other component's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from collector import registry
from collector.component import Kind
from collector.components import BUILTIN

REPO = Path(__file__).resolve().parents[2]


def test_rows_agree_with_the_registered_classes() -> None:
    registry.load_all()
    listed = {(kind, name): (module, tuple(older)) for kind, module, name, *older in BUILTIN}
    registered = {
        (kind, name): (cls.__module__.removeprefix("collector."), cls.deprecated_type_names)
        for kind in Kind for name, cls in registry._REGISTRY[kind].items() if cls.__module__.startswith("collector.")
    }
    for (kind, name), (module, older) in registered.items():
        assert (kind, name) in listed, f"{kind} {name!r} is registered by {module} but has no row in collector/components.py"
        row_module, row_older = listed[(kind, name)]
        assert module == row_module or module.startswith(row_module + "."), (kind, name, module, row_module)
        assert older == row_older, (kind, name, older, row_older)
    assert set(listed) <= set(registered), sorted(set(listed) - set(registered))


def test_a_lookup_imports_only_its_own_module() -> None:
    code = (
        "import sys\n"
        "from collector import registry\n"
        "from collector.component import Kind\n"
        "assert registry.lookup(Kind.PROCESSOR, 'batch') is not None\n"
        "assert registry.lookup(Kind.EXPORTER, 'otlp').type_name == 'otlp_grpc'\n"
        "assert 'jaeger' in registry.types(Kind.EXPORTER)\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('collector.exporters.', 'collector.processors.', 'collector.receivers.', 'collector.extensions.')))\n"
        "print(' '.join(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, check=True).stdout.split()
    assert "collector.processors.batch" in out and "collector.exporters.otlp" in out
    for absent in ("collector.exporters.jaeger", "collector.exporters.elasticsearch", "collector.processors.redaction", "collector.receivers.otlp"):
        assert absent not in out, out
