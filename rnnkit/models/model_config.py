"""Model architectures as JSON-able dicts, and back.

Functional models (`Model(inputs, outputs)`) are described like Keras 3 describes them:

    {"name": ..., "trainable": ...,
     "layers": [{"class_name": ..., "config": {...}, "name": ...,
                 "inbound_nodes": [{"args": [...], "kwargs": {...}}, ...]}, ...],
     "input_layers": [[layer_name, node_index, tensor_index], ...],
     "output_layers": [[layer_name, node_index, tensor_index], ...],
     "inputs": <structure>, "outputs": <structure>}

Each inbound node is one call of the layer inside the model; its `args`/`kwargs` keep the
call's structure, with every symbolic tensor replaced by
`{"__tensor__": [layer_name, node_index, tensor_index], "shape": ..., "dtype": ...}`
(the layer call, counted among that layer's calls inside this model, and the position of
the tensor among that call's flattened outputs). Tensors passed by keyword
(`initial_state=[h, c]`, `mask=`) are recorded the same way. `inputs`/`outputs` keep the
structure (single tensor, list or dict) given to `Model(...)`.

`functional_from_config` recreates every layer from its config, then replays the calls in
an order where each call's inputs already exist, so the rebuilt model has the same graph,
the same layer order and therefore the same `weights` order.

Sequential models store their layer configs, with the `InputLayer` first when the input
shape is known.
"""

from __future__ import annotations

import numpy as np

from rnnkit import symbolic
from rnnkit.layers import serialization
from rnnkit.layers.input_layer import InputLayer
from rnnkit.layers.serialization import deserialize_layer

_TENSOR = "__tensor__"
_TUPLE = "__tuple__"
_DICT = "__dict__"
_ARRAY = "__ndarray__"


# --------------------------------------------------------------------------------------
# Encoding call arguments
# --------------------------------------------------------------------------------------


def _encode(obj, tensor_ref, where):
    if symbolic.is_symbolic(obj):
        return {_TENSOR: list(tensor_ref(obj)), "shape": list(obj.shape),
                "dtype": obj.dtype.name}
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, float)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, tuple):
        return {_TUPLE: [_encode(v, tensor_ref, where) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, tensor_ref, where) for v in obj]
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            raise ValueError(f"Cannot save {where}: a dict argument has non-string keys "
                             f"{list(obj)}.")
        return {_DICT: {k: _encode(v, tensor_ref, where) for k, v in obj.items()}}
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):
        arr = np.asarray(obj)
        return {_ARRAY: arr.tolist(), "dtype": arr.dtype.name}
    raise ValueError(
        f"Cannot save {where}: one of its call arguments is a {type(obj).__name__} "
        f"({obj!r}), which cannot be written to a config. Pass only symbolic tensors, "
        "numbers, strings, None, arrays, and lists/tuples/dicts of these.")


def _decode(obj, tensor_of):
    if isinstance(obj, list):
        return [_decode(v, tensor_of) for v in obj]
    if isinstance(obj, dict):
        if _TENSOR in obj:
            return tensor_of(tuple(obj[_TENSOR]))
        if _TUPLE in obj:
            return tuple(_decode(v, tensor_of) for v in obj[_TUPLE])
        if _DICT in obj:
            return {k: _decode(v, tensor_of) for k, v in obj[_DICT].items()}
        if _ARRAY in obj:
            return np.asarray(obj[_ARRAY], dtype=obj.get("dtype"))
        raise ValueError(f"Malformed call argument in a saved model config: {obj!r}.")
    return obj


def _tensor_refs(structure, tensor_ref):
    return [list(tensor_ref(t)) for t in symbolic.tree_leaves(structure)
            if symbolic.is_symbolic(t)]


# --------------------------------------------------------------------------------------
# Functional models
# --------------------------------------------------------------------------------------


