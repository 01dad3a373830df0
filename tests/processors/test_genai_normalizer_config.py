"""gen_ai_normalizer's configuration against otelcol-contrib's genainormalizerprocessor config_test.go, for
both shapes contrib has had (each case names the contrib test it follows), and its errors as the config loader
reports them (`file:line: key.path: problem`)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from collector.component import Kind
from collector.config import ConfigErrors, load_config
from collector.config.source import Document
from collector.config.typed import Decoder
from collector.processors.genai_normalizer import GenAINormalizerConfig, Source
from collector.testing import BuildError, decode_config

BUILTIN = "anthropic, crewai, langchain, langfuse, langtrace, mlflow, openinference, openllmetry, pydanticai"


def sources_of(config: Any) -> list[Source]:
    return list(decode_config("gen_ai_normalizer", config)[1].sources)


def error_of(config: Any) -> str:
    with pytest.raises(BuildError) as info:
        decode_config("gen_ai_normalizer", config)
    return str(info.value)


# config_test.go (current) TestValidate: (case, sources list, error or None)
VALIDATE_LIST = [
    ("valid openinference source", [{"name": "openinference", "remove_originals": True}], None),
    ("valid openllmetry source", [{"name": "openllmetry", "remove_originals": True}], None),
    ("both sources", [{"name": "openinference"}, {"name": "openllmetry"}], None),
    ("all built-in sources", [{"name": n} for n in ("openinference", "openllmetry", "langchain", "crewai", "pydanticai")], None),
    ("built-in source with mappings set (crewai)", [{"name": "crewai", "mappings": {"foo": "gen_ai.agent.name"}}],
     'sources[0]: "mappings" is not valid on built-in source "crewai"'),
    ("no sources", [], "sources: at least one source must be specified"),
    ("empty name", [{"name": ""}], 'sources[0]: "name" must be set'),
    ("duplicate built-in source", [{"name": "openinference"}, {"name": "openinference"}], 'sources[1]: duplicate source "openinference"'),
    ("duplicate user-defined source", [{"name": "my_vendor", "mappings": {"a": "gen_ai.request.model"}}, {"name": "my_vendor", "mappings": {"b": "gen_ai.request.model"}}],
     'sources[1]: duplicate source "my_vendor"'),
    ("valid user-defined source", [{"name": "my_vendor", "mappings": {"my_vendor.model": "gen_ai.request.model"}}], None),
    ("user-defined source with empty mappings", [{"name": "my_vendor"}],
     f'sources[0]: user-defined source "my_vendor" requires non-empty "mappings" (built-in sources, which do not require mappings: {BUILTIN})'),
    ("typo on built-in source name surfaces built-in list", [{"name": "openllllmetry"}],
     f'built-in sources, which do not require mappings: {BUILTIN}); did you mean "openllmetry"?'),
    ("built-in source with mappings set", [{"name": "openinference", "mappings": {"foo": "gen_ai.request.model"}}],
     'sources[0]: "mappings" is not valid on built-in source "openinference"'),
    ("two distinct user-defined sources allowed", [{"name": "vendor_a", "mappings": {"vendor_a.model": "gen_ai.request.model"}},
                                                   {"name": "vendor_b", "mappings": {"vendor_b.model": "gen_ai.request.model"}}], None),
    ("valid user-defined source with value_mappings", [{"name": "my_vendor", "mappings": {"my_vendor.op": "gen_ai.operation.name"},
                                                        "value_mappings": {"gen_ai.operation.name": {"chat_completion": "chat"}}}], None),
    ("built-in source with value_mappings set", [{"name": "openinference", "value_mappings": {"gen_ai.operation.name": {"chat_completion": "chat"}}}],
     'sources[0]: "value_mappings" is not valid on built-in source "openinference"'),
    ("value_mappings key not in mappings targets", [{"name": "my_vendor", "mappings": {"my_vendor.model": "gen_ai.request.model"},
                                                     "value_mappings": {"gen_ai.operation.name": {"chat_completion": "chat"}}}],
     'sources[0]: "value_mappings" key "gen_ai.operation.name" is not a target in "mappings"'),
    # beyond contrib: our built-in sources; keys of the other shape are refused
    ("our built-in sources", [{"name": n} for n in ("mlflow", "langtrace", "langfuse", "anthropic")], None),
    ("custom_mappings belongs to the map shape", [{"name": "openinference", "custom_mappings": {"a": "b"}}], 'sources[0].custom_mappings: unknown key'),
    ("identity mapping", [{"name": "v", "mappings": {"gen_ai.request.model": "gen_ai.request.model"}}],
     'sources[0].mappings.gen_ai.request.model: source and target are identical ("gen_ai.request.model")'),
]


@pytest.mark.parametrize(("case", "sources", "error"), VALIDATE_LIST, ids=[c[0] for c in VALIDATE_LIST])
def test_validate_list_shape(case: str, sources: list[dict[str, Any]], error: str | None) -> None:
    if error is None:
        assert [s.name for s in sources_of({"sources": sources})] == [s["name"] for s in sources]
    else:
        assert error in error_of({"sources": sources}), case


# config_test.go (first, map-shaped version, commit 36a1969) TestValidate
VALIDATE_MAP = [
    ("valid built-in sources", {"openinference": {"remove_originals": True}, "openllmetry": {}}, None),
    ("valid custom source", {"custom": {"custom_mappings": {"my_vendor.model": "gen_ai.request.model"}}}, None),
    ("valid mix of built-in and custom", {"openinference": {}, "custom": {"custom_mappings": {"my_vendor.model": "gen_ai.request.model"}}}, None),
    ("no sources", {}, "sources: at least one source must be specified"),
    ("unknown source", {"bogus": {}}, f'sources.bogus: unknown source "bogus" (sources: {BUILTIN}, custom)'),
    ("custom source without mappings", {"custom": {}}, "sources.custom.custom_mappings: custom_mappings must be non-empty for the custom source"),
    ("custom_mappings empty source attr", {"openinference": {"custom_mappings": {"": "gen_ai.request.model"}}}, "source attribute name must be non-empty"),
    ("custom_mappings empty target", {"openinference": {"custom_mappings": {"my_vendor.model": ""}}}, 'target for "my_vendor.model" must be non-empty'),
    ("custom_mappings identity", {"openinference": {"custom_mappings": {"gen_ai.request.model": "gen_ai.request.model"}}}, "source and target are identical"),
    ("valid custom_mappings on built-in source", {"openinference": {"custom_mappings": {"my_vendor.model": "gen_ai.request.model"}}}, None),
]


@pytest.mark.parametrize(("case", "sources", "error"), VALIDATE_MAP, ids=[c[0] for c in VALIDATE_MAP])
def test_validate_map_shape(case: str, sources: dict[str, Any], error: str | None) -> None:
    if error is None:
        assert [s.name for s in sources_of({"sources": sources})] == sorted(sources)
    else:
        assert error in error_of({"sources": sources}), case


def test_default_config_is_invalid() -> None:
    # config_test.go TestDefaultConfigIsInvalid
    assert "at least one source must be specified" in error_of(None)


def test_sources_must_be_a_list_or_a_map() -> None:
    assert "expected a list of sources ({name, ...}) or a mapping of source name to settings" in error_of({"sources": "openllmetry"})


# config_test.go (map shape) TestLoadConfig over testdata/config.yaml (commit 36a1969), copied as it is.
MAP_SHAPE_TESTDATA = """\
# Full config exercising all three source types and all per-source fields.
genainormalizer:
  sources:
    openinference:
      remove_originals: true
      overwrite: false
      custom_mappings:
        my_vendor.model: gen_ai.request.model
    openllmetry:
      remove_originals: true
    custom:
      custom_mappings:
        other_vendor.tokens: gen_ai.usage.input_tokens

