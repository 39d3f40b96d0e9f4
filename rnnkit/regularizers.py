"""Weight regularizers with Keras 3 names, defaults and formulas.

A regularizer maps a weight tensor to a scalar penalty that is added to the loss:
`L1: l1 * sum(|w|)`, `L2: l2 * sum(w**2)` (no factor 1/2), `L1L2: both`.
The penalty has the weight's dtype. `l1`, `l2`, `l1_l2`, `orthogonal_regularizer` are
the classes themselves, as in Keras (`l1_l2(l1=0.001, l2=0.01)` works).
"""

from __future__ import annotations

import math
import numbers

import jax
import jax.numpy as jnp

from rnnkit._objects import object_getter, object_serializers
from rnnkit.ops import convert_to_tensor as _tensor

EPSILON = 1e-7


def _factor(value, name, default):
    """`value` (None -> `default`) checked to be a finite number >= 0, as a float."""
    value = default if value is None else value
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(
            f"Invalid value for argument `{name}`: expected a non-negative finite number. "
            f"Received: {name}={value!r}. Pass e.g. {name}=0.01 (0 disables the penalty)."
        )
    return float(value)


class Regularizer:
    """Base class: subclasses implement `__call__(w) -> scalar` and `get_config()`."""

    def __call__(self, x):
        return 0.0

    def get_config(self):
        raise NotImplementedError(
            f"{type(self).__name__} must implement `get_config()` to be serializable."
        )

    @classmethod
    def from_config(cls, config):
        """Rebuilds a regularizer from `get_config()` output."""
        return cls(**config)

    def __repr__(self):
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """`l1 * sum(|w|) + l2 * sum(w**2)`; a zero factor's term is skipped entirely."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(l1, "l1", 0.0)
        self.l2 = _factor(l2, "l2", 0.0)

    def __call__(self, x):
        x = _tensor(x)
        penalty = jnp.zeros((), x.dtype)
        if self.l1 != 0.0:
            penalty = penalty + jnp.asarray(self.l1, x.dtype) * jnp.sum(jnp.abs(x))
        if self.l2 != 0.0:
            penalty = penalty + jnp.asarray(self.l2, x.dtype) * jnp.sum(jnp.square(x))
        return penalty

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """`l1 * sum(|w|)`."""

    def __init__(self, l1=0.01):
        self.l1 = _factor(l1, "l1", 0.01)

    def __call__(self, x):
        x = _tensor(x)
        return jnp.asarray(self.l1, x.dtype) * jnp.sum(jnp.abs(x))

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """`l2 * sum(w**2)` (no factor 1/2)."""

    def __init__(self, l2=0.01):
        self.l2 = _factor(l2, "l2", 0.01)

    def __call__(self, x):
        x = _tensor(x)
        return jnp.asarray(self.l2, x.dtype) * jnp.sum(jnp.square(x))

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (or columns) of a 2-D weight towards mutual orthogonality.

    With `v_i` the L2-normalized rows (`mode="rows"`) or columns (`mode="columns"`),
    `v_i = w_i * min(1 / ||w_i||, 1 / 1e-7)`, and `n` vectors:
    `factor * 0.5 * sum_{i != j} |v_i . v_j| / (n * (n - 1) / 2)`.
    """

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _factor(factor, "factor", 0.01)
        if mode not in ("rows", "columns"):
            raise ValueError(
                f"Invalid `mode`: {mode!r}. Expected 'rows' or 'columns'."
            )
        self.mode = mode

    def __call__(self, x):
        x = _tensor(x)
        if x.ndim != 2:
            raise ValueError(
                "OrthogonalRegularizer expects a 2-D weight (a kernel matrix). "
                f"Received: shape={x.shape}."
            )
        v = x if self.mode == "rows" else x.T
        inv_norm = jax.lax.rsqrt(jnp.sum(jnp.square(v), axis=1, keepdims=True))
        inv_norm = jnp.minimum(inv_norm, 1.0 / EPSILON)
        v = v * inv_norm
        n = v.shape[0]
        off_diagonal = (v @ v.T) * (1.0 - jnp.eye(n, dtype=v.dtype))
        return self.factor * 0.5 * jnp.sum(jnp.abs(off_diagonal)) / (n * (n - 1.0) / 2.0)

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


# Lower-case aliases, as in `keras.regularizers` (they are the classes).
l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer

_CLASSES = (Regularizer, L1, L2, L1L2, OrthogonalRegularizer)
# Names `get` accepts: class names and Keras's snake_case names ("l1l2"), plus "l1_l2".
_BY_NAME = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update({"regularizer": Regularizer, "l1": L1, "l2": L2, "l1l2": L1L2,
                 "l1_l2": L1L2, "orthogonal_regularizer": OrthogonalRegularizer})


serialize, deserialize = object_serializers(
    "regularizer", Regularizer, "rnnkit.regularizers", "L2(0.01)", _BY_NAME)


get = object_getter('regularizer', _BY_NAME, deserialize, example_name='l2',
                    instance_hint='a Regularizer instance (e.g. L2(0.001))',
                    callable_hint='a callable `f(weight) -> scalar`')
