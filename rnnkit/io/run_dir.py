"""Training-run directories on disk, as `rnnkit train` writes them and `rnnkit generate`,
`--resume` and `explain` read them.

A run directory holds `model.rnnkit` (the model, via `model.save`, with the optimizer state)
and `meta.json` (what generating and resuming need: the kind of model, the vocabulary or the
series' normalization, the hyperparameters, the epochs done, the history). Both are written
atomically; the model first, then the sidecar. A directory that cannot be read raises
`RunDirError` (a ValueError) with a one-line message.
"""

from __future__ import annotations

import json
from pathlib import Path

from rnnkit.io.pipeline import load_model
from rnnkit.utils.files import atomic_write_text
from rnnkit.utils.text import one_line
from rnnkit.variables import check_finite_weights

__all__ = ["MODEL_FILE", "META_FILE", "META_FORMAT", "RunDirError", "run_paths", "save_run",
           "read_meta", "check_meta", "resolve_run_dir", "load_run", "is_run_model_file"]

MODEL_FILE = "model.rnnkit"
META_FILE = "meta.json"
META_FORMAT = "rnnkit.run"


class RunDirError(ValueError):
    """A run directory (or its model file or meta.json) that cannot be used; one line."""


def run_paths(run_dir):
    """(model file, meta.json) of a run directory."""
    run_dir = Path(run_dir)
    return run_dir / MODEL_FILE, run_dir / META_FILE


def is_run_model_file(path) -> bool:
    """Whether `path` is the model file of a run directory (a model* file next to a
    meta.json)."""
    p = Path(path)
    return p.name.startswith("model") and (p.parent / META_FILE).exists()


def save_run(model, run_dir, meta: dict) -> Path:
    """Saves the model and its sidecar; returns the model file's path. A model with NaN or
    inf weights raises NonFiniteWeightsError (a ValueError) and nothing is written."""
    model_path, meta_path = run_paths(run_dir)
    # never replace a good checkpoint with a diverged model
    check_finite_weights(model, f"not saving {model_path}")
    model_path.parent.mkdir(parents=True, exist_ok=True)
    model.save(str(model_path))
    meta = dict(meta, format=META_FORMAT, model_file=MODEL_FILE)
    atomic_write_text(meta_path, json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    return model_path


def read_meta(run_dir) -> dict:
    """The checked contents of a run directory's meta.json."""
    _, meta_path = run_paths(run_dir)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunDirError(f"no {META_FILE} in {run_dir}: not an `rnnkit train` run "
                          "directory") from None
    except (OSError, ValueError) as err:
        raise RunDirError(f"cannot read {meta_path}: {one_line(err)}") from None
    if not isinstance(meta, dict):
        raise RunDirError(f"{meta_path} is not an rnnkit run file: it holds a JSON "
                          f"{type(meta).__name__}, not an object")
    if meta.get("format") != META_FORMAT:
        raise RunDirError(f"{meta_path} is not an rnnkit run file (format "
                          f"{meta.get('format')!r})")
    check_meta(meta, meta_path)
    return meta


def _bad(meta_path, key, expected, value):
    return RunDirError(f"{meta_path} is damaged (edited by hand?): {key} must be {expected}, "
                       f"found {one_line(repr(value))[:60]}. Restore it or train again")


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_meta(meta: dict, meta_path) -> None:
    """Checks the fields `generate` and `--resume` read, so that a hand-edited meta.json
    gives one clear error instead of a traceback."""
    kind = meta.get("kind")
    if kind == "charlm":
        vocab = meta.get("vocab")
        if not (isinstance(vocab, list) and vocab
                and all(isinstance(c, str) and len(c) == 1 for c in vocab)):
            raise _bad(meta_path, "'vocab'", "a non-empty list of single characters", vocab)
        prompt = meta.get("default_prompt", "\n")
        if not isinstance(prompt, str):
            raise _bad(meta_path, "'default_prompt'", "a string", prompt)
    elif kind == "forecast":
        s = meta.get("series")
        if not isinstance(s, dict):
            raise _bad(meta_path, "'series'", "an object", s)
        window = s.get("last_window")
        if not (isinstance(window, list) and window and all(_is_number(v) for v in window)):
            raise _bad(meta_path, "'series.last_window'", "a non-empty list of numbers",
                       window)
        for key in ("mean", "std"):
            if not _is_number(s.get(key)):
                raise _bad(meta_path, f"'series.{key}'", "a number", s.get(key))
    else:
        raise RunDirError(f"{meta_path}: unknown run kind {kind!r} (expected 'charlm' or "
                          "'forecast')")


def resolve_run_dir(path) -> Path:
    """A run directory from a directory or from the model file inside one."""
    p = Path(path)
    if not p.exists():
        raise RunDirError(f"checkpoint not found: {p}")
    if p.is_file():
        if not (p.parent / META_FILE).exists():
            raise RunDirError(f"{p} has no {META_FILE} next to it; pass the run directory "
                              "written by `rnnkit train` (e.g. runs/charlm)")
        return p.parent
    return p


def load_run(path, compile=True):
    """(model, meta) from a run directory (or its model file)."""
    run_dir = resolve_run_dir(path)
    meta = read_meta(run_dir)
    model_path, _ = run_paths(run_dir)
    if not model_path.exists():
        raise RunDirError(f"{run_dir} has {META_FILE} but no {MODEL_FILE}")
    try:
        model = load_model(str(model_path), compile=compile)
    except Exception as err:
        raise RunDirError(f"cannot load {model_path}: {one_line(err)}") from None
    return model, meta
