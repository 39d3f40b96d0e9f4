"""Keras 3 metrics: stateless functions and simple stateful accumulators.

Functions return one value per sample (per timestep for sequence targets):

    accuracy(y_true, y_pred)                    mean(y_true == y_pred, axis=-1)
    binary_accuracy(..., threshold=0.5)         mean(y_true == (y_pred > threshold), axis=-1)
    categorical_accuracy                        argmax(y_true, -1) == argmax(y_pred, -1)
    sparse_categorical_accuracy                 y_true == argmax(y_pred, -1)
    mean_squared_error / mse, mean_absolute_error / mae   as in rnnkit.losses

Stateful metrics (`Mean`, `Accuracy`, `BinaryAccuracy`, ...) reduce like the Keras
`Mean` metric: values are averaged per sample (over all non-batch axes), summed into
`total`, and `count` grows by the number of samples (or by the sum of the sample
weights). `result() = total / count`.

Inside a jitted train step use the pure parts of a metric object `m`:

    m.fn(y_true, y_pred)                      -> per-sample values, shape (batch,)
    m.batch_stats(y_true, y_pred, sample_weight=None) -> (total, count) scalars
    # outside jit, after the step:
    m.update_from_stats(total, count)

`get(identifier, loss=None)` resolves names the way `Model.compile(metrics=...)` does,
including "accuracy" / "acc" (see `get`).
"""

from __future__ import annotations

import warnings

import jax.numpy as jnp

from rnnkit import losses as _losses
from rnnkit.losses import squeeze_or_expand_to_same_rank
from rnnkit.utils.names import to_snake_case

__all__ = [
    "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "mean_squared_error", "mean_absolute_error", "mse", "mae",
    "Metric", "Mean", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy",
    "CategoricalAccuracy", "SparseCategoricalAccuracy", "MeanSquaredError",
    "MeanAbsoluteError", "AutoAccuracy", "get",
]

_F32 = jnp.float32

mean_squared_error = mse = _losses.mean_squared_error
mean_absolute_error = mae = _losses.mean_absolute_error


# --------------------------------------------------------------------------------------
# Stateless metric functions
# --------------------------------------------------------------------------------------


def accuracy(y_true, y_pred):
    """`mean(y_true == y_pred, axis=-1)` (exact equality), float32."""
    y_pred = jnp.asarray(y_pred)
    y_true, y_pred = squeeze_or_expand_to_same_rank(
        jnp.asarray(y_true).astype(y_pred.dtype), y_pred)
    return jnp.mean((y_true == y_pred).astype(_F32), axis=-1)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """`mean(y_true == (y_pred > threshold), axis=-1)`, float32."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(jnp.asarray(y_true), jnp.asarray(y_pred))
    y_pred = (y_pred > jnp.asarray(threshold, y_pred.dtype)).astype(y_true.dtype)
    return jnp.mean((y_true == y_pred).astype(_F32), axis=-1)


def categorical_accuracy(y_true, y_pred):
    """`argmax(y_true, -1) == argmax(y_pred, -1)`; (batch, ..., k) -> (batch, ...)."""
    return (jnp.argmax(jnp.asarray(y_true), axis=-1)
            == jnp.argmax(jnp.asarray(y_pred), axis=-1)).astype(_F32)


def sparse_categorical_accuracy(y_true, y_pred):
    """`y_true == argmax(y_pred, -1)`; y_true (batch, [T]) or (batch, [T,] 1),
    y_pred (batch, [T,] classes) -> (batch, [T])."""
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = jnp.squeeze(y_true, axis=-1)
    matches = (y_true == jnp.argmax(y_pred, axis=-1).astype(y_true.dtype)).astype(_F32)
    if matches.ndim > 1 and matches.shape[-1] == 1:
        matches = jnp.squeeze(matches, axis=-1)
    return matches


def _accuracy_kind(y_true_shape, y_pred_shape):
    """Keras 3 `compile` rule for "accuracy": decided by the shapes only."""
    yt, yp = tuple(y_true_shape), tuple(y_pred_shape)
    if yp and yp[-1] == 1:
        return "binary"
    if len(yt) < len(yp) or (yt and yt[-1] == 1 and yp[-1] > 1):
        return "sparse_categorical"
    return "categorical"


_ACCURACY_FNS = {"binary": binary_accuracy, "categorical": categorical_accuracy,
                 "sparse_categorical": sparse_categorical_accuracy}


# --------------------------------------------------------------------------------------
# Reduction (keras/src/metrics/reduction_metrics.py semantics)
# --------------------------------------------------------------------------------------


def _mean_over(x, first_axis):
    return jnp.mean(x, axis=tuple(range(first_axis, x.ndim))) if x.ndim > first_axis else x


def per_sample(values):
    """Mean over every non-batch axis: (batch, ...) -> (batch,)."""
    return _mean_over(jnp.asarray(values).astype(_F32), 1)


def mean_stats(values, sample_weight=None, mask=None):
    """`(total, count)` that the Keras `Mean` metric adds for one batch (pure, jit-able).

    values (batch, ...); sample_weight broadcastable per sample, e.g. (batch,) or
    (batch, T); mask (e.g. Keras mask (batch, T)) multiplies the weights.
    """
    values = jnp.asarray(values).astype(_F32)
    weight = None if sample_weight is None else jnp.asarray(sample_weight).astype(_F32)
    if mask is not None:
        mask = jnp.asarray(mask).astype(_F32)
        if weight is None:
            weight = mask
        else:
            mask, weight = squeeze_or_expand_to_same_rank(mask, weight)
            if weight.ndim < mask.ndim:
                weight = jnp.reshape(weight, weight.shape + (1,) * (mask.ndim - weight.ndim))
            weight = weight * mask
    if weight is not None:
        values, weight = squeeze_or_expand_to_same_rank(values, weight)
        weight_ndim = weight.ndim
        values = _mean_over(values, weight_ndim)
        weight = jnp.broadcast_to(weight, values.shape)
        values = values * weight
        if weight_ndim > 1:
            weight = _mean_over(weight, 1)
    values = _mean_over(values, 1)
    total = jnp.sum(values)
    if weight is not None:
        count = jnp.sum(weight)
    else:
        count = jnp.asarray(values.shape[0] if values.ndim >= 1 else 1, _F32)
    return total, count


# --------------------------------------------------------------------------------------
# Stateful metrics
# --------------------------------------------------------------------------------------


class Metric:
    """Base class: `update_state(...)`, `result()`, `reset_state()`, `name`."""

    def __init__(self, name=None, dtype=None):
        self.name = name or to_snake_case(type(self).__name__)
        self.dtype = jnp.dtype(dtype or _F32)

    def update_state(self, *args, **kwargs):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def reset_state(self):
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        """Updates the state with one batch and returns the new result."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


