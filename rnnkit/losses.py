"""Keras 3 losses in jax.numpy (pure and jit-able).

Loss *functions* return one value per sample (and per timestep for sequence targets):

    mean_squared_error(y_true, y_pred)   mean((y_true - y_pred)^2, axis=-1)
    mean_absolute_error                   mean(|y_true - y_pred|, axis=-1)
    huber(..., delta=1.0)                 mean(0.5 e^2 if |e| <= delta else
                                               delta |e| - 0.5 delta^2, axis=-1)
    binary_crossentropy                   mean(bce, axis=-1)
    categorical_crossentropy              -sum(y_true * log(p), axis=-1)
    sparse_categorical_crossentropy       -log(p[y_true])

Shapes: y_pred `(batch, [timesteps,] k)` gives losses `(batch, [timesteps])`.
Probabilities (`from_logits=False`) are clipped to [1e-7, 1 - 1e-7] like Keras;
the categorical losses first divide `y_pred` by its sum over the last axis.

Loss *objects* (`MeanSquaredError()`, ...) apply the Keras reduction:
"sum_over_batch_size" (default) = sum of the (weighted) per-sample losses divided by
their number of elements, i.e. the mean over batch *and* timesteps.
`sample_weight` multiplies the per-sample losses (the divisor does not change).
`mask` (e.g. the Keras mask of a sequence output) drops timesteps: with the default
reduction the result is the mean over the unmasked entries.

`get(identifier)` returns a Loss object for a name, a class, a function or an instance.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "EPSILON", "Loss", "LossFunctionWrapper",
    "mean_squared_error", "mse", "MeanSquaredError",
    "mean_absolute_error", "mae", "MeanAbsoluteError",
    "huber", "Huber",
    "binary_crossentropy", "BinaryCrossentropy",
    "categorical_crossentropy", "CategoricalCrossentropy",
    "sparse_categorical_crossentropy", "SparseCategoricalCrossentropy",
    "get", "check_shapes", "squeeze_or_expand_to_same_rank",
]

EPSILON = 1e-7  # keras.backend.epsilon()
_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


# --------------------------------------------------------------------------------------
# Shape helpers
# --------------------------------------------------------------------------------------


def _same_rank_shapes(s1, s2, expand_rank_1=True):
    """Shape-level version of `squeeze_or_expand_to_same_rank`."""
    s1, s2 = tuple(s1), tuple(s2)
    if len(s1) == len(s2) + 1 and s1[-1] == 1:
        if len(s2) == 1 and expand_rank_1:
            s2 = s2 + (1,)
        else:
            s1 = s1[:-1]
    elif len(s2) == len(s1) + 1 and s2[-1] == 1:
        if len(s1) == 1 and expand_rank_1:
            s1 = s1 + (1,)
        else:
            s2 = s2[:-1]
    return s1, s2


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1=True):
    """Keras rule: when ranks differ by one and the longer shape ends in 1, squeeze it
    (or expand the rank-1 one). Otherwise returns the inputs unchanged."""
    s1, s2 = _same_rank_shapes(x1.shape, x2.shape, expand_rank_1)
    return jnp.reshape(x1, s1), jnp.reshape(x2, s2)


def _shapes_equal(a, b):
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


def _fmt(shape):
    return str(tuple(shape))


def _float(x, dtype=None):
    x = jnp.asarray(x)
    if dtype is not None:
        return x.astype(dtype)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)


# --------------------------------------------------------------------------------------
# Per-sample loss functions
# --------------------------------------------------------------------------------------


def mean_squared_error(y_true, y_pred):
    """`mean(square(y_true - y_pred), axis=-1)`; (batch, ..., k) -> (batch, ...)."""
    y_pred = _float(y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(_float(y_true, y_pred.dtype), y_pred)
    return jnp.mean(jnp.square(y_true - y_pred), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """`mean(abs(y_true - y_pred), axis=-1)`; (batch, ..., k) -> (batch, ...)."""
    y_pred = _float(y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(_float(y_true, y_pred.dtype), y_pred)
    return jnp.mean(jnp.abs(y_true - y_pred), axis=-1)


def huber(y_true, y_pred, delta=1.0):
    """`mean(0.5 e^2 if |e| <= delta else delta |e| - 0.5 delta^2, axis=-1)`,
    `e = y_pred - y_true`; (batch, ..., k) -> (batch, ...)."""
    y_pred = _float(y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(_float(y_true, y_pred.dtype), y_pred)
    delta = jnp.asarray(delta, y_pred.dtype)
    error = y_pred - y_true
    abs_error = jnp.abs(error)
    half = jnp.asarray(0.5, y_pred.dtype)
    return jnp.mean(jnp.where(abs_error <= delta, half * jnp.square(error),
                              delta * abs_error - half * jnp.square(delta)), axis=-1)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Mean over `axis` of `-(y log p + (1 - y) log(1 - p))`.

    Probabilities are clipped to [1e-7, 1 - 1e-7]; with `from_logits` the stable
    `log_sigmoid` form is used. Label smoothing: `y = y (1 - ls) + 0.5 ls`.
    (batch, ..., k) -> (batch, ...).
    """
    y_pred = _float(y_pred)
    y_true = _float(y_true, y_pred.dtype)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if y_true.shape != y_pred.shape:
        raise ValueError(f"binary_crossentropy: y_true and y_pred must have the same "
                         f"shape. Received: {_fmt(y_true.shape)} and {_fmt(y_pred.shape)}.")
    if from_logits:
        bce = (-1.0 * y_true * jax.nn.log_sigmoid(y_pred)
               - (1.0 - y_true) * jax.nn.log_sigmoid(-y_pred))
    else:
        p = jnp.clip(y_pred, EPSILON, 1.0 - EPSILON)
        bce = -(y_true * jnp.log(p) + (1.0 - y_true) * jnp.log(1.0 - p))
    return jnp.mean(bce, axis=axis)


