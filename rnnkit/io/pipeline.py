"""Loading a model: sniff the file's format, let that format's reader yield a `Loaded`
(config, named weight arrays, compile state), then one shared path builds the model,
assigns its weights and restores its compile state. A new format is a new reader."""

from __future__ import annotations

import warnings

from rnnkit.io import archive, compile_state, weights
from rnnkit.io.loaded import Loaded
from rnnkit.layers import serialization
from rnnkit.layers.serialization import deserialize_layer

_NESTED = ("layer", "backward_layer", "cell", "cells", "layers")


def _layer_specs(spec, owner=None):
    """(class_name, layer name) of every layer spec in a model config (nested included)."""
    if isinstance(spec, list):
        for v in spec:
            yield from _layer_specs(v, owner)
        return
    if not (isinstance(spec, dict) and isinstance(spec.get("class_name"), str)
            and isinstance(spec.get("config"), dict)):
        return
    cfg = spec["config"]
    yield spec["class_name"], spec.get("name") or cfg.get("name") or owner
    for key in _NESTED:
        if key in cfg:
            yield from _layer_specs(cfg[key], cfg.get("name"))


def check_classes(config, custom_objects, source):
    """One clear error naming the first layer class rnnkit does not have, and the file."""
    custom = custom_objects or {}
    for cls, name in _layer_specs(config):
        if cls in custom:
            continue
        try:
            serialization.lookup_class(cls)
        except ValueError:
            raise ValueError(
                f"{source} uses the layer class '{cls}' (layer '{name}'), which rnnkit does "
                f"not have. If it is your own class, pass custom_objects={{'{cls}': {cls}}} "
                "to load_model (or decorate the class with @rnnkit.layers.register before "
                "loading); rnnkit's layers are listed in rnnkit.layers.") from None


def _read_rnnkit(arch):
    from rnnkit.io import rnnkit_format

    return rnnkit_format.read_model(arch)


def _read_keras_zip(arch):
    from rnnkit.io import keras_zip

    return keras_zip.read(arch)


def _read_hdf5(arch):
    from rnnkit.io import keras_h5

    return keras_h5.read(arch)


# Archive kind (from `archive.open_file`) -> reader.
READERS = {"model": _read_rnnkit, "keras_zip": _read_keras_zip, "hdf5": _read_hdf5}


def read(filepath) -> Loaded:
    """The `Loaded` of any model file rnnkit reads (no model is built)."""
    arch = archive.open_file(filepath, "model")
    try:
        return READERS[arch.kind](arch)
    finally:
        arch.close()


def build(loaded: Loaded, custom_objects=None, compile=True):
    """The shared path: the model from `loaded.config`, its weights, its compile state."""
    check_classes(loaded.config, custom_objects, loaded.source)
    top = loaded.config["class_name"]
    cls = (custom_objects or {}).get(top) or serialization.lookup_class(top)
    if not hasattr(cls, "compile") or not hasattr(cls, "layers"):
        raise ValueError(
            f"{loaded.source} holds a '{top}' layer, not a model; load_model reads files "
            "that hold a Model or Sequential.")
    model = deserialize_layer(loaded.config, custom_objects, where=f"the model in "
                              f"{loaded.source}")
    arrays = loaded.weights
    if isinstance(arrays, dict):
        arrays = weights.flatten_by_layer(model, arrays, loaded.source)
    weights.assign_weights(model, arrays, loaded.source)
    weights.assign_state(model, loaded.state)
    if compile and loaded.compile:
        try:
            compile_state.restore_compile(model, loaded.compile, custom_objects)
        except ValueError as err:
            if loaded.origin == "rnnkit":
                raise
            loaded.notes.append(
                f"{loaded.source}: the model's compile config (optimizer/loss) was not "
                f"restored ({err}); the model is returned uncompiled: call model.compile().")
        else:
            if loaded.optimizer_leaves is not None:
                compile_state.restore_optimizer_state(model, loaded.optimizer_leaves,
                                                      loaded.source)
            if loaded.keras_optimizer:
                try:
                    compile_state.restore_keras_optimizer(model, loaded.keras_optimizer,
                                                          loaded.source)
                except ValueError as err:
                    loaded.notes.append(
                        f"{loaded.source}: the optimizer state was not restored ({err}); "
                        "training starts the optimizer's moments and step count from zero.")
    for note in loaded.notes:
        warnings.warn(note, stacklevel=3)
    return model


def load_model(filepath, custom_objects=None, compile=True):
    """Loads a model file: rnnkit's own (`model.save`), or a Keras `.keras` / `.h5` file
    written by Keras 3 or tf.keras 2. Nothing in the file is executed or imported."""
    return build(read(filepath), custom_objects, compile)


def load_weights(model, filepath):
    """Loads weights from a file written by `save_weights` or `save_model` (or a plain
    `.npz` of arrays in `model.weights` order) into `model`. Count and shapes are checked
    first; on mismatch nothing is assigned and the error names the weight."""
    from rnnkit.io import rnnkit_format

    arch = archive.open_file(filepath, "weights")
    try:
        w, _ = rnnkit_format.load_arrays(arch)
    finally:
        arch.close()
    weights.assign_weights(model, w, f"'{arch.path}'")