# Sources omitted entirely: validation error (at least one source required).
genainormalizer/empty:

# Sources explicitly provided with only openinference: defaults are replaced.
genainormalizer/openinference_only:
  sources:
    openinference: {}

# Sources explicitly provided with only openllmetry: defaults are replaced.
genainormalizer/openllmetry_only:
  sources:
    openllmetry:
      remove_originals: true

# Sources explicitly provided with only a custom source: defaults are replaced.
genainormalizer/custom_only:
  sources:
    custom:
      custom_mappings:
        my_vendor.model: gen_ai.request.model

# Explicit empty sources map: validation error.
genainormalizer/empty_sources:
  sources: {}

# Custom source without custom_mappings: validation error.
genainormalizer/custom_missing_mappings:
  sources:
    custom: {}

# Unknown source name: validation error.
genainormalizer/unknown_source:
  sources:
    foobar: {}
"""

MAP_SHAPE_LOAD = [
    ("genainormalizer", [Source("custom", mappings={"other_vendor.tokens": "gen_ai.usage.input_tokens"}, builtin=False),
                         Source("openinference", remove_originals=True, mappings={"my_vendor.model": "gen_ai.request.model"}),
                         Source("openllmetry", remove_originals=True)], None),
    ("genainormalizer/empty", None, "at least one source must be specified"),
    ("genainormalizer/openinference_only", [Source("openinference")], None),
    ("genainormalizer/openllmetry_only", [Source("openllmetry", remove_originals=True)], None),
    ("genainormalizer/custom_only", [Source("custom", mappings={"my_vendor.model": "gen_ai.request.model"}, builtin=False)], None),
    ("genainormalizer/empty_sources", None, "at least one source must be specified"),
    ("genainormalizer/custom_missing_mappings", None, "custom_mappings must be non-empty for the custom source"),
    ("genainormalizer/unknown_source", None, 'unknown source "foobar"'),
]


@pytest.mark.parametrize(("component", "expected", "error"), MAP_SHAPE_LOAD, ids=[c[0] for c in MAP_SHAPE_LOAD])
def test_load_config_map_shape(component: str, expected: list[Source] | None, error: str | None) -> None:
    block = yaml.safe_load(MAP_SHAPE_TESTDATA)[component]
    if error is None:
        assert sources_of(block) == expected
    else:
        assert error in error_of(block)


# config_test.go (current) TestLoadConfig. The stored testdata/config.yaml of this version could not be read;
# this is the document its expectations describe, one block per TestLoadConfig case, in its order.
LIST_SHAPE_TESTDATA = """\
gen_ai_normalizer:
  sources:
    - name: openinference
      remove_originals: true
      overwrite: false
