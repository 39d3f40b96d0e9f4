"""Saving and loading models and weights, each as ONE file, written atomically.

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

Writes go to a hidden temporary file in the target directory (`.<name>.<random>.tmp`),
which is flushed and fsynced, then renamed over the target with `os.replace`: the target is
either the old file or the complete new one, never a partial file.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
import zlib

import jax
import jax.numpy as jnp
import numpy as np

from rnnkit.distribution import processes

MODEL_FORMAT = "rnnkit.model"
WEIGHTS_FORMAT = "rnnkit.weights"
FORMAT_VERSION = 1

_CONFIG = "config.json"
_METADATA = "metadata.json"
_WEIGHTS = "weights.npz"
_OPTIMIZER = "optimizer.npz"
_TMP_SUFFIX = ".tmp"

_KERAS_HINT = ("Files written by model.save() can be loaded (and, by load_weights, files "
               "written by model.save_weights()); for Keras .keras/.h5 files see rnnkit.io "
               "(not supported yet).")

# Test hook: called as `_entry_hook(entry_name)` after each archive entry is written and
# flushed (the kill-during-save test makes it sleep).
_entry_hook = None


def _version():
    import rnnkit

    return getattr(rnnkit, "__version__", "unknown")


# --------------------------------------------------------------------------------------
# Atomic writing
# --------------------------------------------------------------------------------------


def _umask():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def _check_target(filepath, overwrite):
    filepath = os.fspath(filepath)
    if os.path.isdir(filepath):
        raise IsADirectoryError(
            f"Cannot save to '{filepath}': it is a directory. Give a file name, e.g. "
            f"'{os.path.join(filepath, 'model.rnnkit')}'.")
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(
            f"Cannot save to '{filepath}': the file already exists and overwrite=False. "
            "Pass overwrite=True to replace it, or choose another file name.")
    directory = os.path.dirname(os.path.abspath(filepath))
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"Cannot save to '{filepath}': the directory '{directory}' does not exist. "
            "Create it first (os.makedirs(directory, exist_ok=True)).")
    return filepath, directory


def _atomic_write(filepath, write, overwrite=True):
    """Calls `write(fileobj)` on a temporary file next to `filepath`, fsyncs it and
    renames it to `filepath`. On any error the temporary file is removed and the existing
    file (if any) is left untouched.

    In a multi-process run (rnnkit.distribution.initialize) every process calls this and
    only process 0 writes; all return once the file is in place (or process 0 failed)."""
    if jax.process_count() == 1:
        return _atomic_write_here(filepath, write, overwrite)
    try:
        if jax.process_index() == 0:
            _atomic_write_here(filepath, write, overwrite)
    finally:  # the others wait for process 0, also when it failed (it raises, not hangs)
        processes.sync(f"rnnkit save {os.path.basename(str(filepath))}")


def _atomic_write_here(filepath, write, overwrite):
    filepath, directory = _check_target(filepath, overwrite)
    base = os.path.basename(filepath)
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=_TMP_SUFFIX, dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.chmod(tmp, 0o666 & ~_umask())
        except OSError:
            pass
        if overwrite:
            os.replace(tmp, filepath)
        else:
            _publish_exclusive(tmp, filepath)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def _publish_exclusive(tmp, filepath):
    """Moves `tmp` to `filepath` only if nothing is there (atomically where hard links
    work), for overwrite=False."""
    try:
        os.link(tmp, filepath)
    except FileExistsError:
        raise FileExistsError(
            f"Cannot save to '{filepath}': the file appeared while saving and "
            "overwrite=False. Pass overwrite=True to replace it.") from None
    except OSError:  # no hard links on this file system
        if os.path.exists(filepath):
            raise FileExistsError(
                f"Cannot save to '{filepath}': the file appeared while saving and "
                "overwrite=False. Pass overwrite=True to replace it.") from None
        os.replace(tmp, filepath)
        return
    os.unlink(tmp)


def _write_zip(f, entries):
    """Writes `entries` [(name, bytes, compress)] as a zip archive to file object `f`."""
    with zipfile.ZipFile(f, "w") as zf:
        for name, data, compress in entries:
            zf.writestr(name, data,
                        compress_type=zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED)
            f.flush()
            if _entry_hook is not None:
                _entry_hook(name)


def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


# --------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------


def _jsonable(obj, where, path="config"):
    """`obj` with numpy scalars/arrays and tuples converted; raises a clear error naming
    the offending key for anything JSON cannot hold."""
    if obj is None or isinstance(obj, (bool, str, int, float)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, where, f"{path}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise ValueError(f"Cannot save {where}: {path} has a non-string key {k!r}.")
            out[k] = _jsonable(v, where, f"{path}[{k!r}]")
        return out
    if isinstance(obj, (np.ndarray, jax.Array)):
        return np.asarray(obj).tolist()
    raise ValueError(
        f"Cannot save {where}: {path} is a {type(obj).__name__} ({obj!r}), which cannot be "
        "written as JSON. get_config() must return only numbers, strings, booleans, None "
        "and lists/dicts of these (serialize objects, e.g. activations.serialize(fn)).")


# --------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------


def _owners(model):
    """id(variable) -> name of the model's top-level layer holding it."""
    out = {}
    layers = getattr(model, "layers", None) or []
    for layer in layers:
        for v in layer.variables:
            out.setdefault(id(v), layer.name)
    return out


