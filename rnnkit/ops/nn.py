"""`keras.ops.nn` on JAX: activations, normalization, losses, attention, convolution, pooling.

Activations delegate to `jax.nn`; convolutions and pooling to `jax.lax`. Shapes follow
Keras: `data_format=None` means channels_last, e.g. `conv` takes inputs (batch, *spatial,
channels) and a kernel (*kernel_size, in_channels / groups, filters).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from rnnkit.ops._build import FLOATX, op, to_float

EPSILON = 1e-7  # Keras's backend.epsilon(): clipping of probabilities, norm lower bounds

_SAME_IN_JAX_NN = {
    "relu": "relu", "relu6": "relu6", "sigmoid": "sigmoid", "softplus": "softplus",
    "softsign": "soft_sign", "silu": "silu", "swish": "silu", "log_sigmoid": "log_sigmoid",
    "hard_sigmoid": "hard_sigmoid", "hard_silu": "hard_silu", "hard_swish": "hard_silu",
    "selu": "selu", "sparse_plus": "sparse_plus", "sparse_sigmoid": "sparse_sigmoid",
    "hard_tanh": "hard_tanh",
}
for _name, _target in _SAME_IN_JAX_NN.items():
    globals()[_name] = op(f"{_name}(x)", getattr(jax.nn, _target))

elu = op("elu(x, alpha=1.0)", jax.nn.elu)
celu = op("celu(x, alpha=1.0)", jax.nn.celu)
gelu = op("gelu(x, approximate=True)", jax.nn.gelu)
glu = op("glu(x, axis=-1)", jax.nn.glu)
leaky_relu = op("leaky_relu(x, negative_slope=0.2)", jax.nn.leaky_relu)
squareplus = op("squareplus(x, b=4)", jax.nn.squareplus)
softmax = op("softmax(x, axis=-1)", jax.nn.softmax,
             doc="`exp(x) / sum(exp(x), axis)`, computed stably (max subtracted first).")
log_softmax = op("log_softmax(x, axis=-1)", jax.nn.log_softmax)
hard_shrink = op("hard_shrink(x, threshold=0.5)",
                 lambda x, t: jnp.where(jnp.abs(to_float(x)) > t, to_float(x), 0.0),
                 doc="`x` where `|x| > threshold`, else 0.")
soft_shrink = op("soft_shrink(x, threshold=0.5)",
                 lambda x, t: jnp.where(x > t, x - t, jnp.where(x < -t, x + t, jnp.zeros_like(x))),
                 doc="`x - threshold` above it, `x + threshold` below `-threshold`, else 0.")
tanh_shrink = op("tanh_shrink(x)", lambda x: x - jnp.tanh(x), doc="`x - tanh(x)`.")
threshold = op("threshold(x, threshold, default_value)",
               lambda x, t, d: jnp.where(x > t, x, d),
               doc="`x` where `x > threshold`, else `default_value`.")


def _sparsemax(x, axis):
    x = jnp.moveaxis(to_float(x), axis, -1)
    z = jnp.flip(jnp.sort(x, axis=-1), axis=-1)
    k = jnp.arange(1, x.shape[-1] + 1, dtype=x.dtype)
    cum = jnp.cumsum(z, axis=-1)
    support = (1 + k * z) > cum
    k_max = jnp.sum(support, axis=-1, keepdims=True)
    tau = (jnp.take_along_axis(cum, k_max - 1, axis=-1) - 1) / k_max.astype(x.dtype)
    return jnp.moveaxis(jnp.maximum(x - tau, 0), -1, axis)


sparsemax = op("sparsemax(x, axis=-1)", _sparsemax,
               doc="Euclidean projection of `x` onto the probability simplex along `axis`.")


# ---- encodings and normalization ----------------------------------------------------------
def _one_hot(x, num_classes, axis, dtype, sparse):
    if sparse:
        raise ValueError("one_hot: sparse=True is not supported; rnnkit arrays are dense.")
    return jax.nn.one_hot(x, num_classes, dtype=dtype or FLOATX, axis=axis)


one_hot = op("one_hot(x, num_classes, axis=-1, dtype=None, sparse=False)", _one_hot,
             doc="One-hot encoding of integer `x` along a new `axis` of size `num_classes`.\n\n"
                 "Negative or out-of-range indices give all-zero vectors. `dtype` defaults to "
                 "float32.")


def _multi_hot(inputs, num_classes, axis, dtype, sparse, **kwargs):
    num_classes = kwargs.pop("num_tokens", num_classes)
    if kwargs:
        raise TypeError(f"multi_hot: unexpected arguments {sorted(kwargs)}.")
    if num_classes is None:
        raise ValueError("multi_hot: `num_classes` is required.")
    inputs = jnp.asarray(inputs)
    hot = _one_hot(inputs.astype("int32"), num_classes, axis, dtype, sparse)
    return jnp.max(hot, axis=1 if inputs.ndim > 1 else 0)


multi_hot = op("multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, "
               "**kwargs)", _multi_hot,
               doc="Per row, 1 at every class that occurs in `inputs` (the max of `one_hot`).")


def _moments(x, axes, keepdims, synchronized):
    if synchronized:
        raise ValueError("moments: synchronized=True needs a distributed setup; rnnkit runs "
                         "on one process, so pass synchronized=False.")
    x = jnp.asarray(x)
    upcast = x.dtype in (jnp.float16, jnp.bfloat16)
    xf = x.astype("float32") if upcast else to_float(x)
    mean = jnp.mean(xf, axis=axes, keepdims=True)
    variance = jnp.mean(jnp.square(xf - jax.lax.stop_gradient(mean)), axis=axes, keepdims=True)
    if not keepdims:
        mean, variance = jnp.squeeze(mean, axes), jnp.squeeze(variance, axes)
    if upcast:
        mean, variance = mean.astype(x.dtype), variance.astype(x.dtype)
    return mean, variance


moments = op("moments(x, axes, keepdims=False, synchronized=False)", _moments)


def _batch_normalization(x, mean, variance, axis, offset, scale, epsilon):
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]

    def b(v):
        return None if v is None else jnp.reshape(v, shape)

    inv = jax.lax.rsqrt(b(variance) + epsilon)
    if scale is not None:
        inv = inv * b(scale)
    out = (x - b(mean)) * inv
    return out if offset is None else out + b(offset)


batch_normalization = op(
    "batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=0.001)",
    _batch_normalization)


def _layer_normalization(x, gamma, beta, axis, epsilon, **kwargs):
    if kwargs.pop("rms_scaling", False):
        return _rms_normalization(x, gamma, axis, epsilon)
    if kwargs:
        raise TypeError(f"layer_normalization: unexpected arguments {sorted(kwargs)}.")
    epsilon = EPSILON if epsilon is None else epsilon
    x, dtype = _compute_dtype(x)
    mean, var = _moments(x, axis, True, False)
    out = (x - mean) * jax.lax.rsqrt(var + epsilon)
    if gamma is not None:
        out = out * gamma
    return (out if beta is None else out + beta).astype(dtype)


def _compute_dtype(x):
    """`(x in at least float32, x's dtype)`: Keras normalizes in float32, returns x's dtype."""
    x = jnp.asarray(x)
    return x.astype(jnp.promote_types(x.dtype, "float32")), x.dtype


