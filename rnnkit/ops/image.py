"""`keras.ops.image` in rnnkit: grayscale conversion and resizing; the rest is out of scope.

Images are channels_last (batch, height, width, channels) unless
`data_format="channels_first"`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rnnkit.ops._build import not_applicable, op, to_float

_GRAY = (0.2989, 0.5870, 0.1140)  # ITU-R 601 luma weights, as Keras uses


def _channels_last(images, data_format):
    images = to_float(images)
    return jnp.moveaxis(images, -3, -1) if data_format == "channels_first" else images


def _restore(images, data_format):
    return jnp.moveaxis(images, -1, -3) if data_format == "channels_first" else images


def _rgb_to_grayscale(images, data_format):
    x = _channels_last(images, data_format)
    gray = jnp.tensordot(x, jnp.asarray(_GRAY, x.dtype), axes=([-1], [0]))[..., None]
    return _restore(gray, data_format)


def _resize(images, size, interpolation, antialias, crop_to_aspect_ratio, pad_to_aspect_ratio,
            fill_mode, fill_value, data_format):
    if crop_to_aspect_ratio or pad_to_aspect_ratio:
        raise ValueError("resize: crop_to_aspect_ratio and pad_to_aspect_ratio are not "
                         "supported in rnnkit; crop or pad the images first.")
    methods = ("bilinear", "nearest", "bicubic", "lanczos3", "lanczos5")
    if interpolation not in methods:
        raise ValueError(f"resize: interpolation must be one of {methods}. "
                         f"Received: interpolation={interpolation!r}.")
    x = _channels_last(images, data_format)
    height, width = size
    shape = (*x.shape[:-3], height, width, x.shape[-1])
    out = jax.image.resize(x, shape, method=interpolation, antialias=antialias)
    return _restore(out, data_format)


rgb_to_grayscale = op("rgb_to_grayscale(images, data_format=None)", _rgb_to_grayscale,
                      doc="Luma `0.2989 R + 0.5870 G + 0.1140 B`, keeping a channel axis of 1.")
resize = op("resize(images, size, interpolation='bilinear', antialias=False, "
            "crop_to_aspect_ratio=False, pad_to_aspect_ratio=False, fill_mode='constant', "
            "fill_value=0.0, data_format=None)", _resize,
            doc="Images resized to `size = (height, width)` with `jax.image.resize`.")

_OUT_OF_SCOPE = ("image processing beyond grayscale and resize is outside an RNN library; "
                 "use jax.image / jax.scipy.ndimage on the arrays directly.")
_SIGNATURES = [
    "affine_transform(images, transform, interpolation='bilinear', fill_mode='constant', "
    "fill_value=0, data_format=None)",
    "crop_images(images, top_cropping=None, left_cropping=None, bottom_cropping=None, "
    "right_cropping=None, target_height=None, target_width=None, data_format=None)",
    "elastic_transform(images, alpha=20.0, sigma=5.0, interpolation='bilinear', "
    "fill_mode='reflect', fill_value=0.0, seed=None, data_format=None)",
    "extract_patches(images, size, strides=None, dilation_rate=1, padding='valid', "
    "data_format=None)",
    "extract_patches_3d(volumes, size, strides=None, dilation_rate=1, padding='valid', "
    "data_format=None)",
    "gaussian_blur(images, kernel_size=(3, 3), sigma=(1.0, 1.0), data_format=None)",
    "hsv_to_rgb(images, data_format=None)",
    "map_coordinates(inputs, coordinates, order, fill_mode='constant', fill_value=0)",
    "pad_images(images, top_padding=None, left_padding=None, bottom_padding=None, "
    "right_padding=None, target_height=None, target_width=None, data_format=None)",
    "perspective_transform(images, start_points, end_points, interpolation='bilinear', "
    "fill_value=0, data_format=None)",
    "rgb_to_hsv(images, data_format=None)",
    "scale_and_translate(images, output_shape, scale, translation, spatial_dims, method, "
    "antialias=True)",
    "sobel_edges(images, data_format=None)",
    "ssim(image1, image2, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03, "
    "data_format=None)",
]
for _sig in _SIGNATURES:
    _fn = not_applicable(_sig, _OUT_OF_SCOPE)
    globals()[_fn.__name__] = _fn
del _fn, _sig

__all__ = ["rgb_to_grayscale", "resize"] + [s.split("(")[0] for s in _SIGNATURES]
