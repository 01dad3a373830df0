"""The file_log receiver across rotations and restarts, with the real daemon: a file renamed away and
replaced, a file copied and truncated in place (copytruncate), and the daemon stopped while lines are
written, with and without a file_storage extension for its offsets. Each line is delivered once.
Follows contrib's pkg/stanza/fileconsumer: rotation_test.go (TestMoveFile, TestTrackRotatedFilesLogOrder,
TestRotation's MoveCreate and CopyTruncate cases, TestTruncateThenWrite), file_test.go's TestRestartOffsets,
and file.go's Manager.Start (stored offsets make start_at inapplicable) and Manager.poll (offsets saved
after every poll)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from collector.testing import wait_for
from tests.receivers.filelog_support import append, bodies, config, wait_bodies

FAST = {"poll_interval": "50ms", "force_flush_period": "200ms"}


def _writer_lines(prefix: str, start: int, count: int) -> str:
    return "".join(f"{prefix} {i:05d} {'x' * 40}\n" for i in range(start, start + count))


def _expected(prefix: str, start: int, count: int) -> list[str]:
    return [line for line in _writer_lines(prefix, start, count).splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize("rotated_name_matches", [False, True])
def test_rotation_by_rename_neither_loses_nor_duplicates_lines(tmp_path: Path, daemon_factory: Any, rotated_name_matches: bool) -> None:
    # rotation_test.go TestRotation (MoveCreate*), TestMoveFile, TestTrackRotatedFilesLogOrder: lines written
    # just before the rename are read through the descriptor still open (file.go readLostFiles); a rotated
    # name the include matches is the same fingerprint, so not read again
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "app.log"
    include = str(logs / "app.log*") if rotated_name_matches else str(log)
    log.write_text("")
    daemon = daemon_factory(config({"include": [include], "start_at": "beginning", **FAST}))
    written: list[str] = []
    for generation in range(4):
        for burst in range(5):
            text = _writer_lines(f"g{generation}", burst * 20, 20)
            append(log, text)
            written += text.splitlines()
            if burst < 4:  # the daemon has seen this file before its last burst and the rotation
                wait_bodies(daemon, len(written))
        os.rename(log, logs / f"app.log.{generation}")  # the rotation: rename, then a new file
        log.write_text("")
    append(log, "last line\n")
    written.append("last line")
    got = wait_bodies(daemon, len(written), timeout=30)
    time.sleep(0.5)  # nothing more may come
    assert sorted(bodies(daemon)) == sorted(written)
    assert len(got) == len(written)


@pytest.mark.slow
def test_copytruncate_reads_the_new_content_from_its_start(tmp_path: Path, daemon_factory: Any) -> None:
    # rotation_test.go TestRotation (CopyTruncate*) and TestTruncateThenWrite: the rotated copy is not
    # matched; the truncated file is a new fingerprint, read from its start
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "app.log"
    log.write_text(_writer_lines("before", 0, 50))
    daemon = daemon_factory(config({"include": [str(log)], "start_at": "beginning", **FAST}))
    wait_bodies(daemon, 50)
    shutil.copyfile(log, logs / "app.log.1")
    with open(log, "r+b") as f:
        f.truncate(0)
    time.sleep(0.3)  # a poll sees the empty file
    append(log, _writer_lines("after", 0, 30))
    wait_bodies(daemon, 80)
    time.sleep(0.5)
    assert bodies(daemon) == _expected("before", 0, 50) + _expected("after", 0, 30)


@pytest.mark.slow
def test_copytruncate_without_seeing_the_empty_file(tmp_path: Path, daemon_factory: Any) -> None:
    # rotation_test.go TestTruncateThenWrite, with the truncation and the new lines landing between two
    # polls; the new content is longer than the old offset, so reading on at the old offset would return
    # the middle of the new content: the changed fingerprint (fileset.StartsWith fails) restarts it at 0.
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "app.log"
    log.write_text("old 1\nold 2\n")
    daemon = daemon_factory(config({"include": [str(log)], "start_at": "beginning", "poll_interval": "1s"}))
    wait_bodies(daemon, 2)
    time.sleep(0.2)
    with open(log, "r+b") as f:
        f.truncate(0)
        f.write(_writer_lines("new", 0, 10).encode())
    wait_bodies(daemon, 12)
    time.sleep(1.5)
    assert bodies(daemon) == ["old 1", "old 2", *_expected("new", 0, 10)]


@pytest.mark.slow
def test_restart_with_storage_neither_rereads_nor_skips(tmp_path: Path, daemon_factory: Any) -> None:
    # file_test.go TestRestartOffsets (start_at: end) with a file_storage extension: offsets saved after
    # each poll and at shutdown (file.go Manager.poll / Manager.Stop); lines written while the daemon is
    # down are read after the restart; and with stored offsets start_at does not apply (Manager.Start):
    # a file new since the first run is read from its start
    logs = tmp_path / "logs"
    logs.mkdir()
    log, other = logs / "app.log", logs / "other.log"
    log.write_text("ignored: before the first start\n")
    # an unterminated line waits for its end (no force flush here), so its offset stays before it
    receiver = {"include": [str(logs / "*.log")], "poll_interval": "50ms", "force_flush_period": "1h"}
    first = daemon_factory(config(receiver, storage=True), subdir="run")
    wait_for(lambda: "started watching file" in first.logs(), 10, "the first poll")
    append(log, _writer_lines("run1", 0, 20) + "partial line wh")
    wait_bodies(first, 20)
    assert first.stop() == 0
    append(log, "ile down\n" + _writer_lines("down", 0, 15) + "partial line while do")  # written while stopped
    other.write_text("new file while down\n")
    second = daemon_factory(config(receiver, storage=True), subdir="run")  # same data dir: same storage and output
    wait_for(lambda: len(bodies(second)) >= 37, 15, "the lines written while down")
    append(log, "wn\n" + _writer_lines("run2", 0, 5))
    wait_bodies(second, 43)
    time.sleep(0.5)
    got = bodies(second)
    expected = _expected("run1", 0, 20) + ["partial line while down"] + _expected("down", 0, 15) + ["partial line while down"] + _expected("run2", 0, 5)
    assert sorted(got) == sorted(expected + ["new file while down"])
    assert [b for b in got if b != "new file while down"] == expected
    assert second.stop() == 0
    stored = list((second.data / "storage").iterdir())
    assert [p.name for p in stored] == ["receiver_file_log"]


@pytest.mark.slow
def test_restart_without_storage_starts_over(tmp_path: Path, daemon_factory: Any) -> None:
    # Without storage the offsets live in memory (the README's fault-tolerance note): start_at: end skips
    # what was written while stopped.
    log = tmp_path / "app.log"
    log.write_text("skipped: before the first start\n")
    receiver = {"include": [str(log)], **FAST}
    first = daemon_factory(config(receiver), subdir="run")
    wait_for(lambda: "started watching file" in first.logs(), 10, "the first poll")
    append(log, "seen\n")
    wait_bodies(first, 1)
    assert first.stop() == 0
    append(log, "lost while down\n")
    second = daemon_factory(config(receiver), subdir="run")
    wait_for(lambda: "started watching file" in second.logs(), 10, "the first poll")
    append(log, "after restart\n")
    wait_bodies(second, 2)
    assert bodies(second) == ["seen", "after restart"]