layer_normalization = op(
    "layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs)",
    _layer_normalization)


def _rms_normalization(x, scale, axis, epsilon):
    epsilon = EPSILON if epsilon is None else epsilon
    x, dtype = _compute_dtype(x)
    out = x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=axis, keepdims=True) + epsilon)
    return (out if scale is None else out * scale).astype(dtype)


rms_normalization = op("rms_normalization(x, scale=None, axis=-1, epsilon=None)",
                       _rms_normalization)


def _normalize(x, axis, order, epsilon):
    epsilon = EPSILON if epsilon is None else epsilon
    x = to_float(x)
    norm = jnp.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / jnp.maximum(norm, epsilon)


normalize = op("normalize(x, axis=-1, order=2, epsilon=None)", _normalize,
               doc="`x / max(norm(x, order, axis), epsilon)`.")


# ---- losses (element-wise or per-sample, not reduced) -------------------------------------
def _binary_crossentropy(target, output, from_logits):
    target, output = to_float(target), to_float(output)
    if from_logits:
        return -(target * jax.nn.log_sigmoid(output) + (1 - target) * jax.nn.log_sigmoid(-output))
    output = jnp.clip(output, EPSILON, 1 - EPSILON)
    return -(target * jnp.log(output) + (1 - target) * jnp.log(1 - output))


def _log_probs(output, from_logits, axis):
    output = to_float(output)
    if from_logits:
        return jax.nn.log_softmax(output, axis=axis)
    output = output / jnp.sum(output, axis=axis, keepdims=True)
    return jnp.log(jnp.clip(output, EPSILON, 1 - EPSILON))


def _categorical_crossentropy(target, output, from_logits, axis):
    return -jnp.sum(to_float(target) * _log_probs(output, from_logits, axis), axis=axis)


def _sparse_categorical_crossentropy(target, output, from_logits, axis):
    target, output = jnp.asarray(target), jnp.asarray(output)
    if target.ndim == output.ndim and target.shape[-1] == 1:
        target = jnp.squeeze(target, -1)
    hot = jax.nn.one_hot(target.astype("int32"), output.shape[axis], axis=axis,
                         dtype=output.dtype if jnp.issubdtype(output.dtype, jnp.floating)
                         else FLOATX)
    return -jnp.sum(hot * _log_probs(output, from_logits, axis), axis=axis)


