"""Shared CLI helpers: the one-line user error and output."""

from __future__ import annotations

import sys

from rnnkit.utils.text import one_line

EXIT_OK, EXIT_DIVERGED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class CLIError(Exception):
    """Bad command-line input: printed as ONE line on stderr, exit code 2 (or the
    subclass's `exit_code`)."""

    exit_code = EXIT_USAGE


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
