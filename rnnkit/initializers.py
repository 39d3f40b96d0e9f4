"""Weight initializers with Keras 3 names, defaults, distributions and seeding.

Call signature: `init(shape, dtype="float32") -> jax array`.

Seeding follows Keras 3 (JAX backend) exactly:
- `seed=<int>`: every call uses the raw JAX key `[seed, 0]` (uint32), the key Keras
  builds from an integer seed, so the values equal Keras's for the same seed and the
  same values come back on every call (Keras does not warn about this).
- `seed=None`: at construction the initializer draws one default seed,
  `random.randint(1, 10**9)` from Python's `random` module (which
  `rnnkit.random.set_random_seed` seeds, as `keras.utils.set_random_seed` does), and
  then behaves as if given that seed. Distinct instances differ; one instance called
  twice repeats its values, as in Keras. `get_config()` still reports `seed: None`.
"""

from __future__ import annotations

import math
import numbers
import random as _py_random

import jax
import jax.numpy as jnp
import numpy as np

from rnnkit._objects import object_getter, object_serializers
from rnnkit.utils.names import to_snake_case

# Keras's std of a unit normal truncated to [-2, 2]; dividing by it restores the variance.
TRUNCATED_NORMAL_STDDEV = 0.87962566103423978


def _dtype(dtype):
    return jnp.dtype("float32" if dtype is None else dtype)


def _shape(shape):
    return (int(shape),) if isinstance(shape, numbers.Integral) else tuple(int(d) for d in shape)


class Initializer:
    """Base class: subclasses implement `__call__(shape, dtype=None)`."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError(
            f"{type(self).__name__} must implement `__call__(self, shape, dtype=None)`."
        )

    def get_config(self):
        """The constructor arguments as a JSON-serializable dict."""
        return {}

    @classmethod
    def from_config(cls, config):
        """Rebuilds an initializer from `get_config()` output."""
        return cls(**config)

    def clone(self):
        return self.__class__.from_config(self.get_config())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


# ---- constant initializers ----------------------------------------------------------


class Zeros(Initializer):
    """All zeros."""

    def __call__(self, shape, dtype=None):
        return jnp.zeros(_shape(shape), _dtype(dtype))


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape, dtype=None):
        return jnp.ones(_shape(shape), _dtype(dtype))


class Constant(Initializer):
    """Every entry equal to the scalar `value`."""

    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        dtype = _dtype(dtype)
        return jnp.asarray(self.value).astype(dtype) * jnp.ones(_shape(shape), dtype)

    def get_config(self):
        return {"value": self.value}


class Identity(Initializer):
    """`gain * eye(rows, cols)`; only for 2-D shapes (non-square allowed)."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        shape = _shape(shape)
        if len(shape) != 2:
            raise ValueError(
                "Identity initializer needs a 2-D shape (rows, cols). "
                f"Received: shape={shape} of rank {len(shape)}. "
                "Use it only for matrices, e.g. a recurrent kernel."
            )
        return self.gain * jnp.eye(*shape, dtype=_dtype(dtype))

    def get_config(self):
        return {"gain": self.gain}


# ---- random initializers ------------------------------------------------------------


def _check_seed(seed):
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool)):
        return seed
    raise ValueError(
        f"`seed` must be an integer or None. Received: seed={seed!r} (of type "
        f"{type(seed).__name__}). Pass e.g. seed=42, or None for a fresh default seed."
    )


def _key(seed):
    """The raw JAX PRNG key Keras makes from an int seed: uint32 `[seed, 0]`."""
    return jnp.asarray(np.array([int(seed) % 2**32, 0], dtype=np.uint32))


class RandomInitializer(Initializer):
    """Base of the random initializers: holds the seed (see module docstring)."""

    def __init__(self, seed=None):
        self._init_seed = _check_seed(seed)
        self.seed = int(seed) if seed is not None else _py_random.randint(1, int(1e9))

    def _key(self):
        return _key(self.seed)

    def get_config(self):
        return {"seed": self._init_seed}


def _normal(key, shape, dtype, mean, stddev):
    return jax.random.normal(key, shape, dtype) * stddev + mean


def _truncated_normal(key, shape, dtype, mean, stddev):
    """Normal values redrawn outside two standard deviations: in `mean +- 2 * stddev`."""
    return jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype) * stddev + mean


