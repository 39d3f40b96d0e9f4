"""NumPy reference of Keras's ConvLSTM1D/2D/3D (float64, loops over kernel offsets).

Written from the definitions, independently of rnnkit: a convolution is a sum over the
kernel offsets of strided slices of the (padded) input; "same" padding follows
TensorFlow/XLA (out = ceil(n / stride), the odd pixel of padding goes after).
Weights in Keras layout: kernel (*k, C, 4F), recurrent_kernel (*k, F, 4F), bias (4F,);
gates i, f, c, o.
"""

from __future__ import annotations

import itertools

import numpy as np

import numpy_ref as R

CONV_CLASSES = {"ConvLSTM1D": 1, "ConvLSTM2D": 2, "ConvLSTM3D": 3}


def _tuple(v, rank):
    return tuple(v) if isinstance(v, (list, tuple)) else (v,) * rank


def conv_nd(x, w, strides, dilation, padding):
    """x (B, *S, C), w (*k, C, O) -> (B, *S', O), channels last, float64."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    rank = x.ndim - 2
    ksize = w.shape[:rank]
    pads, outs = [], []
    for n, k, s, d in zip(x.shape[1:-1], ksize, strides, dilation):
        span = (k - 1) * d + 1
        if padding == "same":
            out = -(-n // s)
            total = max((out - 1) * s + span - n, 0)
            pads.append((total // 2, total - total // 2))
        else:
            out = (n - span) // s + 1
            pads.append((0, 0))
        outs.append(out)
    xp = np.pad(x, [(0, 0)] + pads + [(0, 0)])
    y = np.zeros((x.shape[0], *outs, w.shape[-1]))
    for offset in itertools.product(*(range(k) for k in ksize)):
        idx = tuple(slice(o * d, o * d + (n - 1) * s + 1, s)
                    for o, d, n, s in zip(offset, dilation, outs, strides))
        y += np.einsum("...c,co->...o", xp[(slice(None),) + idx], w[offset])
    return y


def conv_lstm_step(x, h, c, weights, *, strides, dilation, padding, act, ract,
                   in_masks=None, rec_masks=None):
    """One step, channels last: x (B, *S, C); h, c (B, *S', F). Optional per-gate dropout
    masks (4, B, ...) as Keras applies them (gate g sees x * m[g])."""
    kernel, rkernel = weights[0], weights[1]
    bias = weights[2] if len(weights) > 2 else None
    f = rkernel.shape[-2]
    rank = x.ndim - 2
    ones = (1,) * rank
    z = []
    for g in range(4):
        xg = x if in_masks is None else x * in_masks[g]
        hg = h if rec_masks is None else h * rec_masks[g]
        zg = conv_nd(xg, kernel[..., g * f:(g + 1) * f], strides, dilation, padding)
        zg = zg + conv_nd(hg, rkernel[..., g * f:(g + 1) * f], ones, ones, "same")
        if bias is not None:
            zg = zg + bias[g * f:(g + 1) * f]
        z.append(zg)
    i, fg, o = ract(z[0]), ract(z[1]), ract(z[3])
    c_new = fg * c + i * act(z[2])
    return o * act(c_new), c_new


class RefConvLSTM:
    """Reference for ConvLSTM{1,2,3}D with the interface of numpy_ref.RefRNN."""

    def __init__(self, spec):
        self.rank = CONV_CLASSES[spec["__class__"]]
        kw = dict(spec.get("kwargs", {}))
        self.kw = kw
        self.filters = kw["filters"]
        self.strides = _tuple(kw.get("strides", 1), self.rank)
        self.dilation = _tuple(kw.get("dilation_rate", 1), self.rank)
        self.padding = kw.get("padding", "valid").lower()
        self.channels_first = kw.get("data_format") == "channels_first"
        self.act = R.get_activation(kw.get("activation", "tanh"))
        self.ract = R.get_activation(kw.get("recurrent_activation", "sigmoid"))
        self.return_sequences = kw.get("return_sequences", False)
        self.return_state = kw.get("return_state", False)
        self.go_backwards = kw.get("go_backwards", False)
        self.stateful = kw.get("stateful", False)
        self.zero_output_for_mask = kw.get("zero_output_for_mask", False)
        self.weights = None
        self.states = None

    def set_weights(self, weights):
        self.weights = [np.asarray(w, np.float64) for w in weights]

    def reset_states(self):
        self.states = None

    def _last(self, a, time_axis=False):  # channels_first -> channels_last
        lead = 2 if time_axis else 1
        return np.moveaxis(a, lead, -1) if self.channels_first else a

    def _first(self, a, time_axis=False):
        lead = 2 if time_axis else 1
        return np.moveaxis(a, -1, lead) if self.channels_first else a

    def __call__(self, x, initial_state=None, mask=None, zero_output_for_mask=None,
                 in_masks=None, rec_masks=None):
        """`in_masks`/`rec_masks`: optional dropout masks (4, B, ...), channels last."""
        x = self._last(np.asarray(x, np.float64), time_axis=True)
        batch, steps = x.shape[:2]
        if initial_state is not None:
            h, c = (self._last(np.asarray(s, np.float64)) for s in initial_state)
        elif self.stateful and self.states is not None:
            h, c = self.states
        else:
            probe = conv_nd(x[:, 0], self.weights[0][..., :self.filters], self.strides,
                            self.dilation, self.padding)
            h = c = np.zeros(probe.shape)
        zofm = self.zero_output_for_mask if zero_output_for_mask is None \
            else zero_output_for_mask
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        outs, prev = [], np.zeros(h.shape)
        for t in order:
            h_new, c_new = conv_lstm_step(
                x[:, t], h, c, self.weights, strides=self.strides, dilation=self.dilation,
                padding=self.padding, act=self.act, ract=self.ract, in_masks=in_masks,
                rec_masks=rec_masks)
            if mask is None:
                h, c, y = h_new, c_new, h_new
            else:
                keep = np.asarray(mask, bool)[:, t].reshape((batch,) + (1,) * (h.ndim - 1))
                h, c = np.where(keep, h_new, h), np.where(keep, c_new, c)
                y = np.where(keep, h_new, 0.0 if zofm else prev)
            prev = y
            outs.append(y)
        if self.stateful:
            self.states = (h, c)
        out = (self._first(np.stack(outs, 1), time_axis=True) if self.return_sequences
               else self._first(outs[-1]))
        if self.return_state:
            return [out, self._first(h), self._first(c)]
        return out


def ref_layer_from_spec(spec, **kw):
    """numpy_ref.ref_layer_from_spec, plus the ConvLSTM layers."""
    if spec["__class__"] in CONV_CLASSES:
        return RefConvLSTM(spec)
    return R.ref_layer_from_spec(spec, **kw)