def functional_config(model) -> dict:
    """A JSON-able description of a functional model's graph (see the module docstring)."""
    graph = getattr(model, "_graph", None)
    if graph is None:
        raise ValueError(
            f"Model '{model.name}' has no functional graph (it is a subclassed model, or a "
            "Sequential model whose input shape is not known yet), so its architecture "
            "cannot be written as a config. Save its weights with "
            "model.save_weights(path) and rebuild the model in code before "
            "model.load_weights(path); or build it as a functional/Sequential model "
            "starting with rnnkit.Input(shape=...).")
    layers = graph.layers
    names = [layer.name for layer in layers]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(
            f"Cannot save model '{model.name}': several of its layers share the name(s) "
            f"{dupes}. Layer names identify the connections in a saved model; give the "
            "layers distinct names (name=...).")

    # Node index of a call = its position among that layer's calls inside this model.
    node_index: dict[int, int] = {}
    per_layer: dict[int, list] = {id(layer): [] for layer in layers}
    for node in graph.nodes:
        lst = per_layer[id(node.layer)]
        node_index[id(node)] = len(lst)
        lst.append(node)

    def tensor_ref(t):
        node, index = t._keras_history
        if id(node) not in node_index:
            raise ValueError(
                f"Cannot save model '{model.name}': the tensor {t!r} used by a layer "
                "call is not produced inside the model (a constant symbolic tensor or a "
                "tensor from another model).")
        return node.layer.name, node_index[id(node)], int(index)

    layer_configs = []
    for layer in layers:
        spec = serialization.serialize(layer)
        inbound = []
        if not isinstance(layer, InputLayer):
            for node in per_layer[id(layer)]:
                where = f"the call of layer '{layer.name}'"
                inbound.append({
                    "args": [_encode(a, tensor_ref, where) for a in node.args],
                    "kwargs": {k: _encode(v, tensor_ref, where)
                               for k, v in node.kwargs.items()},
                })
        layer_configs.append({"class_name": spec["class_name"], "config": spec["config"],
                              "name": layer.name, "inbound_nodes": inbound})

    return {
        "name": model.name,
        "trainable": model.trainable,
        "layers": layer_configs,
        "input_layers": _tensor_refs(graph.inputs, tensor_ref),
        "output_layers": _tensor_refs(graph.outputs, tensor_ref),
        "inputs": _encode(graph.inputs, tensor_ref, "the model inputs"),
        "outputs": _encode(graph.outputs, tensor_ref, "the model outputs"),
    }


def _check_keys(config, keys, what):
    if not isinstance(config, dict):
        raise ValueError(f"A {what} config must be a dict; received {type(config).__name__}.")
    missing = [k for k in keys if k not in config]
    if missing:
        raise ValueError(f"This {what} config is missing the key(s) {missing}; it was not "
                         "written by rnnkit's get_config() / model.save().")


