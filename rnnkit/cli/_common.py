"""Shared CLI helpers: the one-line user error, atomic text writes, output."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


class CLIError(Exception):
    """Bad command-line input: printed as ONE line on stderr, exit code 2."""


def one_line(text) -> str:
    return " ".join(str(text).split())


def _umask() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def atomic_write_text(path, text: str) -> Path:
    """Writes `text` to `path` atomically: a temporary file in the same directory, flushed
    and fsynced, then renamed over `path` (readers see the old or the new file, never a
    partial one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
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
