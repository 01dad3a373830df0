"""The zpages extension as a user reads it: a real daemon with `zpages` in its config, every page fetched over
HTTP, the pipelines page's counters moving after OTLP is sent, and names from the config escaped. otelcol's
behaviour followed: core's extension/zpagesextension/config.go (endpoint default localhost:55679, `expvar`),
zpagesextension.go (the routes under /debug/, expvarz only when enabled), service/zpages.go (servicez,
featurez), service/internal/graph/zpages.go (pipelinez and its pipelinenamez/componentnamez/componentkindz
query) and the extensions table template of service/internal/zpages/templates/ (zextensionname)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from collector.config import load_config
from collector.extensions.zpages.pages import TRACEZ_EXPLANATION
from collector.testing import spans_request, wait_for
from tests.conftest import daemon_yaml

# A component name with every character HTML gives a meaning to (ids allow anything but whitespace and "/").
NASTY = "<img_src=x_onerror=alert(1)>&q=\"'"
NASTY_YAML = NASTY.replace("\\", "\\\\").replace('"', '\\"')


def _config(zpages: str) -> str:
    return daemon_yaml(f"""
receivers:
  otlp:
    protocols:
      http: {{{{endpoint: "127.0.0.1:{{http}}"}}}}
processors:
  batch: {{{{timeout: 10ms}}}}
exporters:
  debug:
  "file/{NASTY_YAML}": {{{{path: "{{data}}/traces.jsonl"}}}}
  file/logs: {{{{path: "{{data}}/logs.jsonl"}}}}
""", f"""
traces: {{{{receivers: [otlp], processors: [batch], exporters: [debug, "file/{NASTY_YAML}"]}}}}
logs: {{{{receivers: [otlp], exporters: [file/logs]}}}}
""").replace("  extensions: [health_check]", "  extensions: [health_check, zpages]").replace(
        "extensions:\n", f"extensions:\n  zpages: {zpages}\n", 1)


def _get(url: str) -> tuple[int, str, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode(), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), exc.headers


def _send_spans(daemon: Any, n: int) -> None:
    body = spans_request(n).SerializeToString()
    request = urllib.request.Request(f"{daemon.http_url}/v1/traces", data=body, headers={"Content-Type": "application/x-protobuf"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def _counts(html: str, id_html: str) -> str:
    """The counts printed under a component's link on the pipelines page."""
    m = re.search(re.escape(f">{id_html}</a><br><span class=\"n\">") + r"([^<]*)</span>", html)
    assert m is not None, (id_html, html)
    return m.group(1)


