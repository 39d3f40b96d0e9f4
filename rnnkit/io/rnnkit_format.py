"""rnnkit's own files: writing them, and the reader that turns one into a `Loaded`.

Model files (`model.save(path)`, any file name; `.rnnkit` is the convention) are zip
archives holding:

* `config.json`: `{"format": "rnnkit.model", "format_version": 1, "rnnkit_version": ...,
  "model": {"class_name", "config"}, "compile": {...} | null, "weights": [manifest],
  "state_variables": [manifest], "optimizer_state": {...} | null}`. The manifest lists each
  array's index, path (`layer/variable`), owning model layer, shape and dtype.
* `weights.npz`: every array of `model.weights`, in that order, keyed
  `"{index:05d}/{path}"`; non-weight state (dropout seed state, stateful RNN states) is
  stored as `"state/{index:05d}/{path}"`.
* `optimizer.npz` (when the model is compiled and has trained): the leaves of the optax
  optimizer state pytree (`jax.tree_util` order), keyed `"{index:05d}"`. They are restored
  by building a fresh state with `optimizer.init(trainable values)` and filling its leaves,
  so training resumes exactly where it stopped.

Weights files (`model.save_weights(path)`) are zip archives with `metadata.json`
(`{"format": "rnnkit.weights", ...}`) and the same `weights.npz`; a path ending in `.npz`
gets a plain NumPy `.npz` instead. `load_weights` reads all three kinds of file.

Files are written with `rnnkit.utils.files.atomic_write` (a temporary file renamed over the
target): the target is either the old file or the complete new one, never a partial file.
"""

from __future__ import annotations

import io
import json
import os
import zipfile

import jax
import numpy as np

from rnnkit.distribution import processes
from rnnkit.io import archive, compile_state, weights
from rnnkit.io.jsonable import jsonable
from rnnkit.io.loaded import Loaded
from rnnkit.utils.files import atomic_write, check_target

# Test hook: called as `_entry_hook(entry_name)` after each archive entry is written and
# flushed (the kill-during-save test makes it sleep).
_entry_hook = None


def _write_zip(f, entries):
    """Writes `entries` [(name, bytes, compress)] as a zip archive to file object `f`."""
    with zipfile.ZipFile(f, "w") as zf:
        for name, data, compress in entries:
            zf.writestr(name, data,
                        compress_type=zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED)
            f.flush()
            if _entry_hook is not None:
                _entry_hook(name)


def _write_file(filepath, write, overwrite):
    """`atomic_write`; in a multi-process run (rnnkit.distribution.initialize) every
    process calls this and only process 0 writes; all return once the file is in place
    (or process 0 failed)."""
    if jax.process_count() == 1:
        return atomic_write(filepath, write, overwrite)
    try:
        if jax.process_index() == 0:
            atomic_write(filepath, write, overwrite)
    finally:  # the others wait for process 0, also when it failed (it raises, not hangs)
        processes.sync(f"rnnkit save {os.path.basename(str(filepath))}")


def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def save_model(model, filepath, overwrite=True):
    """Writes architecture, weights and (if compiled and trained) the optimizer state and
    compile arguments of `model` to one file, atomically. Any file name works."""
    from rnnkit.layers.serialization import serialize

    check_target(filepath, overwrite)
    spec = jsonable(serialize(model), f"model '{model.name}'")
    compile_spec = compile_state.compile_config(model)
    arrays, w_manifest, s_manifest = weights.weight_arrays(model, with_state=True)
    opt_leaves = compile_state.optimizer_leaves(model) if compile_spec is not None else None
    config = {
        "format": archive.MODEL_FORMAT,
        "format_version": archive.FORMAT_VERSION,
        "rnnkit_version": archive.version(),
        "model": spec,
        "compile": compile_spec,
        "weights": w_manifest,
        "state_variables": s_manifest,
        "optimizer_state": None if opt_leaves is None else {
            "num_leaves": len(opt_leaves),
            "shapes": [list(a.shape) for a in opt_leaves],
            "dtypes": [a.dtype.name for a in opt_leaves],
            "treedef": str(jax.tree_util.tree_structure(model._opt_state)),
        },
    }
    entries = [(archive.CONFIG, json.dumps(config, indent=1).encode("utf-8"), True),
               (archive.WEIGHTS, _npz_bytes(arrays), False)]
    if opt_leaves is not None:
        entries.append((archive.OPTIMIZER, _npz_bytes(
            {f"{i:05d}": a for i, a in enumerate(opt_leaves)}), False))
    _write_file(filepath, lambda f: _write_zip(f, entries), overwrite)


def save_weights(model, filepath, overwrite=True):
    """Writes `model.weights` (in order) to one file, atomically: a zip archive with
    `metadata.json` + `weights.npz`, or a plain `.npz` when the path ends in `.npz`."""
    arrays, manifest, _ = weights.weight_arrays(model, with_state=False)
    if os.fspath(filepath).endswith(".npz"):
        _write_file(filepath, lambda f: np.savez(f, **arrays), overwrite)
        return
    meta = {"format": archive.WEIGHTS_FORMAT, "format_version": archive.FORMAT_VERSION,
            "rnnkit_version": archive.version(), "model_name": model.name,
            "weights": manifest}
    entries = [(archive.METADATA, json.dumps(meta, indent=1).encode("utf-8"), True),
               (archive.WEIGHTS, _npz_bytes(arrays), False)]
    _write_file(filepath, lambda f: _write_zip(f, entries), overwrite)


def load_arrays(arch):
    """(weights [(key, array)], state [(key, array)]) from an rnnkit archive or .npz."""
    arrays, files = arch.npz_whole() if arch.kind == "npz" else arch.npz(archive.WEIGHTS)
    return weights.split_npz(archive.Npz(arrays, files), f"'{arch.path}'")


def _malformed(path, what):
    return ValueError(
        f"'{path}' has a malformed config.json: {what}. It was edited by hand or written by "
        "another program; re-save the model with model.save(path), or restore the file.")


def read_model(arch) -> Loaded:
    """The reader for rnnkit model files."""
    meta = arch.meta
    if "model" not in meta:
        raise _malformed(arch.path, "it has no 'model' key (the architecture)")
    spec = meta["model"]
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str) or \
            not isinstance(spec.get("config"), dict):
        raise _malformed(arch.path, "its 'model' must be {'class_name': str, 'config': dict}"
                         f", found {type(spec).__name__} {str(spec)[:60]!r}")
    compile_spec = meta.get("compile")
    if compile_spec is not None and not (isinstance(compile_spec, dict)
                                         and isinstance(compile_spec.get("optimizer"), dict)):
        raise _malformed(arch.path, "its 'compile' must be null or a dict with an "
                         "'optimizer' dict")
    w, state = load_arrays(arch)
    leaves = None
    if compile_spec and meta.get("optimizer_state") and archive.OPTIMIZER in arch.zf.namelist():
        arrays, files = arch.npz(archive.OPTIMIZER)
        leaves = [arrays[k] for k in sorted(files)]
    return Loaded(source=f"'{arch.path}'", config=spec, weights=w, state=state,
                  compile=compile_spec, optimizer_leaves=leaves, origin="rnnkit")
