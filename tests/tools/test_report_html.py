"""`llm-collector report --html`: the page renders its charts in headless Chromium (Debian's `chromium`) with
no network, checked on a screenshot: both charts' fill colours are present in the PNG, in bar-sized areas."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from collector.report.html import SPENDER_COLOUR, TREND_COLOUR
from tests.tools.test_report import exported, report  # noqa: F401  (the module fixture: the daemon's files)

CHROMIUM = shutil.which("chromium")


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit, non-interlaced RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        filter_type = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = previous[i]
            c = previous[i - channels] if i >= channels else 0
            if filter_type == 1:
                line[i] = (line[i] + a) & 0xFF
            elif filter_type == 2:
                line[i] = (line[i] + b) & 0xFF
            elif filter_type == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif filter_type == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line) if channels == 3 else bytes(v for j, v in enumerate(line) if j % 4 != 3))
        previous = line
    return width, height, rows


def count_colour(rows: list[bytes], colour: str) -> int:
    rgb = bytes.fromhex(colour.lstrip("#"))
    return sum(sum(1 for x in range(0, len(row), 3) if row[x : x + 3] == rgb) for row in rows)


@pytest.mark.slow
def test_html_report_renders_both_charts_in_chromium(exported: Path, tmp_path: Path) -> None:  # noqa: F811
    # Fails rather than skips without it, as tests/deploy/ does for promtool: a skipped check passes unseen.
    assert CHROMIUM, "chromium not found: install Debian's chromium package (apt-get install -y chromium; .ci/run does)"
    page = tmp_path / "report.html"
    done = report(str(exported / "json"), "--by", "user.id", "--html", str(page))
    assert done.returncode == 0, done.stderr
    text = page.read_text()
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in text  # nothing fetched
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars",
                    "--window-size=1000,900", f"--screenshot={shot}", page.as_uri()], check=True, capture_output=True, timeout=120)
    width, height, rows = png_pixels(shot.read_bytes())
    assert (width, height) == (1000, 900)
    # Three hourly bars and three users' bars: each chart's colour covers at least a few bars' worth of pixels.
    assert count_colour(rows, TREND_COLOUR) > 3 * 500, "the cost-over-time chart did not render"
    assert count_colour(rows, SPENDER_COLOUR) > 3 * 500, "the top-spenders chart did not render"
