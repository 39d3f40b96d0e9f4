"""The math ops of `keras.ops` on JAX: special functions, segments, top-k, FFTs, einops.

Complex FFT inputs and outputs are `(real, imag)` pairs of float arrays, as in Keras.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.special as jss

from rnnkit.ops._build import not_applicable, op, to_float
from rnnkit.ops._einops import rearrange as _rearrange

erf = op("erf(x)", lambda x: jss.erf(to_float(x)), doc="The error function.")
erfc = op("erfc(x)", lambda x: jss.erfc(to_float(x)), doc="`1 - erf(x)`.")
erfinv = op("erfinv(x)", lambda x: jss.erfinv(to_float(x)), doc="The inverse error function.")
rsqrt = op("rsqrt(x)", lambda x: jax.lax.rsqrt(to_float(x)), doc="`1 / sqrt(x)`.")
logsumexp = op("logsumexp(x, axis=None, keepdims=False)",
               lambda x, axis, keepdims: jss.logsumexp(to_float(x), axis=axis, keepdims=keepdims),
               doc="`log(sum(exp(x), axis))`, computed stably.")
logdet = op("logdet(x)", lambda x: jnp.linalg.slogdet(to_float(x))[1],
            doc="`log(det(x))` of a positive definite `x`.")
cdist = op("cdist(x, y)",
           lambda x, y: jnp.sqrt(jnp.sum(jnp.square(
               to_float(x)[..., :, None, :] - to_float(y)[..., None, :, :]), axis=-1)),
           doc="Euclidean distances between the rows of `x` (…, P, M) and `y` (…, R, M).")

for _name in ("sum", "max", "min", "prod"):
    _f = getattr(jax.ops, f"segment_{_name}")
    globals()[f"segment_{_name}"] = op(
        f"segment_{_name}(data, segment_ids, num_segments=None, sorted=False)",
        lambda data, ids, num, srt, _f=_f: _f(data, ids, num, indices_are_sorted=srt))

top_k = op("top_k(x, k, sorted=True)", lambda x, k, sorted: jax.lax.top_k(x, k),
           doc="`(values, indices)` of the `k` largest entries along the last axis.")


def _in_top_k(targets, predictions, k):
    predictions = to_float(predictions)
    target_values = jnp.take_along_axis(predictions, jnp.asarray(targets)[:, None], axis=-1)
    kth = jax.lax.top_k(predictions, k)[0][:, -1:]
    return (target_values >= kth)[:, 0]


in_top_k = op("in_top_k(targets, predictions, k)", _in_top_k,
              doc="Whether each target class is among the `k` highest predictions.")


def _extract_sequences(x, sequence_length, sequence_stride):
    x = jnp.asarray(x)
    frames = 1 + (x.shape[-1] - sequence_length) // sequence_stride
    idx = (jnp.arange(frames)[:, None] * sequence_stride + jnp.arange(sequence_length)[None, :])
    return x[..., idx]


extract_sequences = op("extract_sequences(x, sequence_length, sequence_stride)",
                       _extract_sequences,
                       doc="Frames of length `sequence_length` every `sequence_stride` along "
                           "the last axis: (..., frames, sequence_length).")


def _complex(x):
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError("Expected the complex input as a tuple (real, imag) of two float "
                         f"arrays of the same shape. Received: {type(x).__name__}.")
    real, imag = to_float(x[0]), to_float(x[1])
    if real.shape != imag.shape:
        raise ValueError(f"real and imag must have the same shape. Received: {real.shape} "
                         f"and {imag.shape}.")
    return jax.lax.complex(real, imag)


def _pair(c):
    return jnp.real(c), jnp.imag(c)


fft = op("fft(x)", lambda x: _pair(jnp.fft.fft(_complex(x))),
         doc="FFT over the last axis of `x = (real, imag)`; returns `(real, imag)`.")
fft2 = op("fft2(x)", lambda x: _pair(jnp.fft.fft2(_complex(x))),
          doc="2-D FFT over the last two axes of `x = (real, imag)`; returns `(real, imag)`.")
ifft2 = op("ifft2(x)", lambda x: _pair(jnp.fft.ifft2(_complex(x))),
           doc="Inverse 2-D FFT of `x = (real, imag)`; returns `(real, imag)`.")
rfft = op("rfft(x, fft_length=None)", lambda x, n: _pair(jnp.fft.rfft(to_float(x), n=n)),
          doc="FFT of the real `x` over its last axis; returns `(real, imag)`.")
irfft = op("irfft(x, fft_length=None)", lambda x, n: jnp.fft.irfft(_complex(x), n=n),
           doc="Inverse of `rfft` for `x = (real, imag)`; returns a real array.")
view_as_complex = op("view_as_complex(x)",
                     lambda x: jax.lax.complex(to_float(x)[..., 0], to_float(x)[..., 1]),
                     doc="(..., 2) floats as complex numbers `x[..., 0] + 1j * x[..., 1]`.")
view_as_real = op("view_as_real(x)",
                  lambda x: jnp.stack([jnp.real(x), jnp.imag(x)], axis=-1),
                  doc="Complex `x` as (..., 2) floats (real, imag).")
rearrange = op("rearrange(tensor, pattern, **axes_lengths)", _rearrange,
               doc="einops-style axis rearrangement, e.g. `rearrange(x, \"b t d -> t b d\")`.")

_WINDOWS = {"hann": (0.5, 0.5), "hamming": (0.54, 0.46)}  # a - b cos(2 pi n / N), periodic


def _stft(x, sequence_length, sequence_stride, fft_length, window, center):
    x = jnp.asarray(x)
    if x.dtype not in (jnp.float32, jnp.float64):
        raise TypeError(f"stft expects float32 or float64 input. Received: dtype={x.dtype}.")
    if fft_length < sequence_length:
        raise ValueError(f"stft: fft_length ({fft_length}) must be >= sequence_length "
                         f"({sequence_length}).")
    if center:  # frames centred on the samples: reflect-pad half an FFT on both sides
        pad = [(0, 0)] * (x.ndim - 1) + [(fft_length // 2, fft_length // 2)]
        x = jnp.pad(x, pad, mode="reflect")
    left = (fft_length - sequence_length) // 2
    if window is None:  # as in Keras: no window, and no zero-padding of it either
        left, sequence_length = 0, fft_length
        win = jnp.ones((fft_length,), x.dtype)
    elif isinstance(window, str):
        if window not in _WINDOWS:
            raise ValueError(f"stft: window must be one of {sorted(_WINDOWS)}, an array of "
                             f"length sequence_length, or None. Received: window={window!r}.")
        a, b = _WINDOWS[window]
        win = a - b * jnp.cos(2 * jnp.pi * jnp.arange(sequence_length) / sequence_length)
    else:
        win = jnp.asarray(window)
        if win.shape != (sequence_length,):
            raise ValueError(f"stft: window must have shape ({sequence_length},). "
                             f"Received: {win.shape}.")
    win = jnp.pad(win.astype(x.dtype), (left, fft_length - sequence_length - left))
    frames = _extract_sequences(x, fft_length, sequence_stride)
    return _pair(jnp.fft.rfft(frames * win, n=fft_length))


stft = op("stft(x, sequence_length, sequence_stride, fft_length, window='hann', center=True)",
          _stft, doc="Short-time Fourier transform of real `x` over its last axis: `(real, "
                     "imag)` of shape (..., frames, fft_length // 2 + 1).")
_SIGNAL = "the inverse short-time Fourier transform is not provided; invert `stft` frames " \
          "with `irfft` and overlap-add them."
istft = not_applicable("istft(x, sequence_length, sequence_stride, fft_length, length=None, "
                       "window='hann', center=True)", _SIGNAL)

__all__ = ["erf", "erfc", "erfinv", "rsqrt", "logsumexp", "logdet", "cdist", "segment_sum",
           "segment_max", "segment_min", "segment_prod", "top_k", "in_top_k",
           "extract_sequences", "fft", "fft2", "ifft2", "rfft", "irfft", "view_as_complex",
           "view_as_real", "rearrange", "stft", "istft"]