gen_ai_normalizer/empty:
gen_ai_normalizer/openinference_only:
  sources:
    - name: openinference
gen_ai_normalizer/openllmetry_only:
  sources:
    - name: openllmetry
gen_ai_normalizer/openinference_and_openllmetry:
  sources:
    - name: openinference
      remove_originals: true
    - name: openllmetry
      remove_originals: true
gen_ai_normalizer/empty_sources:
  sources: []
gen_ai_normalizer/duplicate_source:
  sources:
    - name: openinference
    - name: openinference
gen_ai_normalizer/user_defined_only:
  sources:
    - name: my_vendor
      remove_originals: true
      mappings:
        my_vendor.model: gen_ai.request.model
        my_vendor.tokens.in: gen_ai.usage.input_tokens
gen_ai_normalizer/user_defined_with_builtin:
  sources:
    - name: openinference
      remove_originals: true
    - name: my_vendor
      remove_originals: true
      mappings:
        my_vendor.model: gen_ai.request.model
gen_ai_normalizer/multiple_user_defined:
  sources:
    - name: vendor_a
      remove_originals: true
      mappings: {vendor_a.model: gen_ai.request.model}
    - name: vendor_b
      remove_originals: true
      overwrite: true
      mappings: {vendor_b.model: gen_ai.request.model}
gen_ai_normalizer/user_defined_empty_mappings:
  sources:
    - name: my_vendor
gen_ai_normalizer/openinference_with_mappings:
  sources:
    - name: openinference
      mappings: {foo: gen_ai.request.model}
gen_ai_normalizer/new_builtin_sources:
  sources:
    - name: langchain
      remove_originals: true
    - name: crewai
    - name: pydanticai
gen_ai_normalizer/user_defined_unreachable_value_mapping:
  sources:
    - name: my_vendor
      mappings: {my_vendor.model: gen_ai.request.model}
      value_mappings:
        gen_ai.operation.name: {chat_completion: chat}
gen_ai_normalizer/user_defined_with_value_mappings:
  sources:
    - name: my_vendor
      remove_originals: true
      mappings: {my_vendor.op: gen_ai.operation.name}
      value_mappings:
        gen_ai.operation.name:
          chat_completion: chat
          tool_invoke: execute_tool
