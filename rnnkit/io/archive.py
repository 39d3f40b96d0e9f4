"""Opening model and weights files: what kind of file it is (sniffing), with one clear
error for every kind of file that cannot be used.

`open_file(path, purpose)` returns an `Archive` whose `kind` names the reader to use:
"model"/"weights" (rnnkit's own zip formats), "npz" (a plain NumPy archive), "keras_zip"
(a Keras `.keras` file, Keras 3 or tf_keras) or "hdf5" (a Keras `.h5` file).
"""

from __future__ import annotations

import io
import json
import os
import sys
import zipfile
import zlib

import numpy as np

MODEL_FORMAT = "rnnkit.model"
WEIGHTS_FORMAT = "rnnkit.weights"
FORMAT_VERSION = 1

CONFIG = "config.json"
METADATA = "metadata.json"
WEIGHTS = "weights.npz"
OPTIMIZER = "optimizer.npz"
KERAS_WEIGHTS = "model.weights.h5"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"

HINT = ("Files written by model.save() can be loaded (and, by load_weights, files written "
        "by model.save_weights()), and so can Keras .keras and .h5 model files written by "
        "Keras 3 or tf.keras 2 (rnnkit.io reads them; .h5 needs h5py: pip install "
        "'rnnkit[keras]').")


def version():
    """rnnkit's version (read from the loaded package: no import, no cycle)."""
    return getattr(sys.modules.get("rnnkit"), "__version__", "unknown")