def _manifest(variables, owners):
    return [{"index": i, "path": v.path, "layer": owners.get(id(v)),
             "shape": list(v.shape), "dtype": np.dtype(v.dtype).name}
            for i, v in enumerate(variables)]


def _weight_arrays(model, with_state):
    weights = list(model.weights)
    arrays = {f"{i:05d}/{v.path}": np.asarray(v.numpy()) for i, v in enumerate(weights)}
    state = []
    if with_state:
        ids = {id(v) for v in weights}
        state = [v for v in model.variables if id(v) not in ids]
        for i, v in enumerate(state):
            arrays[f"state/{i:05d}/{v.path}"] = np.asarray(v.numpy())
    owners = _owners(model)
    return arrays, _manifest(weights, owners), _manifest(state, owners)


def _split_npz(npz, source):
    """(weights in index order as [(key, array)], state arrays in index order)."""
    weights, state, other = [], [], []
    for key in npz.files:
        head = key.split("/", 1)[0]
        if key.startswith("state/"):
            state.append((int(key.split("/")[1]), key))
        elif head.isdigit():
            weights.append((int(head), key))
        elif key.startswith("arr_") and key[4:].isdigit():
            weights.append((int(key[4:]), key))
        else:
            other.append(key)
    if other and not weights:
        weights = [(i, k) for i, k in enumerate(other)]  # a foreign .npz: file order
    elif other:
        raise ValueError(
            f"{source} mixes indexed weight arrays with unexpected entries {other[:5]}; it "
            "was not written by rnnkit.")
    weights.sort()
    state.sort()
    return ([(k, npz[k]) for _, k in weights], [(k, npz[k]) for _, k in state])


def _short(items, limit=12):
    return items if len(items) <= limit else items[:limit] + [f"... ({len(items) - limit} more)"]


def _assign_weights(model, saved, source):
    """Checks count and shapes of `saved` [(key, array)] against `model.weights`, then
    assigns them all (nothing is assigned if any check fails)."""
    params = list(model.weights)
    owners = _owners(model)

    def describe(v):
        owner = owners.get(id(v))
        return f"'{v.path}'" + (f" (layer '{owner}')" if owner else "")

    if len(saved) != len(params):
        if not params and not model.built:
            raise ValueError(
                f"Cannot load weights from {source} into model '{model.name}': the model is "
                "not built yet, so it has no weights. Build it first (start it with "
                "rnnkit.Input(shape=...), or call it on a batch of data).")
        model_desc = _short([f"{v.path} {tuple(v.shape)}" for v in params])
        file_desc = _short([f"{k} {tuple(a.shape)}" for k, a in saved])
        raise ValueError(
            f"Cannot load weights from {source} into model '{model.name}': the file holds "
            f"{len(saved)} weight arrays but the model has {len(params)}.\n"
            f"  model weights: {model_desc}\n  file arrays:   {file_desc}\n"
            "The model must have the same architecture (layers, units, order) as the model "
            "that was saved.")
    for i, (v, (key, arr)) in enumerate(zip(params, saved)):
        if tuple(arr.shape) != tuple(v.shape):
            raise ValueError(
                f"Cannot load weights from {source} into model '{model.name}': weight #{i} "
                f"{describe(v)} has shape {tuple(v.shape)} in the model, but the file's array "
                f"#{i} ('{key}') has shape {tuple(arr.shape)}. The model must have the same "
                "architecture (layers, units, input sizes) as the model that was saved.")
    for v, (_, arr) in zip(params, saved):
        v.assign(np.asarray(arr, dtype=v.dtype))