def functional_from_config(cls, config, custom_objects=None):
    """Rebuilds a functional model from `functional_config(...)` output."""
    _check_keys(config, ("layers", "input_layers", "output_layers"), "functional model")
    layers = {}
    order = []
    if not isinstance(config["layers"], list):
        raise ValueError("A functional model config's 'layers' must be a list; received "
                         f"{type(config['layers']).__name__}.")
    for i, entry in enumerate(config["layers"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
            raise ValueError(
                f"Entry #{i} of a functional model config's 'layers' must be a dict "
                "{'class_name', 'config': dict, 'name', 'inbound_nodes'}; received "
                f"{type(entry).__name__} {str(entry)[:60]!r}.")
        name = entry.get("name") or entry["config"].get("name")
        layer = deserialize_layer(entry, custom_objects, where=f"layer '{name}'")
        layers[name] = layer
        order.append((name, layer, entry.get("inbound_nodes", [])))

    tensors: dict[tuple, object] = {}
    for name, layer, _ in order:
        if isinstance(layer, InputLayer):
            tensors[(name, 0, 0)] = layer.output

    def tensor_of(ref):
        ref = (ref[0], int(ref[1]), int(ref[2]))
        if ref not in tensors:
            raise KeyError(ref)
        return tensors[ref]

    def ready(node_cfg):
        refs = []

        def collect(obj):
            if isinstance(obj, list):
                for v in obj:
                    collect(v)
            elif isinstance(obj, dict):
                if _TENSOR in obj:
                    refs.append(tuple(obj[_TENSOR]))
                else:
                    for v in obj.values():
                        collect(v)

        collect(node_cfg)
        return all((r[0], int(r[1]), int(r[2])) in tensors for r in refs)

    done = {name: 0 for name, _, _ in order}
    progress = True
    while progress:
        progress = False
        for name, layer, nodes in order:
            while done[name] < len(nodes) and ready(nodes[done[name]]):
                node_cfg = nodes[done[name]]
                args = [_decode(a, tensor_of) for a in node_cfg.get("args", [])]
                kwargs = {k: _decode(v, tensor_of)
                          for k, v in node_cfg.get("kwargs", {}).items()}
                outputs = layer(*args, **kwargs)
                flat = [t for t in symbolic.tree_leaves(outputs) if symbolic.is_symbolic(t)]
                for i, t in enumerate(flat):
                    tensors[(name, done[name], i)] = t
                done[name] += 1
                progress = True
    stuck = [f"{name} (call {done[name]})" for name, _, nodes in order
             if done[name] < len(nodes)]
    if stuck:
        raise ValueError(
            "Cannot rebuild the functional model: the saved graph refers to tensors that "
            f"no layer produces, so these layer calls cannot be replayed: {stuck}. The "
            "config is inconsistent (edited by hand, or written by a different program).")

    def structure(key, flat_key):
        if key in config:
            return _decode(config[key], tensor_of)
        flat = [tensor_of(r) for r in config[flat_key]]
        return flat[0] if len(flat) == 1 else flat

    try:
        inputs = structure("inputs", "input_layers")
        outputs = structure("outputs", "output_layers")
    except KeyError as err:
        raise ValueError(f"Cannot rebuild the functional model: its inputs/outputs refer "
                         f"to a tensor {err.args[0]} that is not in the graph.") from None
    kwargs = {}
    if "name" in config:
        kwargs["name"] = config["name"]
    if "trainable" in config:
        kwargs["trainable"] = config["trainable"]
    return cls(inputs=inputs, outputs=outputs, **kwargs)


# --------------------------------------------------------------------------------------
# Sequential models
# --------------------------------------------------------------------------------------


def sequential_config(model) -> dict:
    """`{"name", "trainable", "layers": [InputLayer spec?, layer specs...]}`."""
    layers = []
    inp = getattr(model, "_input_tensor", None)
    if inp is not None:
        layers.append(serialization.serialize(inp.node.layer))
    layers.extend(serialization.serialize(layer) for layer in model.layers)
    config = {"name": model.name, "trainable": model.trainable, "layers": layers}
    if inp is not None:
        config["build_input_shape"] = list(inp.shape)
    return config


def sequential_from_config(cls, config, custom_objects=None):
    """Rebuilds a Sequential model from `sequential_config(...)` output."""
    _check_keys(config, ("layers",), "Sequential model")
    layers = []
    for i, spec in enumerate(config["layers"]):
        name = (spec.get("config") or {}).get("name", f"#{i}")
        layers.append(deserialize_layer(spec, custom_objects, where=f"layer '{name}'"))
    kwargs = {}
    if "name" in config:
        kwargs["name"] = config["name"]
    if "trainable" in config:
        kwargs["trainable"] = config["trainable"]
    model = cls(layers=layers, **kwargs)
    if not model.built and config.get("build_input_shape") is not None and not any(
            isinstance(layer, InputLayer) for layer in layers):
        model.build(tuple(config["build_input_shape"]))
    return model
