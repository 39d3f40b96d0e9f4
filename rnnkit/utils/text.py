"""Small text helpers for user-facing messages."""

from __future__ import annotations


def one_line(text) -> str:
    """`str(text)` with every run of whitespace (newlines included) as one space."""
    return " ".join(str(text).split())
