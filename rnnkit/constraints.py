"""Weight constraints with Keras 3 names, defaults and formulas.

A constraint maps a weight tensor to a projected tensor of the same shape; layers
apply it after each optimizer step. Norms are taken along `axis` (default 0: for a
kernel of shape `(input_dim, units)`, each unit's incoming weight vector), and
Keras's epsilon 1e-7 is added to the norm in the denominator, outside the sqrt:
`w * desired / (1e-7 + norm)`.
"""

from __future__ import annotations


import jax.numpy as jnp

from rnnkit._objects import object_getter, object_serializers
from rnnkit.ops import convert_to_tensor as _tensor

EPSILON = 1e-7


def _norms(w, axis):
    """`sqrt(sum(w**2, axis, keepdims=True))`."""
    return jnp.sqrt(jnp.sum(jnp.square(w), axis=axis, keepdims=True))


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


class Constraint:
    """Base class: `__call__(w)` returns the projected weight (here: `w` unchanged)."""

    def __call__(self, w):
        return w

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        """Rebuilds a constraint from `get_config()` output."""
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MaxNorm(Constraint):
    """Caps the norm along `axis`: `w * clip(norm, 0, max_value) / (1e-7 + norm)`."""

    def __init__(self, max_value=2, axis=0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w):
        w = _tensor(w)
        norms = _norms(w, _axis(self.axis))
        desired = jnp.clip(norms, 0, self.max_value)
        return w.astype(norms.dtype) * (desired / (EPSILON + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """`max(w, 0)`: negative weights become zero."""

    def __call__(self, w):
        return jnp.maximum(_tensor(w), 0)


class UnitNorm(Constraint):
    """Unit norm along `axis`: `w / (1e-7 + norm)`."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        w = _tensor(w)
        norms = _norms(w, _axis(self.axis))
        return w.astype(norms.dtype) / (EPSILON + norms)

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves the norm along `axis` into `[min_value, max_value]` at speed `rate`.

    `desired = rate * clip(norm, min_value, max_value) + (1 - rate) * norm`,
    result `w * desired / (1e-7 + norm)`; `rate=1` enforces the bounds strictly.
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w):
        w = _tensor(w)
        norms = _norms(w, _axis(self.axis))
        desired = (
            self.rate * jnp.clip(norms, self.min_value, self.max_value)
            + (1 - self.rate) * norms
        )
        return w.astype(norms.dtype) * (desired / (EPSILON + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value,
                "rate": self.rate, "axis": self.axis}


# Lower-case aliases, as in `keras.constraints` (they are the classes).
max_norm, non_neg, unit_norm, min_max_norm = MaxNorm, NonNeg, UnitNorm, MinMaxNorm

_CLASSES = (Constraint, MaxNorm, NonNeg, UnitNorm, MinMaxNorm)
# Names `get` accepts (case-sensitive, like Keras): class names and snake_case names.
_BY_NAME = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update({"constraint": Constraint, "max_norm": MaxNorm, "non_neg": NonNeg,
                 "unit_norm": UnitNorm, "min_max_norm": MinMaxNorm})


serialize, deserialize = object_serializers(
    "constraint", Constraint, "rnnkit.constraints", "MaxNorm(3)", _BY_NAME)


get = object_getter('constraint', _BY_NAME, deserialize, example_name='max_norm',
                    instance_hint='a Constraint instance (e.g. MaxNorm(2.0))',
                    callable_hint='a callable `f(weight) -> weight`')
