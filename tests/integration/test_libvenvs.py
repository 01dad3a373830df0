"""tests/libvenvs.py: a venv is built once per requirements file content, reused while the file is unchanged,
rebuilt (and the stale one removed) when it changes, and an interrupted build is redone."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests import libvenvs

pytestmark = pytest.mark.slow  # builds a real (empty) venv: a few seconds


def test_built_once_reused_rebuilt_on_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    requirements = tmp_path / "requirements"
    requirements.mkdir()
    (requirements / "empty.txt").write_text("# nothing to install\n")
    monkeypatch.setattr(libvenvs, "REQUIREMENTS", requirements)
    monkeypatch.setenv("LIBVENVS_DIR", str(tmp_path / "cache"))
    assert libvenvs.names() == ["empty"]

    python = libvenvs.ensure("empty")
    first = python.parent.parent
    assert first.parent == tmp_path / "cache" and (first / ".complete").exists()
    assert subprocess.run([str(python), "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True, check=True).stdout.strip() == str(first)
    stamp = (first / ".complete").stat().st_mtime_ns
    assert libvenvs.ensure("empty") == python and (first / ".complete").stat().st_mtime_ns == stamp

    (requirements / "empty.txt").write_text("# still nothing, but another file\n")
    second = libvenvs.ensure("empty").parent.parent
    assert second != first and not first.exists() and (second / ".complete").exists()

    (second / ".complete").unlink()  # as if the install had been interrupted
    assert libvenvs.ensure("empty").parent.parent == second and (second / ".complete").exists()


def test_a_failed_install_says_why_and_is_not_marked_complete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    requirements = tmp_path / "requirements"
    requirements.mkdir()
    (requirements / "broken.txt").write_text("--no-index\nno-such-package-anywhere==1.0\n")
    monkeypatch.setattr(libvenvs, "REQUIREMENTS", requirements)
    monkeypatch.setenv("LIBVENVS_DIR", str(tmp_path / "cache"))
    with pytest.raises(RuntimeError, match="no-such-package-anywhere"):
        libvenvs.ensure("broken")
    assert not (libvenvs.venv_dir("broken") / ".complete").exists()