"""


def user(name: str, mappings: dict[str, str], **kw: Any) -> Source:
    return Source(name, mappings=mappings, builtin=False, **kw)


LIST_SHAPE_LOAD = [
    ("gen_ai_normalizer", [Source("openinference", remove_originals=True)], None),
    ("gen_ai_normalizer/empty", None, "at least one source must be specified"),
    ("gen_ai_normalizer/openinference_only", [Source("openinference")], None),
    ("gen_ai_normalizer/openllmetry_only", [Source("openllmetry")], None),
    ("gen_ai_normalizer/openinference_and_openllmetry", [Source("openinference", remove_originals=True), Source("openllmetry", remove_originals=True)], None),
    ("gen_ai_normalizer/empty_sources", None, "at least one source must be specified"),
    ("gen_ai_normalizer/duplicate_source", None, 'duplicate source "openinference"'),
    ("gen_ai_normalizer/user_defined_only", [user("my_vendor", {"my_vendor.model": "gen_ai.request.model", "my_vendor.tokens.in": "gen_ai.usage.input_tokens"}, remove_originals=True)], None),
    ("gen_ai_normalizer/user_defined_with_builtin", [Source("openinference", remove_originals=True), user("my_vendor", {"my_vendor.model": "gen_ai.request.model"}, remove_originals=True)], None),
    ("gen_ai_normalizer/multiple_user_defined", [user("vendor_a", {"vendor_a.model": "gen_ai.request.model"}, remove_originals=True),
                                                 user("vendor_b", {"vendor_b.model": "gen_ai.request.model"}, remove_originals=True, overwrite=True)], None),
    ("gen_ai_normalizer/user_defined_empty_mappings", None, f'user-defined source "my_vendor" requires non-empty "mappings" (built-in sources, which do not require mappings: {BUILTIN})'),
    ("gen_ai_normalizer/openinference_with_mappings", None, '"mappings" is not valid on built-in source "openinference"'),
    ("gen_ai_normalizer/new_builtin_sources", [Source("langchain", remove_originals=True), Source("crewai"), Source("pydanticai")], None),
    ("gen_ai_normalizer/user_defined_unreachable_value_mapping", None, '"value_mappings" key "gen_ai.operation.name" is not a target in "mappings"'),
    ("gen_ai_normalizer/user_defined_with_value_mappings", [user("my_vendor", {"my_vendor.op": "gen_ai.operation.name"}, remove_originals=True,
                                                                 value_mappings={"gen_ai.operation.name": {"chat_completion": "chat", "tool_invoke": "execute_tool"}})], None),
]


@pytest.mark.parametrize(("component", "expected", "error"), LIST_SHAPE_LOAD, ids=[c[0] for c in LIST_SHAPE_LOAD])
def test_load_config_list_shape(component: str, expected: list[Source] | None, error: str | None) -> None:
    block = yaml.safe_load(LIST_SHAPE_TESTDATA)[component]
    if error is None:
        assert sources_of(block) == expected
    else:
        assert error in error_of(block)


def test_errors_name_the_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent("""\
        receivers: {otlp: {}}
        processors:
          gen_ai_normalizer:
            sources:
              - name: openllmetry
              - name: openllmetry
              - name: my_vendor
                mappings:
                  my.model: ""
          gen_ai_normalizer/map:
            sources:
              openllmetry: {remove_originals: maybe}
        exporters: {debug: {}}
        service: {pipelines: {traces: {receivers: [otlp], processors: [gen_ai_normalizer, gen_ai_normalizer/map], exporters: [debug]}}}
        """))
    with pytest.raises(ConfigErrors) as info:
        load_config([str(path)])
    assert [str(e) for e in info.value.errors] == [
        f'{path}:6: processors.gen_ai_normalizer.sources[1]: duplicate source "openllmetry"',
        f'{path}:9: processors.gen_ai_normalizer.sources[2].mappings.my.model: target for "my.model" must be non-empty',
        f"{path}:12: processors.gen_ai_normalizer/map.sources.openllmetry.remove_originals: expected true or false, got \"maybe\"",
    ]


def test_the_otel_demo_s_config_loads(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent("""\
        receivers: {otlp: {}}
        processors:
          gen_ai_normalizer:
            sources:
              - name: openllmetry
        exporters: {debug: {}}
        service: {pipelines: {traces: {receivers: [otlp], processors: [gen_ai_normalizer], exporters: [debug]}}}
        """))
    config = load_config([str(path)])
    assert [c.config.sources for c in config.components[Kind.PROCESSOR].values()] == [[Source("openllmetry")]]


def test_the_example_in_the_docs_decodes() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "llm-usage-and-cost.md").read_text()
    section = text.split("## `gen_ai_normalizer`", 1)[1]
    example = yaml.safe_load(section.split("```yaml", 1)[1].split("```", 1)[0])
    sources = sources_of(example["processors"]["gen_ai_normalizer"])
    assert [s.name for s in sources] == ["openllmetry", "openinference", "my_vendor"]


def test_an_entry_that_is_no_mapping_is_one_error() -> None:
    decoder = Decoder(Document({}, {}))
    decoder.decode(GenAINormalizerConfig, {"sources": ["openllmetry"]}, ("processors", "gen_ai_normalizer"))
    assert [str(e) for e in decoder.errors] == ['processors.gen_ai_normalizer.sources[0]: expected a mapping, got "openllmetry"']