def _log_probs(y_pred, from_logits, axis):
    if from_logits:
        return jax.nn.log_softmax(y_pred, axis=axis)
    p = y_pred / jnp.sum(y_pred, axis=axis, keepdims=True)
    return jnp.log(jnp.clip(p, EPSILON, 1.0 - EPSILON))


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0,
                             axis=-1):
    """`-sum(y_true * log(p), axis)` for one-hot (or soft) targets of y_pred's shape.

    `p = clip(y_pred / sum(y_pred, axis), 1e-7, 1 - 1e-7)`, or `log_softmax` with
    `from_logits`. Label smoothing: `y = y (1 - ls) + ls / num_classes`.
    (batch, ..., classes) -> (batch, ...).
    """
    y_pred = _float(y_pred)
    y_true = _float(y_true, y_pred.dtype)
    if y_true.shape != y_pred.shape:
        _raise_categorical(y_true.shape, y_pred.shape)
    if y_pred.shape[-1] == 1:
        warnings.warn(
            "categorical_crossentropy expects y_pred of shape (batch_size, num_classes) "
            f"with num_classes > 1. Received: y_pred.shape={y_pred.shape}. Use "
            "binary_crossentropy if you only have 2 classes.", stacklevel=2)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]
    return -jnp.sum(y_true * _log_probs(y_pred, from_logits, axis), axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    """`-log(p[y_true])` for integer class ids.

    y_true `(batch, [timesteps])` (a trailing axis of 1 is squeezed), y_pred
    `(batch, [timesteps,] classes)` -> `(batch, [timesteps])`. Entries whose id equals
    `ignore_class` get loss 0 (the Loss object also excludes them from the mean).
    """
    y_pred = _float(y_pred)
    y_true = jnp.asarray(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = jnp.squeeze(y_true, axis=-1)
    if y_true.shape != y_pred.shape[:-1]:
        _raise_sparse(y_true.shape, y_pred.shape)
    y_true = y_true.astype(jnp.int32)
    valid = None
    if ignore_class is not None:
        valid = y_true != ignore_class
        y_true = jnp.where(valid, y_true, 0)
    one_hot = jax.nn.one_hot(y_true, y_pred.shape[axis], axis=axis, dtype=y_pred.dtype)
    loss = -jnp.sum(one_hot * _log_probs(y_pred, from_logits, axis), axis=axis)
    if valid is not None:
        loss = jnp.where(valid, loss, 0.0)
    return loss


mse = mean_squared_error
mae = mean_absolute_error


# --------------------------------------------------------------------------------------
# Shape checks with helpful messages
# --------------------------------------------------------------------------------------


def _raise_sparse(yt, yp, name="sparse_categorical_crossentropy"):
    yt, yp = tuple(yt), tuple(yp)
    expected = _fmt(yp[:-1]) if yp else "(batch,)"
    msg = (f"{name} expects integer class ids of shape (batch,) or (batch, timesteps) "
           f"for predictions of shape (batch, classes) or (batch, timesteps, classes); "
           f"for y_pred of shape {_fmt(yp)} y_true should have shape {expected} "
           f"(or {_fmt(yp[:-1] + (1,))}). Received y_true of shape {_fmt(yt)}.")
    if _shapes_equal(yt, yp):
        msg += " For one-hot targets use categorical_crossentropy."
    raise ValueError(msg)


def _raise_categorical(yt, yp, name="categorical_crossentropy"):
    yt, yp = tuple(yt), tuple(yp)
    msg = (f"{name} expects one-hot targets with the same shape as y_pred, "
           f"(batch, classes) or (batch, timesteps, classes); received y_true of shape "
           f"{_fmt(yt)} for y_pred of shape {_fmt(yp)}.")
    if _shapes_equal(yt, yp[:-1]) or _shapes_equal(yt, yp[:-1] + (1,)):
        msg += " For integer class ids use sparse_categorical_crossentropy."
    raise ValueError(msg)


def _check_elementwise(name, yt, yp):
    a, b = _same_rank_shapes(yt, yp)
    if _shapes_equal(a, b):
        return
    msg = (f"{name} expects y_true and y_pred of the same shape, e.g. (batch, units) or "
           f"(batch, timesteps, units); received y_true of shape {_fmt(yt)} and y_pred "
           f"of shape {_fmt(yp)}.")
    if (name == "binary_crossentropy" and len(yt) == len(yp) - 1
            and yp[-1] not in (1, None)):
        msg += (" If y_true holds integer class ids for a softmax output, use "
                "sparse_categorical_crossentropy.")
    else:
        msg += f" Reshape y_true to {_fmt(yp)} or change the model's output shape."
    raise ValueError(msg)


def _check_sparse(name, yt, yp):
    yt, yp = tuple(yt), tuple(yp)
    if len(yp) < 1:
        raise ValueError(f"{name} needs y_pred of rank >= 1 (batch, classes); received "
                         f"y_pred of shape {_fmt(yp)}.")
    ids = yt[:-1] if len(yt) == len(yp) and yt and yt[-1] == 1 else yt
    if not _shapes_equal(ids, yp[:-1]):
        _raise_sparse(yt, yp, name)


def _check_class_ids(name, y_true, y_pred_shape, ignore_class=None, **_):
    """Sparse targets must be whole numbers in [0, classes) (or `ignore_class`): an id
    outside would silently score 0 (one_hot of it is all zeros)."""
    classes = y_pred_shape[-1] if y_pred_shape else None
    y = np.asarray(y_true)
    if classes is None or y.size == 0 or y.dtype.kind not in "iufb":
        return
    valid = np.ones(y.shape, bool) if ignore_class is None else y != ignore_class
    if y.dtype.kind == "f":
        whole = np.isfinite(y) & (np.floor(y) == y)
        if not whole[valid].all():
            bad = np.unique(y[valid & ~whole])
            raise ValueError(
                f"{name} expects whole-number class ids; y_true holds "
                f"{int((valid & ~whole).sum())} other value(s): "
                f"{', '.join(str(v) for v in bad[:5])}{' ...' if len(bad) > 5 else ''}. "
                "Pass integer labels (e.g. y.astype('int32')) after fixing these.")
    outside = valid & ((y < 0) | (y >= classes))
    if outside.any():
        bad, counts = np.unique(y[outside], return_counts=True)
        shown = ", ".join(f"{v:g} ({c} time{'s' if c > 1 else ''})"
                          for v, c in zip(bad[:5], counts[:5]))
        top = int(np.max(y[valid])) if valid.any() else classes
        raise ValueError(
            f"{name} expects class ids in [0, {classes}) for a model output with {classes} "
            f"classes; y_true holds {int(outside.sum())} of {y.size} ids outside it: {shown}"
            f"{' ...' if len(bad) > 5 else ''}. Fix the labels, or give the model "
            f"{top + 1} outputs (e.g. Dense({top + 1})) if the ids are right"
            + ("" if ignore_class is not None else
               ", or pass ignore_class=ID to the loss for a padding id") + ".")


def _check_categorical(name, yt, yp):
    if not _shapes_equal(tuple(yt), tuple(yp)):
        _raise_categorical(yt, yp, name)


_VALUE_CHECKS = {sparse_categorical_crossentropy: _check_class_ids}

_SHAPE_CHECKS = {
    mean_squared_error: _check_elementwise,
    mean_absolute_error: _check_elementwise,
    huber: _check_elementwise,
    binary_crossentropy: _check_elementwise,
    categorical_crossentropy: _check_categorical,
    sparse_categorical_crossentropy: _check_sparse,
}


# --------------------------------------------------------------------------------------
# Reduction (keras/src/losses/loss.py semantics)
# --------------------------------------------------------------------------------------


def _expand_right(w, ndim):
    return jnp.reshape(w, w.shape + (1,) * (ndim - w.ndim)) if w.ndim < ndim else w


def _apply_mask(sample_weight, mask, dtype, reduction):
    if mask is None:
        return sample_weight
    mask = jnp.asarray(mask).astype(dtype)
    if reduction in ("mean", "sum_over_batch_size"):
        valid = jnp.sum(mask)
        mask = mask * jnp.where(valid > 0, mask.size / jnp.where(valid > 0, valid, 1.0), 0.0)
    if sample_weight is None:
        return mask
    mask, sample_weight = squeeze_or_expand_to_same_rank(mask, sample_weight)
    ndim = max(mask.ndim, sample_weight.ndim)
    return _expand_right(sample_weight, ndim) * _expand_right(mask, ndim)


def reduce_weighted_values(values, sample_weight=None, mask=None,
                           reduction="sum_over_batch_size", dtype=jnp.float32):
    """Weights per-sample `values` and reduces them like Keras `Loss.__call__`.

    `sample_weight` of shape (batch,) also weights every timestep of (batch, T) values.
    """
    values = jnp.asarray(values).astype(dtype)
    weights = None if sample_weight is None else jnp.asarray(sample_weight).astype(dtype)
    weights = _apply_mask(weights, mask, dtype, reduction)
    if weights is not None:
        values, weights = squeeze_or_expand_to_same_rank(values, weights)
        values = values * _expand_right(weights, values.ndim)
    if reduction in (None, "none") or values.shape in ((), (0,)):
        return values
    loss = jnp.sum(values)
    if reduction == "sum":
        return loss
    if reduction == "mean_with_sample_weight" and weights is not None:
        total = jnp.sum(jnp.broadcast_to(_expand_right(weights, values.ndim), values.shape))
        return jnp.where(total != 0, loss / jnp.where(total != 0, total, 1.0), 0.0)
    return loss / values.size


# --------------------------------------------------------------------------------------
# Loss objects
# --------------------------------------------------------------------------------------


class Loss:
    """Base class. `loss(y_true, y_pred, sample_weight=None, mask=None)` -> reduced loss.

    Subclasses implement `call(y_true, y_pred)` returning per-sample losses and may
    override `check_shapes(y_true_shape, y_pred_shape)`.
    reduction: "sum_over_batch_size" (default), "sum", "mean",
    "mean_with_sample_weight", or None / "none" (no reduction).
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"Invalid `reduction`. Expected one of {list(_REDUCTIONS)}. "
                             f"Received: reduction={reduction!r}")
        self.name = name or _snake(type(self).__name__)
        self.reduction = reduction
        self.dtype = jnp.dtype(dtype or jnp.float32)

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def check_shapes(self, y_true_shape, y_pred_shape):
        """Raises ValueError if the target shape does not fit this loss (no-op here)."""

    def check_target_values(self, y_true, y_pred_shape):
        """Raises ValueError if the targets (a host array) hold values this loss cannot
        score, e.g. class ids outside the output's classes (no-op here). `fit` and
        `evaluate` call it once per call, before any step."""

    def _call_and_mask(self, y_true, y_pred):
        return self.call(y_true, y_pred), None

    def __call__(self, y_true, y_pred, sample_weight=None, mask=None):
        y_pred = jnp.asarray(y_pred).astype(self.dtype)
        y_true = jnp.asarray(y_true).astype(self.dtype)
        self.check_shapes(y_true.shape, y_pred.shape)
        values, out_mask = self._call_and_mask(y_true, y_pred)
        if out_mask is not None:
            mask = out_mask if mask is None else jnp.logical_and(
                jnp.asarray(mask, bool), out_mask)
        return reduce_weighted_values(values, sample_weight, mask, self.reduction,
                                      self.dtype)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


def _snake(name):
    out = "".join("_" + c.lower() if c.isupper() else c for c in name)
    return out.lstrip("_")


class LossFunctionWrapper(Loss):
    """A Loss from a per-sample function `fn(y_true, y_pred, **kwargs)`."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "loss"), reduction=reduction,
                         dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def check_shapes(self, y_true_shape, y_pred_shape):
        check = _SHAPE_CHECKS.get(self.fn)
        if check is not None:
            check(self.fn.__name__, tuple(y_true_shape), tuple(y_pred_shape))

    def check_target_values(self, y_true, y_pred_shape):
        check = _VALUE_CHECKS.get(self.fn)
        if check is not None:
            check(self.name, y_true, tuple(y_pred_shape), **self._fn_kwargs)

    def get_config(self):
        config = super().get_config()
        config.update({"fn": getattr(self.fn, "__name__", None), **self._fn_kwargs})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("fn"), str):
            config["fn"] = _function_by_name(config["fn"])
        return cls(**config)


class MeanSquaredError(LossFunctionWrapper):
    """Mean of squared errors; see `mean_squared_error`."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MeanAbsoluteError(LossFunctionWrapper):
    """Mean of absolute errors; see `mean_absolute_error`."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error",
                 dtype=None):
        super().__init__(mean_absolute_error, reduction=reduction, name=name, dtype=dtype)

    def get_config(self):
        return Loss.get_config(self)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Huber(LossFunctionWrapper):
    """Huber loss with threshold `delta`; see `huber`."""

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss",
                 dtype=None):
        super().__init__(huber, reduction=reduction, name=name, dtype=dtype, delta=delta)
        self.delta = delta

    def get_config(self):
        return {**Loss.get_config(self), "delta": self.delta}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class BinaryCrossentropy(LossFunctionWrapper):
    """Binary crossentropy; see `binary_crossentropy`. y_true and y_pred: same shape."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        super().__init__(binary_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis

    def get_config(self):
        return {**Loss.get_config(self), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class CategoricalCrossentropy(LossFunctionWrapper):
    """Categorical crossentropy for one-hot targets; see `categorical_crossentropy`."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy",
                 dtype=None):
        super().__init__(categorical_crossentropy, reduction=reduction, name=name,
                         dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis

    def get_config(self):
        return {**Loss.get_config(self), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Crossentropy for integer class ids; see `sparse_categorical_crossentropy`.

    With `ignore_class`, entries with that id are excluded: the default reduction
    averages over the remaining entries only.
    """

    def __init__(self, from_logits=False, ignore_class=None,
                 reduction="sum_over_batch_size", name="sparse_categorical_crossentropy",
                 dtype=None):
        super().__init__(sparse_categorical_crossentropy, reduction=reduction, name=name,
                         dtype=dtype, from_logits=from_logits, ignore_class=ignore_class)
        self.from_logits = from_logits
        self.ignore_class = ignore_class

    def _call_and_mask(self, y_true, y_pred):
        values = self.call(y_true, y_pred)
        if self.ignore_class is None:
            return values, None
        y_true, _ = squeeze_or_expand_to_same_rank(y_true, y_pred)
        if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
            y_true = jnp.squeeze(y_true, axis=-1)
        return values, jnp.reshape(y_true != self.ignore_class, values.shape)

    def get_config(self):
        return {**Loss.get_config(self), "from_logits": self.from_logits,
                "ignore_class": self.ignore_class}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


# --------------------------------------------------------------------------------------
# Lookup
# --------------------------------------------------------------------------------------

_FUNCTIONS = {f.__name__: f for f in (mean_squared_error, mean_absolute_error, huber,
                                      binary_crossentropy, categorical_crossentropy,
                                      sparse_categorical_crossentropy)}
_ALIASES = {"mse": mean_squared_error, "MSE": mean_squared_error,
            "mae": mean_absolute_error, "MAE": mean_absolute_error,
            "bce": binary_crossentropy, "BCE": binary_crossentropy}
_CLASSES = {c.__name__: c for c in (MeanSquaredError, MeanAbsoluteError, Huber,
                                    BinaryCrossentropy, CategoricalCrossentropy,
                                    SparseCategoricalCrossentropy)}


def _valid_names():
    short = {"mean_squared_error": "mse", "mean_absolute_error": "mae",
             "binary_crossentropy": "bce"}
    names = [f"{n} ({short[n]})" if n in short else n for n in _FUNCTIONS]
    return ", ".join(names) + "; classes: " + ", ".join(_CLASSES)


def _function_by_name(name):
    fn = _FUNCTIONS.get(name) or _ALIASES.get(name) or _FUNCTIONS.get(name.lower()) \
        or _ALIASES.get(name.lower())
    if fn is None:
        raise ValueError(f"Unknown loss {name!r}. Valid names: {_valid_names()}; or pass "
                         "a Loss instance or a callable (y_true, y_pred) -> per-sample loss.")
    return fn


def get(identifier):
    """A `Loss` object for a name, config dict, Loss class/instance or function.

    Function names and aliases ("mse", "mean_squared_error", "huber", ...) and plain
    callables are wrapped in `LossFunctionWrapper` named after the identifier (as
    `Model.compile` does), so the result always reduces like Keras. None gives None.
    """
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        return LossFunctionWrapper(_function_by_name(identifier), name=identifier)
    if isinstance(identifier, dict):
        cls = _CLASSES.get(identifier.get("class_name"))
        if cls is None:
            raise ValueError(f"Unknown loss class {identifier.get('class_name')!r}. "
                             f"Known classes: {', '.join(sorted(_CLASSES))}.")
        return cls.from_config(identifier.get("config", {}))
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise ValueError(f"Could not interpret loss identifier {identifier!r} (type "
                     f"{type(identifier).__name__}). Pass one of: {_valid_names()}; a Loss "
                     "instance; or a callable (y_true, y_pred) -> per-sample loss.")


def check_shapes(loss, y_true_shape, y_pred_shape):
    """`get(loss).check_shapes(y_true_shape, y_pred_shape)`: raises a ValueError that
    says which target shape the loss expects."""
    get(loss).check_shapes(tuple(y_true_shape), tuple(y_pred_shape))
