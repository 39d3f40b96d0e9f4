"""What a string given to `explain` names: a saved model / run directory, or a layer spec.

The decision never raises: a string the operating system refuses as a path (too long, a NUL
byte, ...) is not an existing file, so it is parsed as a spec.
"""

from __future__ import annotations

import os
from pathlib import Path

from rnnkit.explain.spec import SpecError, one_line, parse_spec, shorten
from rnnkit.io.pipeline import load_model
from rnnkit.io.run_dir import is_run_model_file, load_run

__all__ = ["load_source", "load_for_explain", "looks_like_path", "path_exists"]


def path_exists(text: str) -> bool:
    """`os.path.exists` that answers False, never raises, for strings that cannot be paths."""
    if not text.strip():
        return False  # "" would be the current directory
    try:
        return os.path.exists(text)
    except (OSError, ValueError):  # ENAMETOOLONG, embedded NUL, ...
        return False


def looks_like_path(text: str) -> bool:
    t = text.strip()
    return ("(" not in t) and ("/" in t or "\\" in t or t.endswith((".rnnkit", ".keras", ".h5",
                                                                    ".json", ".npz")))


def load_source(text: str):
    """(layer or model, source path or None) for a spec string or a file path."""
    if path_exists(text):
        return load_for_explain(text), text
    if looks_like_path(text):
        raise SpecError(f"file not found: {shorten(text)}")
    return parse_spec(text), None


def load_for_explain(path):
    """A model from a saved file (model.save) or an `rnnkit train` run directory."""
    p = Path(path)
    if p.is_dir() or is_run_model_file(p):
        return load_run(p)[0]
    try:
        return load_model(str(p), compile=False)
    except ImportError as err:
        raise SpecError(f"cannot load {p}: model saving is not available in this rnnkit "
                        f"version ({one_line(err)})") from None
    except Exception as err:
        raise SpecError(f"cannot load {p} as an rnnkit model: {one_line(err)}") from None
