"""Convolution, pooling and attention of `keras.ops.nn`, on `jax.lax` and `jax.nn`.

Layouts are Keras's: channels_last inputs (batch, *spatial, channels) unless
`data_format="channels_first"`; kernels (*kernel_size, in_channels / groups, filters).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rnnkit.ops._build import not_applicable, op


def _tuple(value, n, what):
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) != n:
        raise ValueError(f"{what} must be an int or a tuple of {n} ints for {n} spatial "
                         f"dimensions. Received: {what}={value}.")
    return value


def _layout(inputs, data_format):
    """(spatial rank, lhs spec, channels_first?) of `inputs` for lax.conv_general_dilated."""
    rank = jnp.ndim(inputs) - 2
    if rank not in (1, 2, 3):
        raise ValueError("Expected inputs of rank 3, 4 or 5 (batch, *spatial, channels). "
                         f"Received: inputs.shape={jnp.shape(inputs)}.")
    spatial = "DHW"[3 - rank:]
    first = data_format == "channels_first"
    lhs = ("NC" + spatial) if first else ("N" + spatial + "C")
    return rank, lhs, first


def _padding(padding):
    if padding not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same'. Received: padding={padding!r}.")
    return padding.upper()


def _conv(inputs, kernel, strides, padding, data_format, dilation_rate, groups=None):
    rank, lhs, first = _layout(inputs, data_format)
    rhs = lhs.replace("N", "").replace("C", "") + "IO"
    channels = jnp.shape(inputs)[1 if first else -1]
    if groups is None:
        groups = channels // jnp.shape(kernel)[-2]
    return jax.lax.conv_general_dilated(
        inputs, kernel, _tuple(strides, rank, "strides"), _padding(padding),
        rhs_dilation=_tuple(dilation_rate, rank, "dilation_rate"),
        dimension_numbers=(lhs, rhs, lhs), feature_group_count=groups)


def _depthwise_conv(inputs, kernel, strides, padding, data_format, dilation_rate):
    kernel = jnp.asarray(kernel)
    *size, channels, multiplier = kernel.shape
    kernel = jnp.reshape(kernel, (*size, 1, channels * multiplier))
    return _conv(inputs, kernel, strides, padding, data_format, dilation_rate, groups=channels)


def _separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides, padding, data_format,
                    dilation_rate):
    depthwise = _depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format,
                                dilation_rate)
    return _conv(depthwise, pointwise_kernel, 1, "valid", data_format, 1)


conv = op("conv(inputs, kernel, strides=1, padding='valid', data_format=None, dilation_rate=1)",
          _conv)
depthwise_conv = op("depthwise_conv(inputs, kernel, strides=1, padding='valid', "
                    "data_format=None, dilation_rate=1)", _depthwise_conv)
separable_conv = op("separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, "
                    "padding='valid', data_format=None, dilation_rate=1)", _separable_conv)


def _window(inputs, pool_size, strides, data_format):
    rank, _, first = _layout(inputs, data_format)
    pool = _tuple(pool_size, rank, "pool_size")
    stride = pool if strides is None else _tuple(strides, rank, "strides")
    if first:
        return (1, 1) + pool, (1, 1) + stride
    return (1,) + pool + (1,), (1,) + stride + (1,)


def _max_pool(inputs, pool_size, strides, padding, data_format):
    window, stride = _window(inputs, pool_size, strides, data_format)
    return jax.lax.reduce_window(inputs, -jnp.inf, jax.lax.max, window, stride, _padding(padding))


def _average_pool(inputs, pool_size, strides, padding, data_format):
    window, stride = _window(inputs, pool_size, strides, data_format)
    pad = _padding(padding)
    total = jax.lax.reduce_window(inputs, 0.0, jax.lax.add, window, stride, pad)
    if pad == "VALID":
        return total / np.prod(window)
    # 'same': divide by the number of real (not padded) elements in each window
    count = jax.lax.reduce_window(jnp.ones(jnp.shape(inputs), total.dtype), 0.0, jax.lax.add,
                                  window, stride, pad)
    return total / count


max_pool = op("max_pool(inputs, pool_size, strides=None, padding='valid', data_format=None)",
              _max_pool)
average_pool = op("average_pool(inputs, pool_size, strides=None, padding='valid', "
                  "data_format=None)", _average_pool)


def _depth_to_space(x, block_size, data_format):
    x = jnp.asarray(x)
    if data_format == "channels_first":
        x = jnp.moveaxis(x, 1, -1)
    b, h, w, c = x.shape
    k = block_size
    out = jnp.reshape(x, (b, h, w, k, k, c // (k * k)))
    out = jnp.reshape(jnp.transpose(out, (0, 1, 3, 2, 4, 5)), (b, h * k, w * k, c // (k * k)))
    return jnp.moveaxis(out, -1, 1) if data_format == "channels_first" else out


def _space_to_depth(x, block_size, data_format):
    x = jnp.asarray(x)
    if data_format == "channels_first":
        x = jnp.moveaxis(x, 1, -1)
    b, h, w, c = x.shape
    k = block_size
    out = jnp.reshape(x, (b, h // k, k, w // k, k, c))
    out = jnp.reshape(jnp.transpose(out, (0, 1, 3, 2, 4, 5)), (b, h // k, w // k, k * k * c))
    return jnp.moveaxis(out, -1, 1) if data_format == "channels_first" else out


depth_to_space = op("depth_to_space(x, block_size, data_format='channels_last')",
                    _depth_to_space)
space_to_depth = op("space_to_depth(x, block_size, data_format='channels_last')",
                    _space_to_depth)


def _attention(query, key, value, bias, mask, scale, is_causal, flash_attention,
               attn_logits_soft_cap):
    if flash_attention:
        raise ValueError("dot_product_attention: flash_attention=True needs a GPU/TPU kernel "
                         "that rnnkit does not use; pass flash_attention=None or False.")
    if attn_logits_soft_cap is not None:
        raise ValueError("dot_product_attention: attn_logits_soft_cap is not supported; "
                         "pass attn_logits_soft_cap=None.")
    if mask is not None:
        mask = jnp.asarray(mask).astype(bool)
    return jax.nn.dot_product_attention(query, key, value, bias=bias, mask=mask, scale=scale,
                                        is_causal=is_causal)


dot_product_attention = op(
    "dot_product_attention(query, key, value, bias=None, mask=None, scale=None, "
    "is_causal=False, flash_attention=None, attn_logits_soft_cap=None)", _attention,
    doc="`softmax(query @ key^T * scale + bias, masked) @ value`; (batch, time, heads, dim).")

_IMAGE_ONLY = ("an image op outside what an RNN library provides; use `jax.lax` "
               "(e.g. `jax.lax.conv_transpose`, `jax.lax.reduce_window`) directly.")
conv_transpose = not_applicable(
    "conv_transpose(inputs, kernel, strides=1, padding='valid', output_padding=None, "
    "data_format=None, dilation_rate=1)", _IMAGE_ONLY)
adaptive_average_pool = not_applicable(
    "adaptive_average_pool(inputs, output_size, data_format=None)", _IMAGE_ONLY)
adaptive_max_pool = not_applicable("adaptive_max_pool(inputs, output_size, data_format=None)",
                                   _IMAGE_ONLY)
fold = not_applicable("fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1)",
                      _IMAGE_ONLY)
unfold = not_applicable("unfold(x, kernel_size, dilation=1, padding=0, stride=1)", _IMAGE_ONLY)

__all__ = ["conv", "depthwise_conv", "separable_conv", "max_pool", "average_pool",
           "depth_to_space", "space_to_depth", "dot_product_attention", "conv_transpose",
           "adaptive_average_pool", "adaptive_max_pool", "fold", "unfold"]
