"""Character-level text: vocabulary, corpora, windows, and the unigram baseline.

The default corpus is real text that is on every machine with Python: the source files of
the standard library (found with `sysconfig.get_paths()["stdlib"]`). A deterministic subset
is taken: the public top-level modules in sorted file-name order, skipping very large
files, until
about `max_bytes` are collected. If the sources are missing (some minimal installs ship
only bytecode), rnnkit's own source files are used instead, and the corpus says so.
"""

from __future__ import annotations

import math
import os
import sysconfig
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnkit.data.errors import DataError

UNKNOWN = "\ufffd"  # id 0: characters outside the vocabulary
DEFAULT_CORPUS_BYTES = 1_500_000
_MAX_FILE_BYTES = 120_000


@dataclass
class Corpus:
    """Text plus where it came from (`description`, `files`)."""

    text: str
    description: str
    files: list = field(default_factory=list)
    note: str | None = None  # e.g. why a fallback was used


class CharVocab:
    """Maps characters to ids. Id 0 is reserved for characters not in the vocabulary."""

    def __init__(self, chars):
        chars = [c for c in chars if c != UNKNOWN]
        if len(set(chars)) != len(chars):
            raise ValueError("CharVocab: characters must be unique.")
        self.chars = [UNKNOWN] + list(chars)
        self.index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def build(cls, text: str, max_size: int = 256) -> "CharVocab":
        """The `max_size - 1` most frequent characters of `text` (sorted by code point)."""
        counts = Counter(text)
        counts.pop(UNKNOWN, None)
        keep = [c for c, _ in counts.most_common(max_size - 1)]
        return cls(sorted(keep))

    def __len__(self):
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        get = self.index.get
        return np.fromiter((get(c, 0) for c in text), dtype=np.int32, count=len(text))

    def decode(self, ids) -> str:
        chars = self.chars
        return "".join(chars[int(i)] if 0 <= int(i) < len(chars) else UNKNOWN for i in ids)

    def unknown(self, text: str) -> list:
        """The distinct characters of `text` that are not in the vocabulary."""
        return sorted({c for c in text if c not in self.index})

    def to_json(self) -> list:
        return self.chars[1:]

    @classmethod
    def from_json(cls, chars) -> "CharVocab":
        return cls(list(chars))


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        raise DataError(f"file not found: {path}") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a directory; pass text files") from None
    except OSError as err:
        raise DataError(f"cannot read {path}: {err.strerror or err}") from None


def plural(n: int, word: str) -> str:
    """`1 character`, `2,000 characters`."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _binary_reason(text: str):
    """Why decoded file contents do not look like text (None if they do): NUL characters,
    or more than 10% undecodable bytes (U+FFFD) or control characters."""
    if not text:
        return None
    if "\x00" in text:
        return "it contains NUL bytes"
    odd = text.count(UNKNOWN) + sum(text.count(c) for c in _CONTROL)
    if odd > 0.1 * len(text):
        return f"{100 * odd / len(text):.0f}% of its characters are undecodable or control bytes"
    return None


_CONTROL = [chr(i) for i in range(32) if chr(i) not in "\t\n\r\f\v"] + ["\x7f"]


def read_text_files(paths) -> Corpus:
    """Concatenates text files (UTF-8; undecodable bytes become U+FFFD), with a newline
    between two files when the first does not end with one. `note` warns about files that
    do not look like text."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise DataError("no text files given")
    for p in paths:
        if not p.exists():
            raise DataError(f"file not found: {p}")
    parts = [_read(p) for p in paths]
    text = "".join(t if t.endswith("\n") or i == len(parts) - 1 else t + "\n"
                   for i, t in enumerate(parts))
    if not text.strip():
        raise DataError(f"the text file(s) {', '.join(map(str, paths))} are empty")
    binary = [f"{p.name} ({reason})" for p, t in zip(paths, parts)
              if (reason := _binary_reason(t)) is not None]
    note = (f"{'; '.join(binary)}: does not look like text (a binary file?); training on "
            "it anyway. Pass UTF-8 text files." if binary else None)
    names = ", ".join(p.name for p in paths[:3]) + (", ..." if len(paths) > 3 else "")
    return Corpus(text, f"{len(paths)} file(s) ({names}), {plural(len(text), 'character')}",
                  [str(p) for p in paths], note)


def _pick(files, max_bytes):
    chosen, total = [], 0
    for f in files:
        try:
            size = f.stat().st_size
        except OSError:
            continue
        if size == 0 or size > _MAX_FILE_BYTES or f.name.startswith("_"):
            continue
        chosen.append(f)
        total += size
        if total >= max_bytes:
            break
    return chosen


def stdlib_dir() -> Path | None:
    try:
        path = sysconfig.get_paths().get("stdlib")
    except Exception:  # pragma: no cover - broken sysconfig
        path = None
    return Path(path) if path else None


def default_corpus(max_bytes: int = DEFAULT_CORPUS_BYTES, stdlib: str | os.PathLike | None = None
                   ) -> Corpus:
    """About `max_bytes` of Python source: the standard library's top-level modules in
    sorted order (deterministic for a given Python version), else rnnkit's own sources."""
    root = Path(stdlib) if stdlib is not None else stdlib_dir()
    files = sorted(root.glob("*.py")) if root is not None and root.is_dir() else []
    chosen = _pick(files, max_bytes)
    note = None
    if chosen:
        where = f"Python standard library ({root})"
    else:
        pkg = Path(__file__).resolve().parent.parent
        chosen = _pick(sorted(pkg.rglob("*.py")), max_bytes)
        note = (f"Python's standard-library sources were not found at {root}; using rnnkit's "
                f"own source files instead (pass --text FILE to train on your own text).")
        where = f"rnnkit's own sources ({pkg})"
        if not chosen:
            raise DataError("no default corpus found (neither the standard-library sources "
                            "nor rnnkit's sources); pass --text FILE")
    text = "".join(_read(f) for f in chosen)
    desc = (f"{where}: {len(chosen)} files ({chosen[0].name} ... {chosen[-1].name}), "
            f"{len(text):,} characters")
    return Corpus(text, desc, [str(f) for f in chosen], note)


def next_char_windows(ids: np.ndarray, seq_len: int):
    """Non-overlapping windows: x[i] = ids[k:k+T], y[i] = ids[k+1:k+T+1] (next characters)."""
    ids = np.asarray(ids, np.int32)
    n = (len(ids) - 1) // seq_len
    if n <= 0:
        raise DataError(f"the text has {len(ids)} characters, fewer than one window of "
                        f"--seq-len {seq_len} + 1; use more text or a smaller --seq-len")
    x = ids[: n * seq_len].reshape(n, seq_len)
    y = ids[1: n * seq_len + 1].reshape(n, seq_len)
    return x, y


def unigram_entropy(ids, vocab_size: int | None = None) -> float:
    """Entropy (nats per character) of the characters' own frequencies in `ids`.

    The loss of the best model that ignores context, even one told these frequencies: a
    language model has learned something once its loss is below this."""
    ids = np.asarray(ids).ravel()
    if ids.size == 0:
        return float("nan")
    counts = np.bincount(ids, minlength=vocab_size or 0).astype(np.float64)
    p = counts[counts > 0] / ids.size
    return float(-(p * np.log(p)).sum())


def nats_to_bits(x: float) -> float:
    return x / math.log(2)
