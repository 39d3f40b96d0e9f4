"""Per-sample Keras 3 loss functions in jax.numpy, and the shape helpers they share."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp

EPSILON = 1e-7  # keras.backend.epsilon()


# --------------------------------------------------------------------------------------
# Shape helpers
# --------------------------------------------------------------------------------------


def same_rank_shapes(s1, s2, expand_rank_1=True):
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
    s1, s2 = same_rank_shapes(x1.shape, x2.shape, expand_rank_1)
    return jnp.reshape(x1, s1), jnp.reshape(x2, s2)


def shapes_equal(a, b):
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


def fmt_shape(shape):
    return str(tuple(shape))


def _float(x, dtype=None):
    x = jnp.asarray(x)
    if dtype is not None:
        return x.astype(dtype)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)


def raise_sparse(yt, yp, name="sparse_categorical_crossentropy"):
    yt, yp = tuple(yt), tuple(yp)
    expected = fmt_shape(yp[:-1]) if yp else "(batch,)"
    msg = (f"{name} expects integer class ids of shape (batch,) or (batch, timesteps) "
           f"for predictions of shape (batch, classes) or (batch, timesteps, classes); "
           f"for y_pred of shape {fmt_shape(yp)} y_true should have shape {expected} "
           f"(or {fmt_shape(yp[:-1] + (1,))}). Received y_true of shape {fmt_shape(yt)}.")
    if shapes_equal(yt, yp):
        msg += " For one-hot targets use categorical_crossentropy."
    raise ValueError(msg)


def raise_categorical(yt, yp, name="categorical_crossentropy"):
    yt, yp = tuple(yt), tuple(yp)
    msg = (f"{name} expects one-hot targets with the same shape as y_pred, "
           f"(batch, classes) or (batch, timesteps, classes); received y_true of shape "
           f"{fmt_shape(yt)} for y_pred of shape {fmt_shape(yp)}.")
    if shapes_equal(yt, yp[:-1]) or shapes_equal(yt, yp[:-1] + (1,)):
        msg += " For integer class ids use sparse_categorical_crossentropy."
    raise ValueError(msg)


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
                         f"shape. Received: {fmt_shape(y_true.shape)} and {fmt_shape(y_pred.shape)}.")
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
        raise_categorical(y_true.shape, y_pred.shape)
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
        raise_sparse(y_true.shape, y_pred.shape)
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
