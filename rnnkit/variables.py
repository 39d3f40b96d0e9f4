"""Variables and the stateless scope that lets layer code run inside `jax.jit`.

A `Variable` owns a concrete array between calls. While a compiled call is traced, a
`StatelessScope` maps each variable to the traced value passed into the compiled function,
so layer code written as `inputs @ self.kernel` reads the traced value, and `assign` records
the new value instead of mutating anything. After the call the recorded values are written
back. This is how user-written cells run as one compiled computation.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from rnnkit.distribution import distribution
from rnnkit.distribution.placement import place, variable_sharding
from rnnkit.distribution.processes import to_numpy

_local = threading.local()


def _scope_stack() -> list:
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


class StatelessScope:
    """Within the scope, variables read from `values` and record their assignments.

    Args:
        variables: the variables the values belong to.
        values: one array (or tracer) per variable, same order.
    """

    def __init__(self, variables, values):
        self._values = {id(v): x for v, x in zip(variables, values)}
        self.updates: dict[int, Any] = {}

    def read(self, var):
        if id(var) in self.updates:
            return self.updates[id(var)]
        return self._values.get(id(var), None)

    def write(self, var, value):
        self.updates[id(var)] = value

    def __enter__(self):
        _scope_stack().append(self)
        return self

    def __exit__(self, *exc):
        _scope_stack().pop()
        return False


def current_scope() -> StatelessScope | None:
    stack = _scope_stack()
    return stack[-1] if stack else None


class Variable:
    """A named, shaped array owned by a layer.

    Behaves like an array in arithmetic (`x @ v`, `v + 1`, `ops.matmul(x, v)`), so custom
    cells can use their weights directly. `value` is the current array; `assign` replaces it.
    """

    def __init__(self, value, *, name: str, trainable: bool = True, dtype=None,
                 regularizer=None, constraint=None, path: str | None = None):
        arr = jnp.asarray(value, dtype=dtype)
        self._value = arr
        self.name = name
        self.path = path or name
        self.trainable = bool(trainable)
        self.regularizer = regularizer
        self.constraint = constraint
        dist = distribution()
        if dist is not None:  # created under a distribution: placed by its layout
            self._value = place(arr, variable_sharding(dist, self))

    # --- value access -------------------------------------------------------------------
    @property
    def value(self):
        scope = current_scope()
        if scope is not None:
            for s in reversed(_scope_stack()):
                v = s.read(self)
                if v is not None:
                    return v
        return self._value

    def assign(self, new_value):
        new_value = jnp.asarray(new_value, dtype=self._value.dtype)
        if tuple(new_value.shape) != tuple(self._value.shape):
            raise ValueError(
                f"Variable '{self.path}' has shape {tuple(self._value.shape)}; "
                f"cannot assign a value of shape {tuple(new_value.shape)}."
            )
        scope = current_scope()
        if scope is not None:
            scope.write(self, new_value)
        else:
            self._value = new_value
        return self

    def numpy(self) -> np.ndarray:
        return to_numpy(self._value)

    @property
    def shape(self):
        return tuple(self._value.shape)

    @property
    def dtype(self):
        return self._value.dtype

    @property
    def ndim(self):
        return self._value.ndim

    def __repr__(self):
        return (f"<Variable path={self.path} shape={self.shape} dtype={self.dtype} "
                f"trainable={self.trainable}>")

    # --- array protocol -----------------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        return np.asarray(to_numpy(self.value), dtype=dtype)

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, idx):
        return self.value[idx]

    def __neg__(self):
        return -self.value

    def __pos__(self):
        return self.value


def _binary(name):
    def forward(self, other):
        return getattr(self.value, name)(_unwrap(other))
    return forward


for _op in ("add", "sub", "mul", "truediv", "floordiv", "pow", "matmul", "mod",
            "radd", "rsub", "rmul", "rtruediv", "rfloordiv", "rpow", "rmatmul", "rmod",
            "lt", "le", "gt", "ge"):
    setattr(Variable, f"__{_op}__", _binary(f"__{_op}__"))


def nonfinite(variables) -> list[str]:
    """The paths of the (floating-point) variables holding NaN or inf values."""
    bad = []
    for v in variables:
        value = v._value if isinstance(v, Variable) else v
        # jnp.issubdtype: bfloat16 counts as floating (NumPy sees an opaque kind "V")
        if jnp.issubdtype(value.dtype, jnp.inexact) and not bool(jnp.isfinite(value).all()):
            bad.append(getattr(v, "path", "?"))
    return bad


class NonFiniteWeightsError(ValueError):
    """A model's weights hold NaN or inf values (see `check_finite_weights`)."""


