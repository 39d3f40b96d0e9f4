"""The compile arguments (optimizer, loss, metrics) and the optimizer state of a model, as
JSON and arrays, and back. Names are looked up in rnnkit's own modules (or
`custom_objects`); nothing named in a file is imported."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rnnkit.distribution import processes
from rnnkit.io.jsonable import jsonable as _jsonable

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


def compile_config(model):
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


def restore_compile(model, spec, custom_objects):
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


def optimizer_leaves(model):
    if not getattr(model, "compiled", False) or getattr(model, "_opt_state", None) is None:
        return None
    return [processes.to_numpy(x) for x in jax.tree_util.tree_leaves(model._opt_state)]


def restore_optimizer_state(model, arrays, source):
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




# Keras 3 builds an optimizer's slot variables in blocks; in each block every trainable
# variable gets the block's slots in turn (Adam: m0, v0, m1, v1, ...; then v_hat0, ...).
KERAS_SLOT_BLOCKS = {
    "SGD": (("momentum",),),
    "Adam": (("momentum", "velocity"), ("velocity_hat",)),
    "AdamW": (("momentum", "velocity"), ("velocity_hat",)),
    "RMSprop": (("velocity",), ("momentum",), ("average_gradient",)),
    "Adagrad": (("accumulator",),),
}


def restore_keras_optimizer(model, arrays, source):
    """Sets the compiled model's optimizer state from a Keras 3 file's `optimizer/vars`
    (`[iteration, learning_rate (absent for a schedule), *slot variables]`), so that training continues where
    Keras stopped. Raises ValueError (with the reason) when the arrays do not fit."""
    opt = model.optimizer
    kind = type(opt).__name__
    blocks = KERAS_SLOT_BLOCKS.get(kind)
    if blocks is None:
        raise ValueError(f"rnnkit does not map the state of a Keras {kind} optimizer")
    _, t_idx, _ = model._split_values()
    params = [model.variables[i]._value for i in t_idx]
    fresh = opt.init(params)
    names = [n for block in blocks for n in block if n in fresh.slots]
    head = 1 if opt._has_schedule else 2  # Keras keeps no learning-rate variable for a schedule
    want = head + len(names) * len(params)
    if names and len(arrays) == head and int(np.asarray(arrays[0])) == 0:
        return  # compiled but never trained in Keras: no slots were built; a fresh state is it
    if len(arrays) != want:
        raise ValueError(f"the file holds {len(arrays)} optimizer variables; a {kind} with "
                         f"these settings over {len(params)} trainable weights has {want}")
    slots = {name: [None] * len(params) for name in names}
    pos = head
    for block in blocks:
        block = [n for n in block if n in fresh.slots]
        for i, p in enumerate(params):
            for name in block:
                arr = np.asarray(arrays[pos])
                if arr.shape != tuple(p.shape):
                    raise ValueError(f"optimizer variable #{pos} ({name} of trainable weight "
                                     f"#{i}) has shape {arr.shape}, the weight {tuple(p.shape)}")
                slots[name][i] = jnp.asarray(arr, dtype=p.dtype)
                pos += 1
    iterations = jnp.asarray(np.asarray(arrays[0]).astype(np.int64), jnp.int32)
    state = fresh._replace(iterations=iterations, slots=slots)
    if opt._has_schedule:  # the schedule gives the rate at the restored step
        state = state._replace(learning_rate=opt._learning_rate_at(iterations))
    else:  # the rate Keras had last (ReduceLROnPlateau may have changed it)
        state = opt.set_learning_rate(state, float(np.asarray(arrays[1])))
    model._opt_state = state
