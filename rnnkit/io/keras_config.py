"""Keras model configs (Keras 3 and tf_keras / Keras 2) in rnnkit's vocabulary.

rnnkit's layers take Keras 3's names and arguments, so a Keras 3 config needs little: the
functional graph's tensor references are rewritten into rnnkit's form, and Keras-only
wrapper keys (`module`, `registered_name`, `build_config`, ...) are dropped. Keras 2
configs also go through the table of renames below. Only `class_name` strings are looked
up, in rnnkit's own layer registry: a module path in the file is never imported.
"""

from __future__ import annotations

# Keras 2 (tf_keras) layer config keys -> what Keras 3 / rnnkit calls them. A value of
# None drops the key when it holds the listed default; any other value is an error
# (DROP_IF_DEFAULT).
KEY_RENAMES = {"batch_input_shape": "batch_shape"}  # InputLayer only
DROP_IF_DEFAULT = {
    "time_major": False,     # Keras 3 has batch-major recurrent layers only
    "implementation": None,  # any value: a speed setting of Keras 2, same numbers
    "input_length": None,    # Embedding: Keras 3 infers it
    "ragged": False,         # InputLayer
    "optional": False,       # InputLayer (Keras 3.x)
}
CLASS_RENAMES = {"Functional": "Functional", "Model": "Model"}  # both rebuild rnnkit.Model
# Activation names whose formula differs between Keras 2 and Keras 3.
KERAS2_ACTIVATIONS = {"hard_sigmoid": "keras2_hard_sigmoid"}
ACTIVATION_KEYS = ("activation", "recurrent_activation")
NESTED_LAYER_KEYS = ("layer", "backward_layer", "cell")
KERAS2_OPTIMIZER_KEYS = ("jit_compile", "is_legacy_optimizer")


class ConfigError(ValueError):
    """A Keras config rnnkit cannot rebuild (a clear message naming the layer)."""


def _layer_name(spec):
    cfg = spec.get("config") if isinstance(spec, dict) else None
    return (cfg or {}).get("name") if isinstance(cfg, dict) else None


def translate(spec, origin, source):
    """`spec` (`{"class_name", "config", ...}` from a Keras file) in rnnkit's vocabulary.
    `origin` is "keras3" or "keras2"; `source` names the file in errors."""
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str) or \
            not isinstance(spec.get("config"), dict):
        raise ConfigError(
            f"{source} has a malformed model config: expected {{'class_name': str, "
            f"'config': dict}}, found {type(spec).__name__} {str(spec)[:80]!r}.")
    name = CLASS_RENAMES.get(spec["class_name"], spec["class_name"])
    cfg = dict(spec["config"])
    if name == "Sequential":
        cfg["layers"] = [translate(s, origin, source) for s in cfg.get("layers", [])]
        cfg.pop("build_input_shape", None)
    elif name in ("Functional", "Model") and "layers" in cfg:
        cfg = _functional(cfg, origin, source)
    else:
        cfg = _layer_config(name, cfg, origin, source)
    return {"class_name": name, "config": cfg}


def _layer_config(class_name, cfg, origin, source):
    for key, default in DROP_IF_DEFAULT.items():
        if key in cfg:
            value = cfg.pop(key)
            if default is not None and value not in (default, None):
                raise ConfigError(
                    f"{source}: layer '{cfg.get('name')}' ({class_name}) has {key}={value!r}, "
                    f"which Keras 3 and rnnkit do not support (only {key}={default!r}). "
                    "Re-save the model from Keras without it.")
    if class_name == "InputLayer":
        for old, new in KEY_RENAMES.items():
            if old in cfg:
                cfg[new] = cfg.pop(old)
        if cfg.get("sparse"):
            raise ConfigError(f"{source}: InputLayer '{cfg.get('name')}' is sparse, which "
                              "rnnkit does not support.")
        cfg.pop("sparse", None)
    if origin == "keras2":
        for key in ACTIVATION_KEYS:
            if isinstance(cfg.get(key), str) and cfg[key] in KERAS2_ACTIVATIONS:
                cfg[key] = KERAS2_ACTIVATIONS[cfg[key]]
    for key in NESTED_LAYER_KEYS:
        value = cfg.get(key)
        if isinstance(value, dict) and "class_name" in value:
            cfg[key] = translate(value, origin, source)
        elif isinstance(value, list):
            cfg[key] = [translate(v, origin, source) for v in value]
    if isinstance(cfg.get("cells"), list):
        cfg["cells"] = [translate(v, origin, source) for v in cfg["cells"]]
    return cfg


