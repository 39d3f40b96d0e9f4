"""Target-shape and class-id checks of the losses, with messages that name the fix."""

from __future__ import annotations

import numpy as np

from rnnkit.losses.functions import (binary_crossentropy, categorical_crossentropy, fmt_shape,
                                     huber, mean_absolute_error, mean_squared_error,
                                     raise_categorical, raise_sparse, same_rank_shapes,
                                     shapes_equal, sparse_categorical_crossentropy)



def _check_elementwise(name, yt, yp):
    a, b = same_rank_shapes(yt, yp)
    if shapes_equal(a, b):
        return
    msg = (f"{name} expects y_true and y_pred of the same shape, e.g. (batch, units) or "
           f"(batch, timesteps, units); received y_true of shape {fmt_shape(yt)} and y_pred "
           f"of shape {fmt_shape(yp)}.")
    if (name == "binary_crossentropy" and len(yt) == len(yp) - 1
            and yp[-1] not in (1, None)):
        msg += (" If y_true holds integer class ids for a softmax output, use "
                "sparse_categorical_crossentropy.")
    else:
        msg += f" Reshape y_true to {fmt_shape(yp)} or change the model's output shape."
    raise ValueError(msg)


def _check_sparse(name, yt, yp):
    yt, yp = tuple(yt), tuple(yp)
    if len(yp) < 1:
        raise ValueError(f"{name} needs y_pred of rank >= 1 (batch, classes); received "
                         f"y_pred of shape {fmt_shape(yp)}.")
    ids = yt[:-1] if len(yt) == len(yp) and yt and yt[-1] == 1 else yt
    if not shapes_equal(ids, yp[:-1]):
        raise_sparse(yt, yp, name)


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
    if not shapes_equal(tuple(yt), tuple(yp)):
        raise_categorical(yt, yp, name)


VALUE_CHECKS = {sparse_categorical_crossentropy: _check_class_ids}

SHAPE_CHECKS = {
    mean_squared_error: _check_elementwise,
    mean_absolute_error: _check_elementwise,
    huber: _check_elementwise,
    binary_crossentropy: _check_elementwise,
    categorical_crossentropy: _check_categorical,
    sparse_categorical_crossentropy: _check_sparse,
}
