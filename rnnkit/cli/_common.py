"""Shared CLI helpers: the one-line user error, atomic text writes, output."""

from __future__ import annotations

import sys
from pathlib import Path

from rnnkit.utils.files import atomic_write_bytes


EXIT_OK, EXIT_DIVERGED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class CLIError(Exception):
    """Bad command-line input: printed as ONE line on stderr, exit code 2 (or the
    subclass's `exit_code`)."""

    exit_code = EXIT_USAGE


def one_line(text) -> str:
    return " ".join(str(text).split())


def atomic_write_text(path, text: str) -> Path:
    """Writes `text` to `path` atomically: a temporary file in the same directory, flushed
    and fsynced, then renamed over `path` (readers see the old or the new file, never a
    partial one). Same mechanism as model saving."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(str(path), text.encode("utf-8"))
    return path


def say(*parts, file=None):
    print(*parts, file=file or sys.stdout, flush=True)


def warn(text):
    print(f"rnnkit: note: {one_line(text)}", file=sys.stderr, flush=True)


def is_tty(stream=None) -> bool:
    stream = stream or sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