def _assign_state(model, saved):
    """Restores non-weight state (dropout seed states, stateful RNN states). Arrays are
    matched by variable path (k-th occurrence to k-th occurrence) and shape; state the new
    model does not have yet (e.g. stateful RNN states, created on the first call) is
    skipped."""
    ids = {id(v) for v in model.weights}
    by_path: dict[str, list] = {}
    for v in model.variables:
        if id(v) not in ids:
            by_path.setdefault(v.path, []).append(v)
    seen: dict[str, int] = {}
    for key, arr in saved:
        path = key.split("/", 2)[2]
        k = seen.get(path, 0)
        seen[path] = k + 1
        candidates = by_path.get(path, [])
        if k < len(candidates) and tuple(candidates[k].shape) == tuple(arr.shape):
            candidates[k].assign(np.asarray(arr, dtype=candidates[k].dtype))


# --------------------------------------------------------------------------------------
# Compile information
# --------------------------------------------------------------------------------------


def _encode_callable(obj, module, what):
    """A JSON description of a loss/metric identifier as given to compile()."""
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, (list, tuple)):
        return [_encode_callable(v, module, what) for v in obj]
    if isinstance(obj, dict):
        return {"__dict__": {k: _encode_callable(v, module, what) for k, v in obj.items()}}
    if isinstance(obj, type):
        return {"class": obj.__name__}
    wrapper = getattr(module, "MeanMetricWrapper", None)
    if wrapper is not None and type(obj) is wrapper:
        return {"function": getattr(obj.metric_fn, "__name__", None), "name": obj.name}
    if hasattr(obj, "get_config") and not _is_function(obj):
        return {"class_name": type(obj).__name__,
                "config": _jsonable(obj.get_config(), f"the compiled {what}")}
    if callable(obj):
        return {"function": getattr(obj, "__name__", None)}
    raise ValueError(f"Cannot save the compiled {what} {obj!r}: it is not a name, a "
                     f"{what} object or a function.")


def _is_function(obj):
    import types

    return isinstance(obj, (types.FunctionType, types.BuiltinFunctionType))


def _missing_custom(kind, name):
    return ValueError(
        f"The model was compiled with a custom {kind} '{name}', which rnnkit does not know. "
        f"Pass custom_objects={{'{name}': {name}}} to load_model(), or load it with "
        "compile=False and call model.compile(...) yourself.")


def _decode_callable(spec, module, kind, custom_objects):
    custom = custom_objects or {}
    if spec is None or isinstance(spec, str):
        return spec
    if isinstance(spec, list):
        return [_decode_callable(v, module, kind, custom_objects) for v in spec]
    if "__dict__" in spec:
        return {k: _decode_callable(v, module, kind, custom_objects)
                for k, v in spec["__dict__"].items()}
    if "class" in spec:
        cls = custom.get(spec["class"]) or getattr(module, spec["class"], None)
        if not isinstance(cls, type):
            raise _missing_custom(kind, spec["class"])
        return cls
    if "class_name" in spec:
        name = spec["class_name"]
        cls = custom.get(name) or getattr(module, "_CLASSES", {}).get(name) or getattr(
            module, name, None)
        if not isinstance(cls, type):
            raise _missing_custom(kind, name)
        return cls.from_config(dict(spec.get("config") or {}))
    if "function" in spec:
        name = spec["function"]
        fn = custom.get(name) or getattr(module, name, None)
        if fn is None or not callable(fn):
            raise _missing_custom(kind, name)
        if "name" in spec and hasattr(module, "MeanMetricWrapper"):
            return module.MeanMetricWrapper(fn, name=spec["name"])
        return fn
    raise ValueError(f"Malformed compiled {kind} in the saved model: {spec!r}.")