# --------------------------------------------------------------------------------------
# Functional graphs
# --------------------------------------------------------------------------------------


def _ref(triple, source):
    if not (isinstance(triple, (list, tuple)) and len(triple) >= 3
            and isinstance(triple[0], str)):
        raise ConfigError(f"{source}: malformed tensor reference {triple!r} in the model "
                          "graph (expected [layer_name, node_index, tensor_index]).")
    return {"__tensor__": [triple[0], int(triple[1]), int(triple[2])]}


def _k3_value(obj, source):
    """A Keras 3 call argument (with `__keras_tensor__` dicts) in rnnkit's encoding."""
    if isinstance(obj, list):
        return [_k3_value(v, source) for v in obj]
    if isinstance(obj, dict):
        cls = obj.get("class_name")
        if cls == "__keras_tensor__":
            return _ref((obj.get("config") or {}).get("keras_history"), source)
        if cls == "__tuple__":
            return {"__tuple__": [_k3_value(v, source)
                                  for v in (obj.get("config") or {}).get("value", [])]}
        return {"__dict__": {k: _k3_value(v, source) for k, v in obj.items()}}
    return obj


def _k2_value(obj, names, source):
    """A Keras 2 call kwarg (tensors are [layer_name, node, index] lists)."""
    if isinstance(obj, list):
        if len(obj) in (3, 4) and isinstance(obj[0], str) and obj[0] in names and \
                all(isinstance(v, int) for v in obj[1:3]):
            return _ref(obj, source)
        return [_k2_value(v, names, source) for v in obj]
    if isinstance(obj, dict):
        return {"__dict__": {k: _k2_value(v, names, source) for k, v in obj.items()}}
    return obj


def _inbound(nodes, names, source):
    out = []
    for node in nodes or []:
        if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
            out.append({"args": [_k3_value(a, source) for a in node.get("args", [])],
                        "kwargs": {k: _k3_value(v, source)
                                   for k, v in (node.get("kwargs") or {}).items()}})
        elif isinstance(node, list):  # Keras 2: [[name, node, index, kwargs], ...]
            tensors = [_ref(entry, source) for entry in node]
            kwargs = {}
            if node and len(node[0]) > 3 and isinstance(node[0][3], dict):
                kwargs = {k: _k2_value(v, names, source) for k, v in node[0][3].items()}
            out.append({"args": [tensors[0] if len(tensors) == 1 else tensors],
                        "kwargs": kwargs})
        else:
            raise ConfigError(f"{source}: malformed inbound node {str(node)[:80]!r}.")
    return out


def _io_refs(value, source):
    """Keras's input_layers/output_layers: one [name, 0, 0] or a list of them."""
    if isinstance(value, list) and value and isinstance(value[0], str):
        return _ref(value, source)
    if isinstance(value, dict):
        return {"__dict__": {k: _io_refs(v, source) for k, v in value.items()}}
    if isinstance(value, list):
        refs = [_ref(v, source) for v in value]
        return refs[0] if len(refs) == 1 else refs
    raise ConfigError(f"{source}: malformed model inputs/outputs {str(value)[:80]!r}.")


def _is_op(entry):
    """A Keras 3 operation node (`keras.ops` used on symbolic tensors, e.g. the mask
    arithmetic Keras records between `Masking` and the layers it feeds)."""
    module = entry.get("module")
    if module is None:  # legacy .h5 configs carry no module: operations have no
        cfg = entry.get("config")  # `trainable`, which every layer config (but Input) has
        return isinstance(cfg, dict) and "trainable" not in cfg \
            and entry.get("class_name") != "InputLayer"
    return module.startswith(("keras.src.ops", "keras.ops"))


def snake_case(name):
    """Keras's `to_snake_case` (how Keras 3 names the weight groups of a .keras file)."""
    import re

    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def weight_group_names(config):
    """{weight group name in a Keras 3 .keras file: layer name}. Keras names a model's
    layers there by class (`dense`, `dense_1`, ... in the model's layer order), not by
    their own names."""
    layers = (config.get("config") or {}).get("layers") or []
    out, seen = {}, {}
    for entry in layers:
        if not isinstance(entry, dict) or _is_op(entry) or \
                entry.get("class_name") == "InputLayer":
            continue
        key = snake_case(entry.get("class_name", ""))
        n = seen.get(key, 0)
        seen[key] = n + 1
        name = entry.get("name") or _layer_name(entry)
        out[key if n == 0 else f"{key}_{n}"] = name
    return out