def test_every_page_answers_and_the_pipeline_counters_follow_the_data(daemon_factory: Any) -> None:
    daemon = daemon_factory(_config('{{endpoint: "127.0.0.1:{zpages}"}}'), extra_ports=("zpages",))
    base = f"http://127.0.0.1:{daemon.ports['zpages']}/debug"
    escaped = "file/&lt;img_src=x_onerror=alert(1)&gt;&amp;q=&quot;&#x27;"

    status, html, headers = _get(f"{base}/servicez")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    for expected in ("<h2>Build Info</h2>", "<td>Command</td><td>llm-collector</td>", "<td>StartTimestamp</td>", "<td>Uptime</td>",
                     f"<td>Sources</td><td>{daemon.config_path}</td>", '<a href="pipelinez">', '<a href="extensionz">', '<a href="featurez">',
                     "<td>receiver</td><td>otlp</td><td>yes</td>", "<td>processor</td><td>batch</td><td>yes</td>",
                     f"<td>exporter</td><td>{escaped}</td><td>yes</td>", "<td>extension</td><td>zpages</td><td>yes</td>"):
        assert expected in html, expected
    assert NASTY not in html and "<img" not in html
    assert 'href="expvarz"' not in html  # expvar is off by default

    status, html, _ = _get(f"{base}/pipelinez")
    assert status == 200
    assert re.search(r"<tr><td>traces</td><td>traces</td><td>false</td>", html)
    assert re.search(r"<tr><td>logs</td><td>logs</td><td>false</td>", html)
    assert NASTY not in html and "<img" not in html
    assert _counts(html, "otlp").startswith("accepted 0, refused 0")
    assert _counts(html, escaped) == "sent 0, send_failed 0, enqueue_failed 0"

    _send_spans(daemon, 7)
    _send_spans(daemon, 5)
    # The batch processor sends on within its 10ms timeout, so its outgoing count and the exporters' follow.
    def sent() -> str | None:
        page = _get(f"{base}/pipelinez")[1]
        return page if page.count("sent 12,") == 2 and "outgoing 12" in page else None

    html = wait_for(sent, what="the batch to be sent")
    assert "accepted 12, refused 0, failed 0" in html
    assert _counts(html, "batch") == "incoming 12, outgoing 12"
    assert _counts(html, "debug") == "sent 12, send_failed 0, enqueue_failed 0"
    assert _counts(html, escaped) == "sent 12, send_failed 0, enqueue_failed 0"

    # A component's own section, reached by the link the table gives it (otelcol names a processor by its pipeline).
    link = re.search(r'href="(pipelinez\?[^"]*componentnamez=batch[^"]*)"', html)
    assert link is not None
    status, html, _ = _get(f"{base}/{link.group(1).replace('&amp;', '&')}")
    assert "<h2>processor: traces/batch</h2>" in html and "<td>incoming</td><td>12</td>" in html
    nasty_link = re.search(r'href="(pipelinez\?pipelinenamez=traces&amp;componentnamez=file%2F%3C[^"]*)"', html)
    assert nasty_link is not None
    status, html, _ = _get(f"{base}/{nasty_link.group(1).replace('&amp;', '&')}")
    assert f"<h2>exporter: {escaped}</h2>" in html and "<td>sent</td><td>12</td>" in html
    status, html, _ = _get(f"{base}/pipelinez?pipelinenamez=traces&componentnamez=%3Cb%3E&componentkindz=receiver")
    assert status == 200 and "No such component in this pipeline" in html and "<b>" not in html

    status, html, _ = _get(f"{base}/extensionz")
    assert status == 200
    assert '<a href="extensionz?zextensionname=health_check">health_check</a>' in html
    assert '<a href="extensionz?zextensionname=zpages">zpages</a>' in html
    status, html, _ = _get(f"{base}/extensionz?zextensionname=health_check")
    assert "<h2>extension: health_check</h2>" in html and "<td>Status</td><td>started</td>" in html

    status, html, _ = _get(f"{base}/featurez")
    assert status == 200 and "<th>ID</th><th>Enabled</th>" in html and "no feature gates" in html

    status, html, _ = _get(f"{base}/tracez")
    assert status == 200 and "does not trace itself" in html and TRACEZ_EXPLANATION.split(":")[0] in html.replace("&#x27;", "'")

    assert _get(f"{base}/expvarz")[0] == 404


def test_expvarz_serves_the_runtime_as_json_when_enabled(daemon_factory: Any) -> None:
    daemon = daemon_factory(_config('{{endpoint: "127.0.0.1:{zpages}", expvar: {{enabled: true}}, response_headers: {{x-served-by: zpages}}}}'),
                            extra_ports=("zpages",))
    status, body, headers = _get(f"http://127.0.0.1:{daemon.ports['zpages']}/debug/expvarz")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert headers["x-served-by"] == "zpages"
    doc = json.loads(body)
    assert doc["cmdline"][-3:] == ["run", "--config", str(daemon.config_path)]
    assert doc["memstats"]["rss_bytes"] > 0 and len(doc["memstats"]["gc_generations"]) == 3
    assert "MainThread" in doc["threads"]
    assert 'href="expvarz"' in _get(f"http://127.0.0.1:{daemon.ports['zpages']}/debug/servicez")[1]


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return str(path)


BARE = """
receivers: {otlp: {protocols: {http: {endpoint: "127.0.0.1:0"}}}}
exporters: {debug: {}}
extensions:
  zpages: %s
service:
  extensions: [zpages]
  pipelines: {traces: {receivers: [otlp], exporters: [debug]}}
"""


def test_otelcols_defaults_and_keys(tmp_path: Path) -> None:
    from collector.component import ComponentID, Kind

    cfg = load_config([_write(tmp_path, BARE % "{}")]).component(Kind.EXTENSION, ComponentID("zpages")).config
    assert cfg.endpoint == "localhost:55679" and cfg.expvar.enabled is False
    cfg = load_config([_write(tmp_path, BARE % '{endpoint: ":55679", cors: {allowed_origins: ["*"]}, include_metadata: true}')]).component(
        Kind.EXTENSION, ComponentID("zpages")).config
    from collector.extensions.zpages.extension import ZPagesExtension

    assert [key for key, _ in ZPagesExtension.ineffective_keys(cfg)] == ["cors", "include_metadata"]


@pytest.mark.parametrize("body", ['{auth: {authenticator: basicauth}}', '{endpoint: "nowhere"}'])
def test_what_it_cannot_honour_is_refused(tmp_path: Path, body: str) -> None:
    from collector.config import ConfigErrors

    with pytest.raises(ConfigErrors) as caught:
        load_config([_write(tmp_path, BARE % body)])
    assert "extensions.zpages." in str(caught.value)
