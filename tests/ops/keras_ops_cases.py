"""The recorded `keras.ops` cases: how their arguments are stored, and the callables they use.

Shared by `tools/make_ops_fixtures.py` (which runs each case on Keras 3.15.1 with the JAX
backend and records the outputs) and `tests/ops/test_keras_ops_coverage.py` (which runs the
same case on `rnnkit.ops` and compares). Arrays are stored in one .npz; everything else in
JSON, with these tags: {"$a": key} an array, {"$t": [...]} a tuple, {"$fn": name} one of the
callables below, {"$slice": [start, stop, step]}, {"$dtype": name}.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FIXTURE_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "keras_ops"


def callables(ops):
    """Named functions passed to control-flow ops (`scan`, `cond`, ...), written with `ops`."""
    return {
        "scan_step": lambda c, x: (c * 0.5 + x, ops.tanh(c + x)),
        "scan_noxs": lambda c, _: (c * 2.0, c),
        "assoc_add": lambda a, b: a + b,
        "assoc_affine": lambda a, b: (a[0] * b[0], a[1] * b[0] + b[1]),
        "ones_2": lambda: ops.ones((2,)),
        "zeros_2": lambda: ops.zeros((2,)),
        "fori_body": lambda i, v: v * 1.5 + i,
        "while_cond1": lambda x: ops.sum(x) < 50.0,
        "while_body1": lambda x: x * 2.0,
        "while_cond2": lambda x, y: ops.sum(x) < 10.0,
        "while_body2": lambda x, y: (x + 1.0, y * 2.0),
        "map_fn": lambda x: ops.sum(x * x),
        "plus1": lambda x: x + 1.0,
        "times2": lambda x: x * 2.0,
        "vmap_fn": lambda x: ops.sum(x) * x,
        "jvp_fn": lambda x: ops.sin(x) * x,
        "jvp_aux": lambda x: (ops.sin(x) * x, ops.cos(x)),
    }


def programs(ops, jax):
    """Cases that need more than one call (functions returned by an op, gradients)."""

    def custom_gradient(x):
        @ops.custom_gradient
        def log1pexp(x):
            e = ops.exp(x)

            def grad(*args, upstream=None):
                if upstream is None:
                    (upstream,) = args
                return ops.multiply(upstream, 1.0 - 1.0 / ops.add(1, e))

            return ops.log(1 + e), grad

        return log1pexp(x), jax.grad(lambda v: ops.sum(log1pexp(v)))(x)

    def stop_gradient(x):
        return jax.grad(lambda v: ops.sum(v * ops.stop_gradient(v)))(x)

    def vectorize(x, y):
        f = ops.vectorize(lambda a, b: a * b + 1.0)
        g = ops.vectorize(lambda v: ops.sum(v), signature="(n)->()")
        return f(x, y), g(x)

    def grad_through_scan(x):
        def loss(v):
            _, ys = ops.scan(lambda c, t: (c + t, c * t), ops.zeros(v.shape[1:]), v)
            return ops.sum(ys)
        return jax.grad(loss)(x)

    return {"custom_gradient": custom_gradient, "stop_gradient": stop_gradient,
            "vectorize": vectorize, "grad_through_scan": grad_through_scan}


def encode(value, arrays: dict, prefix: str):
    """JSON-able form of an argument; arrays go into `arrays` under a new key."""
    if isinstance(value, np.ndarray):
        key = f"{prefix}/a{len(arrays)}"
        arrays[key] = value
        return {"$a": key}
    if isinstance(value, tuple):
        return {"$t": [encode(v, arrays, prefix) for v in value]}
    if isinstance(value, list):
        return [encode(v, arrays, prefix) for v in value]
    if isinstance(value, dict):
        return {k: encode(v, arrays, prefix) for k, v in value.items()}
    if isinstance(value, slice):
        return {"$slice": [value.start, value.stop, value.step]}
    if isinstance(value, FnRef):
        return {"$fn": value.name}
    if isinstance(value, np.generic):
        return value.item()
    return value


class FnRef:
    """A reference to one of `callables()` by name, in a case's arguments."""

    def __init__(self, name):
        self.name = name


def decode(value, arrays, fns):
    """Inverse of `encode`, with `fns` the dict returned by `callables(ops)`."""
    if isinstance(value, list):
        return [decode(v, arrays, fns) for v in value]
    if isinstance(value, dict):
        if "$a" in value:
            return np.asarray(arrays[value["$a"]])
        if "$t" in value:
            return tuple(decode(v, arrays, fns) for v in value["$t"])
        if "$fn" in value:
            return fns[value["$fn"]]
        if "$slice" in value:
            return slice(*value["$slice"])
        return {k: decode(v, arrays, fns) for k, v in value.items()}
    return value