def check_finite_weights(model, what: str):
    """Raises NonFiniteWeightsError (a ValueError) naming the weights of `model` that hold
    NaN or inf values."""
    bad = nonfinite(model.weights)
    if bad:
        shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise NonFiniteWeightsError(
            f"{what}: {len(bad)} of the model's {len(model.weights)} weight arrays hold NaN "
            f"or inf values ({shown}), so every output would be meaningless. The training "
            "that produced them diverged: retrain with a smaller learning rate (or use "
            "rnnkit.callbacks.TerminateOnNaN to stop at the first non-finite loss).")


def user_line(err) -> str:
    """` (at FILE:LINE: `code`)` for the innermost frame of `err` outside rnnkit and JAX
    (the user's line that failed), or "" when there is none."""
    import os
    import traceback

    skip = (os.path.dirname(__file__), os.path.dirname(jax.__file__))
    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if not f.filename.startswith(skip) and f.line]
    if not frames:
        return ""
    f = frames[-1]
    return f" (at {os.path.basename(f.filename)}:{f.lineno}: `{f.line.strip()}`)"


def explain_misuse(err, owner) -> TypeError | None:
    """A TypeError saying what to write instead, when `err` (raised by the `call` of layer
    `owner`) comes from passing a Variable to a jax function; None otherwise.

    JAX 0.10 functions accept arrays only (`__jax_array__` is no longer honoured inside
    traces), so `jnp.exp(self.w)` cannot be made to work on a Variable itself.
    """
    msg = str(err)
    if (not isinstance(err, TypeError) or "rnnkit.variables.Variable" not in msg
            or getattr(err, "explains_variable_misuse", False)):
        return None
    from rnnkit import ops

    attrs = [a for a, v in vars(owner).items() if isinstance(v, Variable) and repr(v) in msg]
    attr = f"self.{attrs[0]}" if attrs else "self.w"
    where = user_line(err)
    # the call it was passed to, from the user's line when it shows it
    call = re.search(r"((?:jnp|numpy|lax|nn|np)\.)(\w+)\(([^()]*?)" + re.escape(attr) +
                     r"\b([^()]*)\)", where)
    mod, fn, before, after = call.groups() if call else ("jnp.", "exp", "", "")
    use_ops = (f"rnnkit.ops.{fn}({before}{attr}{after}) (rnnkit.ops has keras.ops's names "
               "and takes variables), or " if hasattr(ops, fn) else "")
    explained = TypeError(
        f"{type(owner).__name__} '{owner.name}'.call{where}: {msg}\nFix: {attr} is an rnnkit "
        "Variable, and jax.numpy/jax.lax functions take arrays only. Write "
        f"{use_ops}pass its array: {mod}{fn}({before}{attr}.value{after}). Operators such as "
        f"`inputs @ {attr}` work on variables as they are.")
    explained.explains_variable_misuse = True
    return explained


def _unwrap(x):
    return x.value if isinstance(x, Variable) else x


def unwrap(tree):
    """Replaces every Variable in `tree` by its current value."""
    return jax.tree_util.tree_map(_unwrap, tree, is_leaf=lambda v: isinstance(v, Variable))