class Mean(Metric):
    """Weighted mean of the values seen: `total / count` (float32 accumulators)."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def reset_state(self):
        self.total = jnp.zeros((), self.dtype)
        self.count = jnp.zeros((), self.dtype)

    def batch_stats(self, values, sample_weight=None, mask=None):
        """Pure `(total, count)` for one batch of values; see `mean_stats`."""
        return mean_stats(values, sample_weight, mask)

    def update_from_stats(self, total, count):
        """Adds `(total, count)` computed elsewhere (e.g. summed inside a jitted step)."""
        self.total = self.total + jnp.asarray(total, self.dtype)
        self.count = self.count + jnp.asarray(count, self.dtype)

    def update_state(self, values, sample_weight=None, mask=None):
        """Adds a batch. A scalar value with a Python number weight (Keras' epoch-loss
        tracking: `update_state(batch_loss, sample_weight=batch_size)`) adds
        `value * weight` to total and `weight` to count."""
        values = jnp.asarray(values)
        if values.ndim == 0 and isinstance(sample_weight, (int, float)) and mask is None:
            self.update_from_stats(values.astype(self.dtype) * sample_weight, sample_weight)
            return
        self.update_from_stats(*mean_stats(values, sample_weight, mask))

    def result(self):
        """`total / count` (0 when count is 0), float32 scalar."""
        return jnp.where(self.count != 0,
                         self.total / jnp.where(self.count != 0, self.count, 1), 0.0)


class MeanMetricWrapper(Mean):
    """Mean over samples of `fn(y_true, y_pred, **kwargs)`.

    `fn` may return values of shape (batch, ...); they are averaged per sample first.
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "metric"), dtype=dtype)
        self.metric_fn = fn
        self._fn_kwargs = kwargs

    def fn(self, y_true, y_pred):
        """Pure per-sample metric values, shape (batch,)."""
        return per_sample(self.metric_fn(y_true, y_pred, **self._fn_kwargs))

    def batch_stats(self, y_true, y_pred, sample_weight=None, mask=None):
        """Pure `(total, count)` this batch adds to the metric (jit-able)."""
        values = self.metric_fn(y_true, y_pred, **self._fn_kwargs)
        return mean_stats(values, sample_weight, mask)

    def update_state(self, y_true, y_pred, sample_weight=None, mask=None):
        self.update_from_stats(*self.batch_stats(y_true, y_pred, sample_weight, mask))


class Accuracy(MeanMetricWrapper):
    """How often `y_pred == y_true` exactly; see `accuracy`."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often `(y_pred > threshold) == y_true`; see `binary_accuracy`."""

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        if threshold is not None and not 0 < threshold < 1:
            raise ValueError("Invalid `threshold`: expected a value in (0, 1). "
                             f"Received: threshold={threshold}")
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


class CategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) matches argmax of one-hot y_true."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) equals the integer label y_true."""

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class MeanSquaredError(MeanMetricWrapper):
    """Mean of `mean_squared_error` over samples."""

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """Mean of `mean_absolute_error` over samples."""

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


