"""The reader for Keras `.h5` model files (the legacy HDF5 format of Keras 3 and of
tf.keras 2 / tf_keras): the architecture in the root attribute `model_config`, the compile
arguments in `training_config`, and each layer's arrays under `model_weights/<layer>` in
the order its `weight_names` attribute lists."""

from __future__ import annotations

import json

import numpy as np

from rnnkit.io import archive, keras_config
from rnnkit.io.keras_zip import origin_of, require_h5py
from rnnkit.io.loaded import Loaded


def _text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray) and value.shape == ():
        return _text(value.item())
    return str(value)


def _json_attr(f, name, source):
    if name not in f.attrs:
        return None
    try:
        return json.loads(_text(f.attrs[name]))
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{source} is corrupted: its '{name}' attribute is not valid JSON "
                         f"({err}).") from None


def read(arch) -> Loaded:
    source = f"'{arch.path}'"
    h5py = require_h5py(arch.path)
    try:
        f = h5py.File(arch.path, "r")
    except OSError as err:
        raise ValueError(
            f"{source} is an HDF5 file (the Keras .h5 format) that cannot be read: it is "
            f"truncated or corrupted (h5py: {err}). Save the model again, or restore the "
            "file from a backup. " + archive.HINT) from None
    with f:
        config = _json_attr(f, "model_config", source)
        if config is None:
            what = ("a weights-only file (model.save_weights)" if "layer_names" in f.attrs
                    else "not a Keras model file (no 'model_config' attribute)")
            raise ValueError(
                f"{source} is an HDF5 file but {what}: it holds no architecture. Load the "
                "whole model saved with model.save('model.h5'), or rebuild the model in "
                "code. " + archive.HINT)
        origin = origin_of(_text(f.attrs.get("keras_version", "")), source)
        spec = keras_config.translate(config, origin, source)
        group = f["model_weights"] if "model_weights" in f else f
        by_layer = {}
        try:
            for raw in group.attrs.get("layer_names", []):
                name = _text(raw)
                g = group[name]
                names = [_text(w) for w in g.attrs.get("weight_names", [])]
                by_layer[name] = [(f"{name}/{w}", np.asarray(g[w])) for w in names]
        except (KeyError, OSError) as err:
            raise ValueError(f"{source} is truncated or corrupted: a weight listed in the "
                             f"file cannot be read ({err}).") from None
        training = _json_attr(f, "training_config", source)
    compiled = None
    if isinstance(training, dict):
        compiled = keras_config.compile_spec(training.get("optimizer_config"),
                                             training.get("loss"), training.get("metrics"),
                                             training.get("loss_weights"))
    return Loaded(source=source, config=spec, weights=by_layer, compile=compiled,
                  origin=origin)
