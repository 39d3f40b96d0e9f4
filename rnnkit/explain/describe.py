"""A layer or a model explained as a dict: the shared steps around each layer's describer.

For one layer: resolve the input shape, build the layer for real (the counts come from the
built layer), call it on a symbolic input for the output shapes, run its describer, then list
the arguments that were set and what each changes.
"""

from __future__ import annotations

from rnnkit.explain import basic, conv_lstm, recurrent
from rnnkit.explain.effects import effect, fmt_value, set_arguments
from rnnkit.explain.formulas import prod
from rnnkit.explain.registry import Call, describer_for
from rnnkit.explain.spec import SpecError, normalize_shape, one_line, shape_str

__all__ = ["explain_layer", "explain_model"]

recurrent.register_all()
basic.register_all()
conv_lstm.register_all()


def _resolve_shape(layer, describer, input_shape, notes):
    shape = normalize_shape(input_shape)
    declared = getattr(layer, "_batch_input_shape", None)
    rank = describer.rank
    if shape is None and declared is not None:
        shape = tuple(declared)
        notes.append(f"input shape {shape_str(shape)} from the layer's input_shape argument")
    if shape is None:
        shape = describer.default_input
        layout = "BATCH,FEATURES" if rank == 2 else "BATCH,TIMESTEPS,FEATURES"
        notes.append(f"no input shape given: using the tutorials' input {shape_str(shape)}; "
                     f"pass --input {layout} (or input_shape=...)")
    if rank == 3 and len(shape) == 2:
        shape = (None,) + shape
    if rank == 2 and len(shape) == 3:
        notes.append(f"a cell runs ONE time step: using x_t of shape "
                     f"{shape_str((shape[0], shape[2]))} from {shape_str(shape)}; wrap it in "
                     "RNN(...) to run whole sequences")
        shape = (shape[0], shape[2])
    elif rank == 2 and len(shape) == 1:
        shape = (None,) + shape
    if rank is not None and len(shape) != rank:
        layout = "(batch, timesteps, features)" if rank == 3 else "(batch, features)"
        raise SpecError(f"{type(layer).__name__} expects an input of rank {rank} {layout}; "
                        f"received {shape_str(shape)}")
    return shape


def flat_tensors(out):
    from rnnkit.symbolic import tree_leaves

    return [t for t in tree_leaves(out) if t is not None]


def _build(layer, describer, shape):
    cls = type(layer).__name__
    try:
        if not layer.built:
            layer.build(tuple(shape))
            if describer.mark_built:
                layer.built = True
        return int(layer.count_params())
    except SpecError:
        raise
    except Exception as err:
        raise SpecError(f"cannot build {cls} for input {shape_str(shape)}: "
                        f"{one_line(err)}") from None


def _call_outputs(layer, describer, shape, node):
    from rnnkit.layers.input_layer import Input

    if node is not None:
        return flat_tensors(node.outputs)
    if describer.one_step:
        return None
    try:
        return flat_tensors(layer(Input(batch_shape=tuple(shape), dtype=describer.input_dtype)))
    except Exception as err:
        raise SpecError(f"{type(layer).__name__} cannot run on an input of shape "
                        f"{shape_str(shape)}: {one_line(err)}") from None


def explain_layer(layer, input_shape=None, node=None, notes=None) -> dict:
    """Dict explanation of one layer; `node` (from a model graph) gives the shapes."""
    describer = describer_for(layer)
    notes = list(notes or [])
    shape = input_shape if node is not None else _resolve_shape(layer, describer,
                                                                  input_shape, notes)
    info = {"kind": "layer", "class_name": type(layer).__name__, "name": layer.name,
            "spec": layer.__dict__.get("_explain_source"),
            "input_shape": list(shape) if shape is not None else None}
    info["params"] = _build(layer, describer, shape)
    info["trainable_params"] = int(sum(prod(w.shape) for w in layer.trainable_weights))
    call = Call(layer, shape, _call_outputs(layer, describer, shape, node), describer, info,
                notes)
    describer.describe(call)
    args = set_arguments(layer, describer)
    info["arguments"] = [{"name": k, "value": fmt_value(v),
                          "effect": effect(k, v, call.ctx, describer.effects)}
                         for k, v in args.items()]
    inner = args.get("layer")
    if describer.lists_wrapped_arguments and inner is not None:
        for k, v in set_arguments(inner, describer_for(inner)).items():
            info["arguments"].append({"name": f"layer.{k}", "value": fmt_value(v),
                                      "effect": effect(k, v, call.ctx, describer.effects)})
    info["notes"] = notes
    info["formula_matches"] = info.get("formula_value") == info["params"]
    return info


def _graph_node(model, layer):
    graph = getattr(model, "_graph", None)
    if graph is None:
        return None
    for node in graph.nodes:
        if node.layer is layer:
            return node
    return None


def explain_model(model, source=None) -> dict:
    from rnnkit.layers.input_layer import InputLayer

    layers = []
    for layer in model.layers:
        if isinstance(layer, InputLayer):
            continue
        node = _graph_node(model, layer)
        if node is None:
            raise SpecError(f"model '{model.name}' is not built yet: build it (call it on data "
                            "or start it with Input(shape=...)) before explaining it")
        ins = flat_tensors(node.args[0]) if node.args else node.inputs
        shape = tuple(ins[0].shape) if ins else None
        layers.append(explain_layer(layer, shape, node=node))
    total = int(model.count_params())
    data = {"kind": "model", "class_name": type(model).__name__, "name": model.name,
            "source": source, "params": total, "layers": layers,
            "formula": " + ".join(f"[{l['name']}]" for l in layers),
            "formula_value": sum(int(l.get("formula_value", l["params"])) for l in layers),
            "inputs": [list(t.shape) for t in (model.inputs or [])],
            "outputs": [list(t.shape) for t in (model.outputs or [])]}
    data["formula_matches"] = data["formula_value"] == total
    return data