binary_crossentropy = op("binary_crossentropy(target, output, from_logits=False)",
                         _binary_crossentropy)
categorical_crossentropy = op(
    "categorical_crossentropy(target, output, from_logits=False, axis=-1)",
    _categorical_crossentropy)
sparse_categorical_crossentropy = op(
    "sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1)",
    _sparse_categorical_crossentropy)
psnr = op("psnr(x1, x2, max_val)",
          lambda x1, x2, m: 20 * jnp.log10(m) - 10 * jnp.log10(jnp.mean(jnp.square(x1 - x2))),
          doc="Peak signal-to-noise ratio in dB: `20 log10(max_val) - 10 log10(mse)`.")
polar = op("polar(abs_, angle)",
           lambda r, a: jax.lax.complex(r * jnp.cos(a), r * jnp.sin(a)),
           doc="The complex number with magnitude `abs_` and phase `angle`.")


def _ctc_loss(target, output, target_length, output_length, mask_index):
    target, output = jnp.asarray(target), to_float(output)
    t_steps, l_steps = output.shape[1], target.shape[1]
    logit_pad = (jnp.arange(t_steps)[None, :] >= jnp.asarray(output_length)[:, None])
    label_pad = (jnp.arange(l_steps)[None, :] >= jnp.asarray(target_length)[:, None])
    return optax.ctc_loss(output, logit_pad.astype(output.dtype), target.astype("int32"),
                          label_pad.astype(output.dtype), blank_id=mask_index)


ctc_loss = op("ctc_loss(target, output, target_length, output_length, mask_index=0)",
              _ctc_loss, doc="CTC loss per sequence; `output` holds logits (batch, time, classes).")

from rnnkit.ops._nn_conv import *  # noqa: E402,F401,F403  (convolution, pooling, attention)
from rnnkit.ops._nn_conv import __all__ as _conv_names  # noqa: E402

def _ctc_greedy(inputs, lengths, merge_repeated, mask_index):
    """Best class per step; steps past a sequence's length count as blank with score 0."""
    batch, steps, _ = inputs.shape
    past_end = jnp.arange(steps)[None, :] >= jnp.asarray(lengths, "int32")[:, None]
    best = jnp.where(past_end, mask_index, jnp.argmax(inputs, axis=-1))
    score = jnp.where(past_end, 0.0, jnp.max(inputs, axis=-1))
    if merge_repeated:  # a step repeating the previous step's class adds nothing
        repeat = jnp.pad(best[:, 1:] == best[:, :-1], ((0, 0), (1, 0)))
        best = jnp.where(repeat, mask_index, best)
    blank = best == mask_index
    # labels first in time order, then the -1 padding (a stable sort on "is blank")
    order = jnp.argsort(blank, axis=-1, stable=True)
    decoded = jnp.take_along_axis(jnp.where(blank, -1, best), order, axis=-1)
    return decoded[None], -jnp.sum(score, axis=1, keepdims=True)


def _ctc_decode(inputs, sequence_lengths, strategy, beam_width, top_paths, merge_repeated,
                mask_index):
    if strategy == "beam_search":
        raise NotImplementedError("ctc_decode: strategy='beam_search' is not available in "
                                  "rnnkit; use strategy='greedy'.")
    if strategy != "greedy":
        raise ValueError(f"ctc_decode: strategy must be 'greedy' or 'beam_search'. "
                         f"Received: strategy={strategy!r}.")
    inputs = to_float(inputs)
    if mask_index is None:
        mask_index = inputs.shape[-1] - 1
    return _ctc_greedy(inputs, sequence_lengths, merge_repeated, mask_index)


ctc_decode = op(
    "ctc_decode(inputs, sequence_lengths, strategy='greedy', beam_width=100, top_paths=1, "
    "merge_repeated=True, mask_index=0)", _ctc_decode,
    doc="Greedy CTC decoding of (batch, time, classes) scores: `(decoded, scores)`, decoded "
        "of shape (1, batch, time) padded with -1, scores `-sum(max score per step)`.")

__all__ = (list(_SAME_IN_JAX_NN) + list(_conv_names) + """elu celu gelu glu leaky_relu
squareplus softmax log_softmax hard_shrink soft_shrink tanh_shrink threshold sparsemax one_hot
multi_hot moments batch_normalization layer_normalization rms_normalization normalize
binary_crossentropy categorical_crossentropy sparse_categorical_crossentropy psnr polar
ctc_loss ctc_decode""".split())
