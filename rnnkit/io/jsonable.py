"""Config values made JSON-safe, with errors naming the offending key."""

from __future__ import annotations

import jax
import numpy as np


def jsonable(obj, where, path="config"):
    """`obj` with numpy scalars/arrays and tuples converted; raises a clear error naming
    the offending key for anything JSON cannot hold."""
    if obj is None or isinstance(obj, (bool, str, int, float)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (list, tuple)):
        return [jsonable(v, where, f"{path}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise ValueError(f"Cannot save {where}: {path} has a non-string key {k!r}.")
            out[k] = jsonable(v, where, f"{path}[{k!r}]")
        return out
    if isinstance(obj, (np.ndarray, jax.Array)):
        return np.asarray(obj).tolist()
    raise ValueError(
        f"Cannot save {where}: {path} is a {type(obj).__name__} ({obj!r}), which cannot be "
        "written as JSON. get_config() must return only numbers, strings, booleans, None "
        "and lists/dicts of these (serialize objects, e.g. activations.serialize(fn)).")

