"""Activation functions with Keras 3 names, defaults and formulas.

All are pure `jax.numpy`/`jax.nn` (the functions Keras's JAX backend calls), accept
arrays or rnnkit Variables, and let NaN/inf propagate as IEEE arithmetic does.

`get(identifier)` resolves None (-> `linear`), a name such as "tanh" (lower case, as
Keras accepts), a serialized dict, or any callable (returned unchanged).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rnnkit.ops import convert_to_tensor as _tensor


def linear(x):
    """Identity: `linear(x) = x` (the input is returned unchanged)."""
    return x


def tanh(x):
    """Hyperbolic tangent `(exp(x) - exp(-x)) / (exp(x) + exp(-x))`."""
    return jnp.tanh(_tensor(x))


def sigmoid(x):
    """Logistic sigmoid `1 / (1 + exp(-x))`."""
    return jax.nn.sigmoid(_tensor(x))


def hard_sigmoid(x):
    """Piecewise-linear sigmoid `relu6(x + 3) / 6`: 0 for x <= -3, 1 for x >= 3."""
    return jax.nn.hard_sigmoid(_tensor(x))


def keras2_hard_sigmoid(x):
    """Keras 2's `hard_sigmoid`: `clip(0.2 * x + 0.5, 0, 1)` (Keras 3's is `relu6(x + 3) /
    6`). Models loaded from Keras 2 files that use `hard_sigmoid` get this one."""
    return jnp.clip(0.2 * _tensor(x) + 0.5, 0.0, 1.0)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Rectified linear unit, with Keras's optional variants.

    Default: `max(x, 0)`. With options (as Keras 3 computes it):
    - `threshold`: values `x <= threshold` become 0 (`where(x > threshold, x, 0)`);
    - `max_value`: the result is clipped to `[0, max_value]`;
    - `negative_slope`: `negative_slope * min(x - threshold, 0)` is added
      (with only `negative_slope` set this is `leaky_relu`).
    """
    x = _tensor(x)
    if negative_slope != 0.0 and max_value is None and threshold == 0:
        return jax.nn.leaky_relu(x, negative_slope=negative_slope)
    if threshold != 0:
        y = jnp.where(x > jnp.asarray(threshold, x.dtype), x, 0)
    else:
        y = jax.nn.relu(x)
    if max_value is not None:
        y = jnp.clip(y, jnp.asarray(0, y.dtype), jnp.asarray(max_value, y.dtype))
    if negative_slope != 0.0:
        y = y - negative_slope * jax.nn.relu(threshold - x)
    return y


def relu6(x):
    """`min(max(x, 0), 6)`."""
    return jax.nn.relu6(_tensor(x))


def leaky_relu(x, negative_slope=0.2):
    """`x` for `x >= 0`, `negative_slope * x` otherwise."""
    return jax.nn.leaky_relu(_tensor(x), negative_slope=negative_slope)


def elu(x, alpha=1.0):
    """Exponential linear unit: `x` for `x > 0`, `alpha * (exp(x) - 1)` otherwise."""
    return jax.nn.elu(_tensor(x), alpha=alpha)


def selu(x):
    """Scaled ELU: `scale * elu(x, alpha)`, alpha=1.67326324, scale=1.05070098."""
    return jax.nn.selu(_tensor(x))


def gelu(x, approximate=False):
    """Gaussian error linear unit.

    Exact (default, as Keras): `0.5 * x * (1 + erf(x / sqrt(2)))`.
    `approximate=True`: `0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x**3)))`.
    """
    return jax.nn.gelu(_tensor(x), approximate=approximate)


def softmax(x, axis=-1):
    """`exp(x) / sum(exp(x), axis)`, computed stably (the max is subtracted first)."""
    return jax.nn.softmax(_tensor(x), axis=axis)


def log_softmax(x, axis=-1):
    """`x - log(sum(exp(x), axis))`, computed stably."""
    return jax.nn.log_softmax(_tensor(x), axis=axis)


def softplus(x):
    """`log(exp(x) + 1)`, computed stably as `logaddexp(x, 0)`."""
    return jax.nn.softplus(_tensor(x))


def softsign(x):
    """`x / (abs(x) + 1)`."""
    return jax.nn.soft_sign(_tensor(x))


def silu(x):
    """Swish / SiLU: `x * sigmoid(x)`."""
    return jax.nn.silu(_tensor(x))


def exponential(x):
    """`exp(x)`."""
    return jnp.exp(_tensor(x))


def mish(x):
    """`x * tanh(softplus(x))`."""
    x = _tensor(x)
    return x * jnp.tanh(jax.nn.softplus(x))


def hard_silu(x):
    """Hard swish / hard SiLU: `x * relu6(x + 3) / 6`."""
    return jax.nn.hard_silu(_tensor(x))


swish = silu
hard_swish = hard_silu

# Name -> function, as `keras.activations.get` knows them (aliases last).
_BY_NAME = {
    fn.__name__: fn
    for fn in (
        linear, tanh, sigmoid, hard_sigmoid, relu, relu6, leaky_relu, elu, selu, gelu,
        softmax, log_softmax, softplus, softsign, silu, exponential, mish, hard_silu,
        keras2_hard_sigmoid,
    )
}
_BY_NAME.update({"swish": silu, "hard_swish": hard_silu})


def _unknown(identifier) -> ValueError:
    return ValueError(
        f"Unknown activation {identifier!r}. Valid names: {', '.join(sorted(_BY_NAME))}; "
        "or pass a callable."
    )


def get(identifier):
    """The activation function for `identifier`.

    None -> `linear`; a name (e.g. "tanh", "swish"; exact lower-case spelling as in
    Keras) -> that function; a dict from `serialize` -> the named function; a
    callable -> itself. Anything else raises ValueError.
    """
    if identifier is None:
        return linear
    if isinstance(identifier, dict):
        name = identifier.get("config")
        if isinstance(name, str) and name in _BY_NAME:
            return _BY_NAME[name]
        raise ValueError(
            f"Cannot deserialize activation from {identifier!r}: its 'config' must be one "
            f"of the built-in names ({', '.join(sorted(_BY_NAME))}). For a custom "
            "activation, pass the function itself."
        )
    if isinstance(identifier, str):
        if identifier in _BY_NAME:
            return _BY_NAME[identifier]
        raise _unknown(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(
        f"Could not interpret activation {identifier!r} (of type "
        f"{type(identifier).__name__}). Expected None, a name such as 'tanh', or a callable."
    )


def serialize(activation):
    """The name of a built-in activation (aliases give the canonical name: swish -> "silu").

    Custom callables give a Keras-style dict `{"module", "class_name": "function",
    "config": name, "registered_name"}`; `get` cannot rebuild those from the dict alone.
    """
    for name, fn in _BY_NAME.items():
        if fn is activation:
            return name
    if callable(activation):
        name = getattr(activation, "__name__", type(activation).__name__)
        return {
            "module": getattr(activation, "__module__", None),
            "class_name": "function",
            "config": name,
            "registered_name": name,
        }
    raise ValueError(
        f"Cannot serialize activation {activation!r}: expected a callable (a built-in "
        "activation such as rnnkit.activations.tanh, or a custom function)."
    )


def deserialize(config):
    """Inverse of `serialize` for built-in activations (same as `get`)."""
    return get(config)