def _compile_config(model):
    from rnnkit import losses, metrics, optimizers

    if not getattr(model, "compiled", False) or model.optimizer is None:
        return None
    opt = model.optimizer
    opt_spec = optimizers.serialize(opt)
    lr = opt_spec["config"].get("learning_rate")
    if callable(lr):
        raise ValueError(
            f"Cannot save the optimizer of model '{model.name}': its learning_rate is the "
            f"callable {lr!r}, which cannot be written to a file. Use a schedule from "
            "rnnkit.optimizers.schedules (ExponentialDecay, CosineDecay, ...) or a float; or "
            "save only the weights with model.save_weights(path).")
    return {
        "optimizer": _jsonable(opt_spec, "the optimizer config"),
        "loss": _encode_callable(model.loss, losses, "loss"),
        "metrics": _encode_callable(list(getattr(model, "_metric_ids", []) or []), metrics,
                                    "metric"),
        "loss_weights": _jsonable(getattr(model, "_loss_weights", None), "loss_weights"),
    }


def _restore_compile(model, spec, custom_objects):
    from rnnkit import losses, metrics, optimizers

    opt_spec = spec["optimizer"]
    cls = (custom_objects or {}).get(opt_spec.get("class_name"))
    if cls is not None:
        optimizer = cls.from_config(dict(opt_spec.get("config") or {}))
    else:
        try:
            optimizer = optimizers.deserialize(opt_spec)
        except ValueError:
            raise _missing_custom("optimizer", opt_spec.get("class_name")) from None
    loss = _decode_callable(spec.get("loss"), losses, "loss", custom_objects)
    mets = _decode_callable(spec.get("metrics") or [], metrics, "metric", custom_objects)
    model.compile(optimizer=optimizer, loss=loss, metrics=mets or None,
                  loss_weights=spec.get("loss_weights"))


def _optimizer_leaves(model):
    if not getattr(model, "compiled", False) or getattr(model, "_opt_state", None) is None:
        return None
    return [processes.to_numpy(x) for x in jax.tree_util.tree_leaves(model._opt_state)]


def _restore_optimizer_state(model, arrays, source):
    _, t_idx, _ = model._split_values()
    variables = model.variables
    fresh = model.optimizer.init([variables[i]._value for i in t_idx])
    leaves, treedef = jax.tree_util.tree_flatten(fresh)
    if len(arrays) != len(leaves):
        raise ValueError(
            f"Cannot restore the optimizer state from {source}: the file holds "
            f"{len(arrays)} state arrays, but a fresh {type(model.optimizer).__name__} state "
            f"for this model has {len(leaves)}. The file is inconsistent; load it with "
            "compile=False and compile the model again (the optimizer restarts from zero).")
    new = []
    for i, (leaf, arr) in enumerate(zip(leaves, arrays)):
        if tuple(np.shape(leaf)) != tuple(arr.shape):
            raise ValueError(
                f"Cannot restore the optimizer state from {source}: state array #{i} has "
                f"shape {tuple(arr.shape)} in the file but {tuple(np.shape(leaf))} in a fresh "
                "state for this model. Load with compile=False to skip the optimizer state.")
        new.append(jnp.asarray(arr, dtype=jnp.asarray(leaf).dtype))
    model._opt_state = jax.tree_util.tree_unflatten(treedef, new)


# --------------------------------------------------------------------------------------
# Reading files, with clear errors
# --------------------------------------------------------------------------------------


class _Archive:
    """An opened rnnkit file: `kind` is "model", "weights" or "npz"."""

    def __init__(self, path, kind, zf=None, meta=None):
        self.path, self.kind, self.zf, self.meta = path, kind, zf, meta

    def read(self, name):
        try:
            return self.zf.read(name)
        except KeyError:
            raise ValueError(
                f"'{self.path}' is an incomplete rnnkit file: it has no '{name}' entry. "
                "It was not fully written by rnnkit; re-save the model.") from None
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
            raise ValueError(
                f"'{self.path}' is corrupted: its entry '{name}' cannot be read ({err}). "
                "The file was damaged after it was written (disk, copy or transfer error); "
                "restore it from a backup or re-save the model.") from None

    def npz(self, name):
        data = self.read(name)
        try:
            npz = np.load(io.BytesIO(data), allow_pickle=False)
            return {k: npz[k] for k in npz.files}, npz.files
        except Exception as err:  # noqa: BLE001 - any decoding error means corruption
            raise ValueError(
                f"'{self.path}' is corrupted: its entry '{name}' is not a readable NumPy "
                f"archive ({type(err).__name__}: {err}). Restore the file from a backup or "
                "re-save the model.") from None

    def npz_whole(self):
        """The whole file as a plain NumPy .npz archive."""
        try:
            with np.load(self.path, allow_pickle=False) as npz:
                return {k: npz[k] for k in npz.files}, list(npz.files)
        except Exception as err:  # noqa: BLE001
            raise ValueError(
                f"'{self.path}' is a corrupted NumPy .npz archive ({type(err).__name__}: "
                f"{err}). Restore it from a backup or save the weights again.") from None

    def close(self):
        if self.zf is not None:
            self.zf.close()


