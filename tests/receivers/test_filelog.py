"""The file_log receiver as a user runs it: the real daemon tailing files the test writes, its output
read from the file exporter's OTLP JSON. Behaviour follows contrib's receiver/filelogreceiver and
pkg/stanza/fileconsumer (each test names the contrib test it follows)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from collector.testing import wait_for
from tests.receivers.filelog_support import append, bodies, config, records, wait_bodies

FAST = {"poll_interval": "50ms", "force_flush_period": "200ms"}


def test_start_at_beginning_reads_what_is_there_and_follows_what_is_appended(tmp_path: Path, daemon_factory: Any) -> None:
    # fileconsumer's TestReadExistingLogs and TestReadNewLogs
    log = tmp_path / "app.log"
    log.write_text("one\ntwo\n")
    daemon = daemon_factory(config({"include": [str(tmp_path / "*.log")], "start_at": "beginning", **FAST}))
    assert wait_bodies(daemon, 2) == ["one", "two"]
    append(log, "three\n")
    assert wait_bodies(daemon, 3) == ["one", "two", "three"]
    first = records(daemon)[0]
    # include_file_name defaults to true, include_file_path to false (filelogreceiver's README)
    assert first["attributes"] == {"log.file.name": "app.log"}
    assert first["time"] == 0 and first["severity"] == 0


def test_start_at_end_skips_what_is_there_but_reads_files_that_appear_later(tmp_path: Path, daemon_factory: Any) -> None:
    # fileconsumer's TestStartAtEnd and TestStartAtEndNewFile: start_at applies to the first poll only
    old = tmp_path / "old.log"
    old.write_text("before start\n")
    daemon = daemon_factory(config({"include": [str(tmp_path / "*.log")], "include_file_path": True, **FAST}))
    wait_for(lambda: "started watching file" in daemon.logs(), 10, "the first poll")
    append(old, "after start\n")
    (tmp_path / "new.log").write_text("new file, first line\n")
    got = wait_bodies(daemon, 2)
    assert sorted(got) == ["after start", "new file, first line"]
    paths = {r["body"]: r["attributes"]["log.file.path"] for r in records(daemon)}
    assert paths == {"after start": str(old), "new file, first line": str(tmp_path / "new.log")}


def test_include_and_exclude_are_doublestar_globs(tmp_path: Path, daemon_factory: Any) -> None:
    # fileconsumer/matcher's TestMatcher cases with ** and exclude
    logs = tmp_path / "logs"
    (logs / "sub" / "deeper").mkdir(parents=True)
    for name in ("a.log", "b.log", "sub/c.log", "sub/deeper/d.log", "e.txt", "sub/f.json"):
        (logs / name).write_text(f"{name}\n")
    daemon = daemon_factory(config({
        "include": [str(logs / "**" / "*.log"), str(logs / "*.{txt,csv}")],
        "exclude": [str(logs / "b.log"), str(logs / "**" / "deeper" / "*")],
        "start_at": "beginning", **FAST,
    }))
    wait_bodies(daemon, 3)
    wait_for(lambda: daemon.metric("otelcol_receiver_accepted_log_records") >= 3, 5, "counts")
    assert sorted(bodies(daemon)) == ["a.log", "e.txt", "sub/c.log"]


def test_multiline_line_start_pattern_joins_continuation_lines(tmp_path: Path, daemon_factory: Any) -> None:
    # fileconsumer's TestMultiline-style case of the README: a stack trace stays one entry; the last one
    # is emitted after force_flush_period since no next start comes
    log = tmp_path / "java.log"
    log.write_text(
        "2024-01-01 10:00:00 ERROR boom\n"
        "java.lang.RuntimeException: boom\n"
        "    at Main.main(Main.java:3)\n"
        "2024-01-01 10:00:01 INFO recovered\n"
    )
    daemon = daemon_factory(config({"include": [str(log)], "start_at": "beginning",
                                    "multiline": {"line_start_pattern": r"^\d{4}-\d{2}-\d{2}"}, **FAST}))
    got = wait_bodies(daemon, 2)
    assert got == ["2024-01-01 10:00:00 ERROR boom\njava.lang.RuntimeException: boom\n    at Main.main(Main.java:3)",
                   "2024-01-01 10:00:01 INFO recovered"]


def test_multiline_line_end_pattern(tmp_path: Path, daemon_factory: Any) -> None:
    log = tmp_path / "ends.log"
    log.write_text("part a\npart b;\nsingle;\n")
    daemon = daemon_factory(config({"include": [str(log)], "start_at": "beginning", "multiline": {"line_end_pattern": ";$"}, **FAST}))
    assert wait_bodies(daemon, 2) == ["part a\npart b;", "single;"]


def test_unterminated_last_line_is_emitted_after_force_flush_period(tmp_path: Path, daemon_factory: Any) -> None:
    # fileconsumer's TestFlushPeriod-like behaviour (force_flush_period)
    log = tmp_path / "partial.log"
    log.write_text("complete\nno newline yet")
    daemon = daemon_factory(config({"include": [str(log)], "start_at": "beginning", **FAST}))
    assert wait_bodies(daemon, 2) == ["complete", "no newline yet"]
    append(log, "next\n")
    assert wait_bodies(daemon, 3)[2] == "next"


def test_a_huge_line_is_cut_into_pieces_of_max_log_size(tmp_path: Path, daemon_factory: Any) -> None:
    # reader_test.go's TestTokenizationTooLong: 22 a's with max_log_size 10 are aaaaaaaaaa, aaaaaaaaaa, aa
    log = tmp_path / "huge.log"
    log.write_text("a" * 22 + "\naaa\n" + "b" * 300_000 + "\nafter\n")
    daemon = daemon_factory(config({"include": [str(log)], "start_at": "beginning", "max_log_size": 10, **FAST}))
    got = wait_bodies(daemon, 4 + 30_000 + 1, timeout=60)
    assert got[:4] == ["aaaaaaaaaa", "aaaaaaaaaa", "aa", "aaa"]
    assert got[4:-1] == ["b" * 10] * 30_000
    assert got[-1] == "after"


def test_binary_garbage_becomes_replacement_characters_and_reading_goes_on(tmp_path: Path, daemon_factory: Any) -> None:
    # encoding utf-8 (the default) decodes invalid bytes to U+FFFD, as Go's UTF-8 decoder does
    log = tmp_path / "garbage.log"
    log.write_bytes(b"ok 1\n\xff\xfe\x00\x01\xc3(\n" + bytes(range(256)).replace(b"\n", b"") + b"\nok 2\n")
    daemon = daemon_factory(config({"include": [str(log)], "start_at": "beginning", **FAST}))
    got = wait_bodies(daemon, 4)
    assert got[0] == "ok 1" and got[3] == "ok 2"
    assert got[1] == "\ufffd\ufffd\x00\x01\ufffd("
    assert "\ufffd" in got[2]
    assert daemon.alive()


def test_encoding_nop_keeps_the_raw_bytes(tmp_path: Path, daemon_factory: Any) -> None:
    log = tmp_path / "raw.log"
    log.write_bytes(b"\xff\x00raw\n")
    daemon = daemon_factory(config({"include": [str(log)], "start_at": "beginning", "encoding": "nop", **FAST}))
    wait_bodies(daemon, 1)
    assert bodies(daemon)[0] == ("bytes", "/wByYXc=")


def test_operators_parse_and_reshape_entries(tmp_path: Path, daemon_factory: Any) -> None:
    # json_parser (with timestamp and severity), regex_parser, move, remove and add, chained as in the
    # filelogreceiver README's examples
    log = tmp_path / "mixed.log"
    log.write_text(
        '{"time": "2024-05-06 07:08:09.123", "level": "warning", "msg": "disk low", "secret": "x", "n": 3}\n'
        "10.0.0.1 GET /health 200\n"
    )
    daemon = daemon_factory(config({
        "include": [str(log)], "start_at": "beginning", **FAST,
        "operators": [
            {"type": "json_parser", "id": "json", "if": 'body matches "^\\\\{"',
             "timestamp": {"parse_from": "attributes.time", "layout": "%Y-%m-%d %H:%M:%S.%L"},
             "severity": {"parse_from": "attributes.level"}},
            {"type": "regex_parser", "if": 'attributes.msg == nil', "regex": r"^(?P<ip>\S+) (?P<method>\S+) (?P<path>\S+) (?P<status>\d+)$",
             "severity": {"parse_from": "attributes.status", "mapping": {"info": "2xx", "error": "5xx"}}},
            {"type": "move", "from": "attributes.msg", "to": "body", "on_error": "send_quiet"},
            {"type": "remove", "field": "attributes.secret", "on_error": "send_quiet"},
            {"type": "add", "field": 'resource["service.name"]', "value": "shop"},
        ],
    }))
    got = records(daemon) if wait_bodies(daemon, 2) else []
    json_entry, access = got
    assert json_entry["body"] == "disk low"
    assert json_entry["attributes"] == {"log.file.name": "mixed.log", "time": "2024-05-06 07:08:09.123", "level": "warning", "n": 3.0}
    assert json_entry["time"] == 1714979289_123_000_000
    assert (json_entry["severity"], json_entry["severity_text"]) == (13, "warning")
    assert json_entry["resource"] == {"service.name": "shop"}
    assert access["body"] == "10.0.0.1 GET /health 200"
    assert access["attributes"] == {"log.file.name": "mixed.log", "ip": "10.0.0.1", "method": "GET", "path": "/health", "status": "200"}
    assert (access["severity"], access["severity_text"]) == (9, "200")
    assert "failed to process entry" not in daemon.logs()


def test_a_failing_operator_sends_the_entry_on_by_default_and_drops_it_with_on_error_drop(tmp_path: Path, daemon_factory: Any) -> None:
    # helper/operator.go HandleEntryError: `send` (default) passes the entry on, `drop` drops it
    (tmp_path / "a.log").write_text("not json\n")
    (tmp_path / "b.log").write_text("not json either\n")
    daemon = daemon_factory(config({"include": [str(tmp_path / "*.log")], "start_at": "beginning", **FAST,
                                    "operators": [{"type": "json_parser", "id": "b", "on_error": "drop", "if": 'attributes["log.file.name"] == "b.log"'},
                                                  {"type": "json_parser", "id": "all"}]}))
    assert wait_bodies(daemon, 1) == ["not json"]
    wait_for(lambda: daemon.logs().count("failed to process entry") >= 2, 5, "both failures logged")
    assert bodies(daemon) == ["not json"]


POD_DIR = "default_shop-7d4b9c_1f2e3d4c-0000-4000-8000-aabbccddeeff"


@pytest.mark.parametrize(("runtime", "lines", "expected"), [
    ("docker",
     ['{"log":"started\\n","stream":"stdout","time":"2024-03-30T08:31:20.545192187Z"}',
      '{"log":"oops\\n","stream":"stderr","time":"2024-03-30T08:31:21Z"}'],
     [("started\n", "stdout", 1711787480_545192187), ("oops\n", "stderr", 1711787481_000000000)]),
    ("crio",
     ["2024-03-30T08:31:20.545192187+00:00 stdout F started",
      "2024-03-30T10:31:21.5+02:00 stderr P first half;",
      "2024-03-30T10:31:21.6+02:00 stderr F second half"],
     [("started", "stdout", 1711787480_545192187), ("first half;second half", "stderr", 1711787481_600000000)]),
    ("containerd",
     ["2024-03-30T08:31:20.545192187Z stdout F started",
      "2024-03-30T08:31:21.000000001Z stdout P a",
      "2024-03-30T08:31:21.000000002Z stdout P b",
      "2024-03-30T08:31:21.000000003Z stdout F c"],
     [("started", "stdout", 1711787480_545192187), ("abc", "stdout", 1711787481_000000003)]),
])
def test_container_parser_reads_docker_and_cri_lines_with_the_pods_metadata(tmp_path: Path, daemon_factory: Any, runtime: str,
                                                                            lines: list[str], expected: list[tuple[str, str, int]]) -> None:
    # container/parser_test.go's TestProcess (docker, crio, containerd, with recombined partial lines)
    # and the Helm chart's collector-logs preset (include_file_path, the container operator)
    pod = tmp_path / "pods" / POD_DIR / "shop"
    pod.mkdir(parents=True)
    (pod / "2.log").write_text("\n".join(lines) + "\n")
    daemon = daemon_factory(config({"include": [str(tmp_path / "pods" / "*" / "*" / "*.log")], "start_at": "beginning",
                                    "include_file_name": False, "include_file_path": True, **FAST,
                                    "operators": [{"type": "container", "id": "container-parser", "max_log_size": 102400}]}))
    wait_bodies(daemon, len(expected))
    got = records(daemon)
    assert [(r["body"], r["attributes"]["log.iostream"], r["time"]) for r in got] == expected
    assert got[0]["resource"] == {"k8s.namespace.name": "default", "k8s.pod.name": "shop-7d4b9c", "k8s.pod.uid": "1f2e3d4c-0000-4000-8000-aabbccddeeff",
                                  "k8s.container.name": "shop", "k8s.container.restart_count": "2"}
    assert "time" not in got[0]["attributes"]
    if runtime != "docker":
        assert got[-1]["attributes"]["logtag"] == "F"