class AutoAccuracy(MeanMetricWrapper):
    """The "accuracy" of `Model.compile`: binary, categorical or sparse categorical
    accuracy, chosen from the static shapes of y_true / y_pred at the first call with
    the Keras 3 rule:

        y_pred.shape[-1] == 1                                  -> binary_accuracy
        rank(y_true) < rank(y_pred), or y_true.shape[-1] == 1  -> sparse_categorical_accuracy
        otherwise                                              -> categorical_accuracy

    `kind` is the chosen variant ("binary", "categorical", "sparse_categorical"), or
    the guess made from `loss` before the first call (None without a loss).
    """

    def __init__(self, name="accuracy", dtype=None, loss=None, threshold=0.5):
        self.loss_kind = _kind_from_loss(loss)
        self.kind = self.loss_kind
        self._resolved = False
        self.threshold = threshold
        super().__init__(self._auto, name=name, dtype=dtype)

    def _auto(self, y_true, y_pred):
        y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
        kind = _accuracy_kind(y_true.shape, y_pred.shape)
        if not self._resolved:
            if self.loss_kind is not None and kind != self.loss_kind:
                warnings.warn(
                    f"Metric '{self.name}': the loss suggests {self.loss_kind}_accuracy but "
                    f"y_true {y_true.shape} / y_pred {y_pred.shape} give {kind}_accuracy; "
                    "using the latter, as Keras 3 does (it decides by shapes). Pass the "
                    "metric explicitly to choose.", stacklevel=3)
            self.kind, self._resolved = kind, True
        if kind == "binary":
            return binary_accuracy(y_true, y_pred, threshold=self.threshold)
        return _ACCURACY_FNS[kind](y_true, y_pred)


# --------------------------------------------------------------------------------------
# Lookup
# --------------------------------------------------------------------------------------

_CLASSES = {c.__name__: c for c in (Mean, Accuracy, BinaryAccuracy, CategoricalAccuracy,
                                    SparseCategoricalAccuracy, MeanSquaredError,
                                    MeanAbsoluteError)}
_NAMES = {**_CLASSES, **{to_snake_case(n): c for n, c in _CLASSES.items()},
          "mse": MeanSquaredError, "MSE": MeanSquaredError,
          "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError}
_LOSS_METRICS = {"binary_crossentropy": _losses.binary_crossentropy,
                 "categorical_crossentropy": _losses.categorical_crossentropy,
                 "sparse_categorical_crossentropy": _losses.sparse_categorical_crossentropy}
_LOSS_KINDS = {"binary_crossentropy": "binary", "bce": "binary",
               "categorical_crossentropy": "categorical",
               "sparse_categorical_crossentropy": "sparse_categorical"}


def _kind_from_loss(loss):
    """"binary" / "categorical" / "sparse_categorical" for crossentropy losses, else None."""
    if loss is None:
        return None
    if isinstance(loss, str):
        return _LOSS_KINDS.get(loss.lower())
    fn = getattr(loss, "fn", loss)
    return _LOSS_KINDS.get(getattr(fn, "__name__", ""))


def _valid_names():
    return ", ".join(["accuracy", "acc"] + sorted(_NAMES) + sorted(_LOSS_METRICS))


def get(identifier, loss=None, y_true_shape=None, y_pred_shape=None):
    """A Metric object for a name, Metric class/instance or function (as compile does).

    "accuracy" / "acc" (any case): with both shapes given, the Keras 3 rule picks
    BinaryAccuracy, SparseCategoricalAccuracy or CategoricalAccuracy right away;
    otherwise an `AutoAccuracy` applies the same rule at the first call. `loss` only
    provides the early guess `AutoAccuracy.kind` (sparse_categorical_crossentropy ->
    sparse, categorical_crossentropy -> categorical, binary_crossentropy -> binary).
    String metrics are named after the identifier ("acc", "mse"), like Keras' compile.
    None gives None.
    """
    if identifier is None or isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            if y_true_shape is not None and y_pred_shape is not None:
                kind = _accuracy_kind(y_true_shape, y_pred_shape)
                cls = {"binary": BinaryAccuracy, "categorical": CategoricalAccuracy,
                       "sparse_categorical": SparseCategoricalAccuracy}[kind]
                return cls(name=identifier)
            return AutoAccuracy(name=identifier, loss=loss)
        if identifier in _NAMES:
            return _NAMES[identifier](name=identifier)
        if identifier in _LOSS_METRICS:
            return MeanMetricWrapper(_LOSS_METRICS[identifier], name=identifier)
        raise ValueError(f"Unknown metric {identifier!r}. Valid names: {_valid_names()}; "
                         "or pass a Metric instance or a callable (y_true, y_pred) -> "
                         "per-sample values.")
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise ValueError(f"Could not interpret metric identifier {identifier!r} (type "
                     f"{type(identifier).__name__}). Pass one of: {_valid_names()}.")
