"""The reader for Keras `.keras` files (Keras 3, and tf_keras / Keras 2.13+): a zip with
`metadata.json`, `config.json` and `model.weights.h5`.

The weights file is a tree: `layers/<layer name>/vars/<i>` holds a layer's own variables
in order, and sub-layers sit in named groups under it (`cell`, `forward_layer`,
`backward_layer`, `layer`, `cells/<name>` ...). A layer's arrays in Keras's
`get_weights()` order are its own variables, then its sub-layers' in that order.
"""

from __future__ import annotations

import io
import re

import numpy as np

from rnnkit.io import archive, keras_config
from rnnkit.io.loaded import Loaded

# Sub-layer groups in the order Keras lists their weights; other groups follow, sorted.
CHILD_ORDER = ("cell", "forward_layer", "backward_layer", "layer", "cells", "layers")


def require_h5py(path):
    try:
        import h5py
    except ImportError:
        raise ImportError(
            f"Reading '{path}' needs h5py (Keras weights are HDF5): pip install "
            "'rnnkit[keras]' (or pip install h5py).") from None
    return h5py


def _natural(name):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def _child_key(name):
    if name in CHILD_ORDER:
        return (0, CHILD_ORDER.index(name), [])
    return (1, 0, _natural(name))


def walk(group, prefix=""):
    """[(path, array)] of `group`: own `vars` in index order, then sub-groups."""
    out = []
    if "vars" in group:
        vars_ = group["vars"]
        for key in sorted(vars_.keys(), key=_natural):
            out.append((f"{prefix}vars/{key}", np.asarray(vars_[key])))
    for name in sorted((k for k in group.keys() if k != "vars"), key=_child_key):
        child = group[name]
        if hasattr(child, "keys"):
            out.extend(walk(child, f"{prefix}{name}/"))
    return out


def origin_of(version, source):
    version = str(version or "")
    if version.startswith("2."):
        return "keras2"
    if version.startswith("3.") or not version:
        return "keras3"
    raise ValueError(f"{source} was saved by Keras {version}; rnnkit reads files of Keras "
                     "2 (tf.keras 2.x, tf_keras) and Keras 3.")


def read(arch) -> Loaded:
    source = f"'{arch.path}'"
    h5py = require_h5py(arch.path)
    meta = arch.json(archive.METADATA)
    config = arch.json(archive.CONFIG)
    origin = origin_of(meta.get("keras_version") if isinstance(meta, dict) else None, source)
    spec = keras_config.translate(config, origin, source)
    data = arch.read(archive.KERAS_WEIGHTS)
    try:
        h5 = h5py.File(io.BytesIO(data), "r")
    except OSError as err:
        raise ValueError(
            f"{source} is a Keras .keras file whose {archive.KERAS_WEIGHTS} is truncated or "
            f"corrupted (h5py: {err}). Save the model again with Keras. "
            + archive.HINT) from None
    with h5:
        by_layer = {}
        layers = h5["layers"] if "layers" in h5 else {}
        names = keras_config.weight_group_names(config)
        for group in layers.keys():
            name = names.get(group, group)
            by_layer[name] = [(f"layers/{group}/{p}", a) for p, a in walk(layers[group])]
        opt_vars = h5["optimizer/vars"] if "optimizer/vars" in h5 else None
        keras_optimizer = (None if opt_vars is None or origin != "keras3" else
                           [np.asarray(opt_vars[k]) for k in sorted(opt_vars.keys(), key=_natural)])
    compile_cfg = config.get("compile_config") if isinstance(config, dict) else None
    compiled = None
    if isinstance(compile_cfg, dict) and compile_cfg.get("optimizer"):
        compiled = keras_config.compile_spec(compile_cfg.get("optimizer"),
                                             compile_cfg.get("loss"),
                                             compile_cfg.get("metrics"),
                                             compile_cfg.get("loss_weights"))
    return Loaded(source=source, config=spec, weights=by_layer, compile=compiled,
                  origin=origin, keras_optimizer=keras_optimizer)
