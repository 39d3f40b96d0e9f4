"""Weight arrays of a model: the manifest written to files, and assigning loaded arrays
(count and shapes checked first, so nothing is assigned when anything is off)."""

from __future__ import annotations

import numpy as np

def layer_owners(model):
    """id(variable) -> name of the model's top-level layer holding it."""
    out = {}
    layers = getattr(model, "layers", None) or []
    for layer in layers:
        for v in layer.variables:
            out.setdefault(id(v), layer.name)
    return out


def manifest(variables, owners):
    return [{"index": i, "path": v.path, "layer": owners.get(id(v)),
             "shape": list(v.shape), "dtype": np.dtype(v.dtype).name}
            for i, v in enumerate(variables)]


def weight_arrays(model, with_state):
    weights = list(model.weights)
    arrays = {f"{i:05d}/{v.path}": np.asarray(v.numpy()) for i, v in enumerate(weights)}
    state = []
    if with_state:
        ids = {id(v) for v in weights}
        state = [v for v in model.variables if id(v) not in ids]
        for i, v in enumerate(state):
            arrays[f"state/{i:05d}/{v.path}"] = np.asarray(v.numpy())
    owners = layer_owners(model)
    return arrays, manifest(weights, owners), manifest(state, owners)


def split_npz(npz, source):
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


def short(items, limit=12):
    return items if len(items) <= limit else items[:limit] + [f"... ({len(items) - limit} more)"]


def assign_weights(model, saved, source):
    """Checks count and shapes of `saved` [(key, array)] against `model.weights`, then
    assigns them all (nothing is assigned if any check fails)."""
    params = list(model.weights)
    owners = layer_owners(model)

    def describe(v):
        owner = owners.get(id(v))
        return f"'{v.path}'" + (f" (layer '{owner}')" if owner else "")

    if len(saved) != len(params):
        if not params and not model.built:
            raise ValueError(
                f"Cannot load weights from {source} into model '{model.name}': the model is "
                "not built yet, so it has no weights. Build it first (start it with "
                "rnnkit.Input(shape=...), or call it on a batch of data).")
        model_desc = short([f"{v.path} {tuple(v.shape)}" for v in params])
        file_desc = short([f"{k} {tuple(a.shape)}" for k, a in saved])
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


def assign_state(model, saved):
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




def flatten_by_layer(model, by_layer, source):
    """The file's arrays in `model.weights` order, from `{layer name: [(key, array)]}` (a
    foreign file's weights, grouped by the top-level layer that holds them)."""
    flat = []
    used = set()
    for layer in model.layers:
        n = len(layer.weights)
        if not n:
            continue
        arrays = by_layer.get(layer.name)
        if arrays is None:
            raise ValueError(
                f"Cannot load weights from {source}: the model's layer '{layer.name}' has "
                f"{n} weight arrays, but the file has no weights for a layer of that name "
                f"(it has weights for {sorted(k for k, v in by_layer.items() if v)}). The "
                "file is incomplete or its weights do not belong to this architecture.")
        if len(arrays) != n:
            raise ValueError(
                f"Cannot load weights from {source}: layer '{layer.name}' has {n} weight "
                f"arrays in the model but {len(arrays)} in the file "
                f"({short([f'{k} {tuple(a.shape)}' for k, a in arrays])}).")
        used.add(layer.name)
        flat.extend(arrays)
    extra = sorted(k for k, v in by_layer.items() if v and k not in used)
    if extra:
        raise ValueError(
            f"Cannot load weights from {source}: the file has weights for layer(s) {extra}, "
            "which the model built from its config does not have (or has without weights). "
            "The file is inconsistent.")
    return flat