class _Npz:
    def __init__(self, arrays, files):
        self._arrays, self.files = arrays, files

    def __getitem__(self, key):
        return self._arrays[key]


def _open(filepath, purpose):
    """Opens `filepath` for `purpose` ("model" or "weights") with a clear ValueError for
    every kind of file that cannot be used."""
    path = os.fspath(filepath)
    expected = "an rnnkit model file" if purpose == "model" else "an rnnkit weights file"
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"No file at '{path}'. Check the path; models are written with "
            "model.save(path) and weights with model.save_weights(path).")
    if os.path.isdir(path):
        raise ValueError(
            f"'{path}' is a directory, not an rnnkit file (a TensorFlow SavedModel directory "
            "cannot be loaded). Expected a single file written by model.save(). "
            + _KERAS_HINT)
    with open(path, "rb") as f:
        head = f.read(8)
    if not head:
        raise ValueError(
            f"'{path}' is empty (0 bytes), not an rnnkit file. It was probably cut short "
            "by an interrupted copy, or created by another program. Re-save the model, or "
            "restore the file from a backup.")
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        raise ValueError(
            f"'{path}' is an HDF5 file (the Keras .h5 format), not an rnnkit file. "
            + _KERAS_HINT)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError):
        if head.startswith(b"PK"):
            raise ValueError(
                f"'{path}' is truncated or corrupted: it starts like a zip archive (rnnkit "
                "files are zip archives) but its end (the zip directory) is missing or "
                "damaged, so it was probably cut short by an interrupted copy or save. "
                "Re-save the model, or restore the file from a backup (an interrupted "
                "model.save() never replaces an existing file).") from None
        raise ValueError(
            f"'{path}' is not an rnnkit file: it is not a zip archive (it starts with the "
            f"bytes {head!r}). Expected a file written by model.save() or "
            f"model.save_weights(). " + _KERAS_HINT) from None
    names = zf.namelist()
    try:
        if _CONFIG in names or _METADATA in names:
            entry = _CONFIG if _CONFIG in names else _METADATA
            arch = _Archive(path, None, zf)
            try:
                meta = json.loads(arch.read(entry).decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                raise ValueError(
                    f"'{path}' is corrupted: its {entry} is not valid JSON ({err}). Restore "
                    "the file from a backup or re-save the model.") from None
            fmt = meta.get("format") if isinstance(meta, dict) else None
            if fmt not in (MODEL_FORMAT, WEIGHTS_FORMAT):
                keras = "model.weights.h5" in names or (
                    isinstance(meta, dict) and "keras_version" in meta)
                what = ("a Keras .keras file" if keras else
                        f"a zip archive with a {entry} that has no rnnkit format marker")
                raise ValueError(f"'{path}' is not {expected}: it is {what}. " + _KERAS_HINT)
            version = meta.get("format_version")
            if not isinstance(version, int) or isinstance(version, bool) or version < 1:
                raise ValueError(
                    f"'{path}' is corrupted: its {entry} has the rnnkit format marker but no "
                    f"valid format_version (found {version!r}). Restore the file from a "
                    "backup or re-save the model.")
            if version > FORMAT_VERSION:
                raise ValueError(
                    f"'{path}' was written by a newer rnnkit (rnnkit "
                    f"{meta.get('rnnkit_version', '?')}, file format version {version}); "
                    f"this rnnkit ({_version()}) reads format versions up to "
                    f"{FORMAT_VERSION}. Upgrade rnnkit (pip install -U rnnkit) to load it.")
            kind = "model" if fmt == MODEL_FORMAT else "weights"
            if purpose == "model" and kind == "weights":
                raise ValueError(
                    f"'{path}' is an rnnkit weights file (written by model.save_weights()), "
                    "not a model file: it holds no architecture. Rebuild the model in code "
                    "and call model.load_weights(path), or save the model with "
                    "model.save(path).")
            return _Archive(path, kind, zf, meta)
        if names and all(n.endswith(".npy") for n in names):
            if purpose == "model":
                raise ValueError(
                    f"'{path}' is a NumPy .npz archive, not an rnnkit model file (no "
                    f"{_CONFIG} inside). If it holds weights, rebuild the model and call "
                    "model.load_weights(path). " + _KERAS_HINT)
            return _Archive(path, "npz", zf, None)
        shown = names[:5] + (["..."] if len(names) > 5 else [])
        raise ValueError(
            f"'{path}' is not {expected}: it is a zip archive with no {_CONFIG} "
            f"inside (it contains {shown}). " + _KERAS_HINT)
    except BaseException:
        zf.close()
        raise


def _load_arrays(arch):
    """(weights [(key, array)], state [(key, array)]) from any supported archive."""
    arrays, files = arch.npz_whole() if arch.kind == "npz" else arch.npz(_WEIGHTS)
    return _split_npz(_Npz(arrays, files), f"'{arch.path}'")


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def save_model(model, filepath, overwrite=True):
    """Writes architecture, weights and (if compiled and trained) the optimizer state and
    compile arguments of `model` to one file, atomically. Any file name works."""
    from rnnkit.layers.serialization import serialize

    _check_target(filepath, overwrite)
    spec = _jsonable(serialize(model), f"model '{model.name}'")
    compile_spec = _compile_config(model)
    arrays, w_manifest, s_manifest = _weight_arrays(model, with_state=True)
    opt_leaves = _optimizer_leaves(model) if compile_spec is not None else None
    config = {
        "format": MODEL_FORMAT,
        "format_version": FORMAT_VERSION,
        "rnnkit_version": _version(),
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
    entries = [(_CONFIG, json.dumps(config, indent=1).encode("utf-8"), True),
               (_WEIGHTS, _npz_bytes(arrays), False)]
    if opt_leaves is not None:
        entries.append((_OPTIMIZER, _npz_bytes(
            {f"{i:05d}": a for i, a in enumerate(opt_leaves)}), False))
    _atomic_write(filepath, lambda f: _write_zip(f, entries), overwrite)


def load_model(filepath, custom_objects=None, compile=True):
    """Loads a model written by `save_model` / `model.save`: architecture, weights and,
    with `compile=True`, the compile arguments and optimizer state."""
    from rnnkit.models.saving_config import deserialize_layer

    arch = _open(filepath, "model")
    try:
        meta = arch.meta
        source = f"'{arch.path}'"
        model = deserialize_layer(meta["model"], custom_objects, where="the saved model")
        weights, state = _load_arrays(arch)
        _assign_weights(model, weights, source)
        _assign_state(model, state)
        if compile and meta.get("compile"):
            _restore_compile(model, meta["compile"], custom_objects)
            if meta.get("optimizer_state") and _OPTIMIZER in arch.zf.namelist():
                arrays, files = arch.npz(_OPTIMIZER)
                leaves = [arrays[k] for k in sorted(files)]
                _restore_optimizer_state(model, leaves, source)
        return model
    finally:
        arch.close()


def save_weights(model, filepath, overwrite=True):
    """Writes `model.weights` (in order) to one file, atomically: a zip archive with
    `metadata.json` + `weights.npz`, or a plain `.npz` when the path ends in `.npz`."""
    arrays, manifest, _ = _weight_arrays(model, with_state=False)
    if os.fspath(filepath).endswith(".npz"):
        _atomic_write(filepath, lambda f: np.savez(f, **arrays), overwrite)
        return
    meta = {"format": WEIGHTS_FORMAT, "format_version": FORMAT_VERSION,
            "rnnkit_version": _version(), "model_name": model.name, "weights": manifest}
    entries = [(_METADATA, json.dumps(meta, indent=1).encode("utf-8"), True),
               (_WEIGHTS, _npz_bytes(arrays), False)]
    _atomic_write(filepath, lambda f: _write_zip(f, entries), overwrite)


def load_weights(model, filepath):
    """Loads weights from a file written by `save_weights` or `save_model` (or a plain
    `.npz` of arrays in `model.weights` order) into `model`. Count and shapes are checked
    first; on mismatch nothing is assigned and the error names the weight."""
    arch = _open(filepath, "weights")
    try:
        weights, _ = _load_arrays(arch)
    finally:
        arch.close()
    _assign_weights(model, weights, f"'{arch.path}'")