def _refs_in(obj):
    if isinstance(obj, list):
        for v in obj:
            yield from _refs_in(v)
    elif isinstance(obj, dict):
        if "__tensor__" in obj:
            yield obj["__tensor__"][0]
        else:
            for v in obj.values():
                yield from _refs_in(v)


def _drop_mask_ops(layers, ops, source):
    """Keras 3 passes masks between layers as `mask=` tensors computed by operation nodes;
    rnnkit's graph propagates masks itself, so those kwargs and nodes are dropped. An
    operation feeding anything else cannot be rebuilt: a clear error names it."""
    for entry in layers:
        for node in entry["inbound_nodes"]:
            mask = node["kwargs"].get("mask")
            if mask is not None and set(_refs_in(mask)) <= ops | {None}:
                node["kwargs"].pop("mask")
            used = set(_refs_in(node)) & ops
            if used:
                raise ConfigError(
                    f"{source}: layer '{entry['name']}' takes the result of the operation "
                    f"'{sorted(used)[0]}' (a keras.ops call in the model graph), which rnnkit "
                    "cannot rebuild from a file. Wrap the computation in a layer.")
    return layers


def _functional(cfg, origin, source):
    names = {(e.get("name") or _layer_name(e)) for e in cfg["layers"] if isinstance(e, dict)}
    ops = {e.get("name") for e in cfg["layers"] if isinstance(e, dict) and _is_op(e)}
    layers = []
    for entry in cfg["layers"]:
        if isinstance(entry, dict) and _is_op(entry):
            continue
        spec = translate(entry, origin, source)
        name = entry.get("name") or spec["config"].get("name")
        layers.append({"class_name": spec["class_name"], "config": spec["config"],
                       "name": name,
                       "inbound_nodes": _inbound(entry.get("inbound_nodes"), names, source)})
    out = {"name": cfg.get("name"), "trainable": cfg.get("trainable", True),
           "layers": _drop_mask_ops(layers, ops, source),
           "input_layers": cfg.get("input_layers"), "output_layers": cfg.get("output_layers"),
           "inputs": _io_refs(cfg.get("input_layers"), source),
           "outputs": _io_refs(cfg.get("output_layers"), source)}
    if out["name"] is None:
        del out["name"]
    return out


# --------------------------------------------------------------------------------------
# Compile configs
# --------------------------------------------------------------------------------------


def _callable_spec(obj):
    """A Keras loss/metric entry in rnnkit's compile encoding."""
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, list):
        return [_callable_spec(v) for v in obj]
    if isinstance(obj, dict):
        if "class_name" in obj:
            cls = obj["class_name"]
            if cls == "function":
                return {"function": obj.get("config")}
            if cls == "__builtins__":
                return obj.get("config")
            cfg = dict(obj.get("config") or {})
            for k in ("reduction", "dtype"):
                cfg.pop(k, None)
            return {"class_name": cls, "config": cfg}
        return {"__dict__": {k: _callable_spec(v) for k, v in obj.items()}}
    return obj


def compile_spec(optimizer, loss, metrics, loss_weights=None):
    """rnnkit's compile spec from Keras's compile fields (None when there is no optimizer)."""
    if not isinstance(optimizer, dict) or "class_name" not in optimizer:
        return None
    opt_cfg = {k: v for k, v in (optimizer.get("config") or {}).items()
               if k not in KERAS2_OPTIMIZER_KEYS}
    cls = optimizer["class_name"]
    cls = cls.split(">", 1)[1] if cls.startswith("Custom>") else cls  # tf_keras .h5
    opt = {"class_name": cls, "config": opt_cfg}
    mets = metrics
    if isinstance(mets, list) and len(mets) == 1 and isinstance(mets[0], list):
        mets = mets[0]  # Keras 3 nests metrics per output
    return {"optimizer": opt, "loss": _callable_spec(loss),
            "metrics": _callable_spec(mets) or [], "loss_weights": loss_weights}
