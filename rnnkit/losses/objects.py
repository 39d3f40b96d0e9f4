"""Keras 3 loss objects: `Loss` (reduction, sample weights, masks) and the built-in classes."""

from __future__ import annotations

import jax.numpy as jnp

from rnnkit.losses.checks import SHAPE_CHECKS, VALUE_CHECKS
from rnnkit.losses.functions import (binary_crossentropy, categorical_crossentropy, huber,
                                     mean_absolute_error, mean_squared_error,
                                     sparse_categorical_crossentropy,
                                     squeeze_or_expand_to_same_rank)
from rnnkit.utils.names import to_snake_case

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


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
        self.name = name or to_snake_case(type(self).__name__)
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
        check = SHAPE_CHECKS.get(self.fn)
        if check is not None:
            check(self.fn.__name__, tuple(y_true_shape), tuple(y_pred_shape))

    def check_target_values(self, y_true, y_pred_shape):
        check = VALUE_CHECKS.get(self.fn)
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


class _BuiltinLoss(LossFunctionWrapper):
    """A built-in loss class: its config is `Loss`'s plus the constructor options named in
    `_options` (stored as attributes of the same names), and `cls(**config)` rebuilds it."""

    _options: tuple[str, ...] = ()

    def get_config(self):
        return {**Loss.get_config(self), **{k: getattr(self, k) for k in self._options}}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class MeanSquaredError(_BuiltinLoss):
    """Mean of squared errors; see `mean_squared_error`."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsoluteError(_BuiltinLoss):
    """Mean of absolute errors; see `mean_absolute_error`."""

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error",
                 dtype=None):
        super().__init__(mean_absolute_error, reduction=reduction, name=name, dtype=dtype)


class Huber(_BuiltinLoss):
    """Huber loss with threshold `delta`; see `huber`."""

    _options = ("delta",)

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss",
                 dtype=None):
        super().__init__(huber, reduction=reduction, name=name, dtype=dtype, delta=delta)
        self.delta = delta


class BinaryCrossentropy(_BuiltinLoss):
    """Binary crossentropy; see `binary_crossentropy`. y_true and y_pred: same shape."""

    _options = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        super().__init__(binary_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class CategoricalCrossentropy(_BuiltinLoss):
    """Categorical crossentropy for one-hot targets; see `categorical_crossentropy`."""

    _options = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy",
                 dtype=None):
        super().__init__(categorical_crossentropy, reduction=reduction, name=name,
                         dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class SparseCategoricalCrossentropy(_BuiltinLoss):
    """Crossentropy for integer class ids; see `sparse_categorical_crossentropy`.

    With `ignore_class`, entries with that id are excluded: the default reduction
    averages over the remaining entries only.
    """

    _options = ("from_logits", "ignore_class")

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