def _uniform(key, shape, dtype, minval, maxval):
    return jax.random.uniform(key, shape, dtype, minval=minval, maxval=maxval)


class RandomNormal(RandomInitializer):
    """Samples of `Normal(mean, stddev)`."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        return _normal(self._key(), _shape(shape), _dtype(dtype), self.mean, self.stddev)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomInitializer):
    """`Normal(mean, stddev)` truncated to `[mean - 2*stddev, mean + 2*stddev]`."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        shape, dtype = _shape(shape), _dtype(dtype)
        return _truncated_normal(self._key(), shape, dtype, self.mean, self.stddev)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class RandomUniform(RandomInitializer):
    """Samples of `Uniform[minval, maxval)`."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = minval
        self.maxval = maxval
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        shape, dtype = _shape(shape), _dtype(dtype)
        return _uniform(self._key(), shape, dtype, self.minval, self.maxval)

    def get_config(self):
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


def compute_fans(shape, input_axes=None, output_axes=None):
    """`(fan_in, fan_out)` of a weight shape, as Keras computes them.

    - rank 0: (1, 1); rank 1 `(n,)`: (n, n); rank 2 `(a, b)`: (a, b);
    - rank >= 3 (conv kernels `(*spatial, in, out)`): `(in * r, out * r)` with
      `r = prod(spatial)`;
    - with both `input_axes` and `output_axes`: products of those dimensions.
    """
    shape = _shape(shape)
    if input_axes is not None and output_axes is not None:
        return math.prod(shape[a] for a in input_axes), math.prod(shape[a] for a in output_axes)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class VarianceScaling(RandomInitializer):
    """Samples scaled to the weight's fans: variance `scale / n`.

    `n` is `fan_in`, `fan_out` or `(fan_in + fan_out) / 2` for `mode` "fan_in", "fan_out",
    "fan_avg" (each at least 1). `distribution`:
    - "truncated_normal" (alias "normal"): truncated to +-2 std with
      `stddev = sqrt(scale / n) / 0.87962566103423978`;
    - "untruncated_normal": `stddev = sqrt(scale / n)`;
    - "uniform": `Uniform[-limit, limit)`, `limit = sqrt(3 * scale / n)`.
    """

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):
        if not isinstance(scale, numbers.Real) or not scale > 0.0:
            raise ValueError(
                f"`scale` must be a positive number. Received: scale={scale!r}. "
                "Pass e.g. scale=1.0 (Glorot/Lecun) or scale=2.0 (He)."
            )
        if mode not in self._MODES:
            raise ValueError(
                f"Invalid `mode`: {mode!r}. Expected one of {', '.join(self._MODES)}."
            )
        dist = distribution.lower() if isinstance(distribution, str) else distribution
        dist = "truncated_normal" if dist == "normal" else dist
        if dist not in self._DISTRIBUTIONS:
            raise ValueError(
                f"Invalid `distribution`: {distribution!r}. Expected one of "
                f"{', '.join(self._DISTRIBUTIONS)} (or 'normal', meaning truncated_normal)."
            )
        self.scale, self.mode, self.distribution = scale, mode, dist
        self.input_axes, self.output_axes = input_axes, output_axes
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        shape, dtype = _shape(shape), _dtype(dtype)
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}
        scale = self.scale / max(1.0, n[self.mode])
        if self.distribution == "truncated_normal":
            stddev = math.sqrt(scale) / TRUNCATED_NORMAL_STDDEV
            return _truncated_normal(self._key(), shape, dtype, 0.0, stddev)
        if self.distribution == "untruncated_normal":
            return _normal(self._key(), shape, dtype, 0.0, math.sqrt(scale))
        limit = math.sqrt(3.0 * scale)
        return _uniform(self._key(), shape, dtype, -limit, limit)

    def get_config(self):
        return {
            **super().get_config(),
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "input_axes": self.input_axes,
            "output_axes": self.output_axes,
        }


class _FixedVarianceScaling(VarianceScaling):
    """A VarianceScaling preset; subclasses set `_PRESET = (scale, mode, distribution)`."""

    _PRESET = (1.0, "fan_in", "truncated_normal")

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        scale, mode, distribution = self._PRESET
        super().__init__(scale, mode, distribution, seed, input_axes, output_axes)

    def get_config(self):
        return {"seed": self._init_seed, "input_axes": self.input_axes,
                "output_axes": self.output_axes}


class GlorotUniform(_FixedVarianceScaling):
    """`Uniform[-limit, limit)` with `limit = sqrt(6 / (fan_in + fan_out))`."""

    _PRESET = (1.0, "fan_avg", "uniform")


class GlorotNormal(_FixedVarianceScaling):
    """Truncated normal (+-2 std) with `stddev = sqrt(2 / (fan_in + fan_out)) / 0.8796...`."""

    _PRESET = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_FixedVarianceScaling):
    """`Uniform[-limit, limit)` with `limit = sqrt(6 / fan_in)`."""

    _PRESET = (2.0, "fan_in", "uniform")


class HeNormal(_FixedVarianceScaling):
    """Truncated normal (+-2 std) with `stddev = sqrt(2 / fan_in) / 0.8796...`."""

    _PRESET = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_FixedVarianceScaling):
    """`Uniform[-limit, limit)` with `limit = sqrt(3 / fan_in)`."""

    _PRESET = (1.0, "fan_in", "uniform")


class LecunNormal(_FixedVarianceScaling):
    """Truncated normal (+-2 std) with `stddev = sqrt(1 / fan_in) / 0.8796...`."""

    _PRESET = (1.0, "fan_in", "truncated_normal")


class Orthogonal(RandomInitializer):
    """`gain` times a random orthogonal matrix (Keras's QR method).

    The shape is flattened to `(rows, cols) = (prod(shape[:-1]), shape[-1])`. A standard
    normal matrix `A` of shape `(max(rows, cols), min(rows, cols))` is drawn, `Q, R =
    qr(A)` (reduced), and `Q *= sign(diag(R))` makes the result uniformly distributed.
    `Q` is transposed when `rows < cols`, so the output has orthonormal columns
    (tall/square) or orthonormal rows (wide), then is reshaped to `shape`.
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = gain
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        shape, dtype = _shape(shape), _dtype(dtype)
        if len(shape) < 2:
            raise ValueError(
                "Orthogonal initializer needs a shape of rank >= 2. "
                f"Received: shape={shape} of rank {len(shape)}. "
                "For a vector, use e.g. RandomNormal or GlorotUniform instead."
            )
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = _normal(self._key(), (max(rows, cols), min(rows, cols)), dtype, 0.0, 1.0)
        q, r = jnp.linalg.qr(a)
        q = q * jnp.sign(jnp.diag(r))[None, :]
        if rows < cols:
            q = q.T
        return self.gain * jnp.reshape(q, shape)

    def get_config(self):
        return {**super().get_config(), "gain": self.gain}


# ---- lookup and serialization -------------------------------------------------------


_CLASSES = (Initializer, Zeros, Ones, Constant, Identity, RandomNormal, TruncatedNormal,
            RandomUniform, VarianceScaling, GlorotUniform, GlorotNormal, HeUniform, HeNormal,
            LecunUniform, LecunNormal, Orthogonal)
# Names `get` accepts (case-sensitive, like Keras): class names, snake_case, aliases.
_BY_NAME = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update({to_snake_case(cls.__name__): cls for cls in _CLASSES})
_BY_NAME.update({
    "uniform": RandomUniform, "normal": RandomNormal, "one": Ones, "zero": Zeros,
    "OrthogonalInitializer": Orthogonal, "IdentityInitializer": Identity,
})

# Lower-case function-style aliases, as in `keras.initializers` (they are the classes).
zeros, ones, constant, identity = Zeros, Ones, Constant, Identity
random_normal, truncated_normal, random_uniform = RandomNormal, TruncatedNormal, RandomUniform
variance_scaling, orthogonal = VarianceScaling, Orthogonal
glorot_uniform, glorot_normal = GlorotUniform, GlorotNormal
he_uniform, he_normal = HeUniform, HeNormal
lecun_uniform, lecun_normal = LecunUniform, LecunNormal


serialize, deserialize = object_serializers(
    "initializer", Initializer, "rnnkit.initializers", "GlorotUniform()", _BY_NAME)


get = object_getter('initializer', _BY_NAME, deserialize, example_name='glorot_uniform',
                    instance_hint='an Initializer instance',
                    callable_hint='a callable `f(shape, dtype)`')