class Archive:
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

    def json(self, name):
        """The entry `name` parsed as JSON (a clear error when it is not)."""
        try:
            return json.loads(self.read(name).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(
                f"'{self.path}' is corrupted: its {name} is not valid JSON ({err}). Restore "
                "the file from a backup or re-save the model.") from None

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


class Npz:
    def __init__(self, arrays, files):
        self._arrays, self.files = arrays, files

    def __getitem__(self, key):
        return self._arrays[key]



def _truncated(path, what="zip archive"):
    return ValueError(
        f"'{path}' is truncated or corrupted: it starts like a {what} (rnnkit and .keras "
        "files are zip archives) but its end (the zip directory) is missing or damaged, so "
        "it was probably cut short by an interrupted copy or save. Re-save the model, or "
        "restore the file from a backup (an interrupted model.save() never replaces an "
        "existing file).")


def open_zip(path, head):
    """A ZipFile for `path`, or a clear error when the file is a damaged zip. A zip
    archive cut short can still open: Python then finds the directory of an archive stored
    *inside* it (a `weights.npz` entry) and reads that instead; such an archive does not
    start at the file's first byte, which a whole file always does."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError):
        if head.startswith(b"PK"):
            raise _truncated(path) from None
        return None
    infos = zf.infolist()
    if head.startswith(b"PK") and (not infos or min(i.header_offset for i in infos) != 0
                                   or zf.comment):
        zf.close()
        raise _truncated(path)
    return zf


def _check_rnnkit_meta(path, meta, entry, expected, names):
    fmt = meta.get("format") if isinstance(meta, dict) else None
    if fmt not in (MODEL_FORMAT, WEIGHTS_FORMAT):
        raise ValueError(
            f"'{path}' is not {expected}: it is a zip archive with a {entry} that has no "
            "rnnkit format marker (and it is not a Keras .keras file). " + HINT)
    ver = meta.get("format_version")
    if not isinstance(ver, int) or isinstance(ver, bool) or ver < 1:
        raise ValueError(
            f"'{path}' is corrupted: its {entry} has the rnnkit format marker but no "
            f"valid format_version (found {ver!r}). Restore the file from a "
            "backup or re-save the model.")
    if ver > FORMAT_VERSION:
        raise ValueError(
            f"'{path}' was written by a newer rnnkit (rnnkit "
            f"{meta.get('rnnkit_version', '?')}, file format version {ver}); "
            f"this rnnkit ({version()}) reads format versions up to "
            f"{FORMAT_VERSION}. Upgrade rnnkit (pip install -U rnnkit) to load it.")
    return "model" if fmt == MODEL_FORMAT else "weights"


def _is_keras_zip(names, meta):
    return KERAS_WEIGHTS in names or (isinstance(meta, dict) and "keras_version" in meta)


def open_file(filepath, purpose):
    """Opens `filepath` for `purpose` ("model" or "weights"): an `Archive` whose `kind`
    says which reader reads it, or a clear ValueError for a file that cannot be used."""
    path = os.fspath(filepath)
    expected = "an rnnkit model file" if purpose == "model" else "an rnnkit weights file"
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"No file at '{path}'. Check the path; models are written with "
            "model.save(path) and weights with model.save_weights(path).")
    if os.path.isdir(path):
        raise ValueError(
            f"'{path}' is a directory, not a model file (a TensorFlow SavedModel directory "
            "cannot be loaded: save it as .keras or .h5 first). Expected a single file "
            "written by model.save(). " + HINT)
    with open(path, "rb") as f:
        head = f.read(8)
    if not head:
        raise ValueError(
            f"'{path}' is empty (0 bytes), not an rnnkit file. It was probably cut short "
            "by an interrupted copy, or created by another program. Re-save the model, or "
            "restore the file from a backup.")
    if head.startswith(HDF5_MAGIC):
        if purpose != "model":
            raise ValueError(
                f"'{path}' is an HDF5 file (the Keras .h5 format), not an rnnkit weights "
                "file. Load the whole Keras model with rnnkit.models.load_model(path) "
                "and take its weights (model.get_weights()). " + HINT)
        return Archive(path, "hdf5")
    zf = open_zip(path, head)
    if zf is None:
        raise ValueError(
            f"'{path}' is not an rnnkit file: it is not a zip archive (it starts with the "
            f"bytes {head!r}). Expected a file written by model.save() or "
            f"model.save_weights(). " + HINT)
    names = zf.namelist()
    try:
        if CONFIG in names or METADATA in names:
            meta = None
            entry = CONFIG if CONFIG in names else METADATA
            arch = Archive(path, None, zf)
            if METADATA in names and CONFIG in names and KERAS_WEIGHTS in names:
                arch.kind = "keras_zip"
                if purpose != "model":
                    raise ValueError(
                        f"'{path}' is a Keras .keras model file, not an rnnkit weights "
                        "file. Load it with rnnkit.models.load_model(path). " + HINT)
                return arch
            meta = arch.json(entry)
            if _is_keras_zip(names, meta):
                raise ValueError(
                    f"'{path}' is a Keras .keras file with missing parts: it has "
                    f"{sorted(names)}, but a .keras file holds {METADATA}, {CONFIG} and "
                    f"{KERAS_WEIGHTS}. It is incomplete; save it again with Keras.")
            kind = _check_rnnkit_meta(path, meta, entry, expected, names)
            if purpose == "model" and kind == "weights":
                raise ValueError(
                    f"'{path}' is an rnnkit weights file (written by model.save_weights()), "
                    "not a model file: it holds no architecture. Rebuild the model in code "
                    "and call model.load_weights(path), or save the model with "
                    "model.save(path).")
            arch.kind, arch.meta = kind, meta
            return arch
        if names and all(n.endswith(".npy") for n in names):
            if purpose == "model":
                raise ValueError(
                    f"'{path}' is a NumPy .npz archive, not an rnnkit model file (no "
                    f"{CONFIG} inside). If it holds weights, rebuild the model and call "
                    "model.load_weights(path). " + HINT)
            return Archive(path, "npz", zf, None)
        shown = names[:5] + (["..."] if len(names) > 5 else [])
        raise ValueError(
            f"'{path}' is not {expected}: it is a zip archive with no {CONFIG} "
            f"inside (it contains {shown}). " + HINT)
    except BaseException:
        zf.close()
        raise
