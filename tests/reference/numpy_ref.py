"""Independent NumPy (float64) reference of the Keras 3 recurrent layers.

Nothing here imports rnnkit (or Keras): it is written from the documented
Keras equations and validated against the Keras golden data in
``tests/reference/test_numpy_ref.py``.

Weight layouts are exactly those of Keras ``get_weights()``:

* SimpleRNN: kernel ``(D, H)``, recurrent_kernel ``(H, H)``, bias ``(H,)``.
* LSTM: kernel ``(D, 4H)``, recurrent_kernel ``(H, 4H)``, bias ``(4H,)``;
  gate order i, f, c, o.
* GRU: kernel ``(D, 3H)``, recurrent_kernel ``(H, 3H)``; gate order z, r, h;
  bias ``(2, 3H)`` (row 0 input bias, row 1 recurrent bias) when
  ``reset_after=True`` and ``(3H,)`` when ``reset_after=False``.

States are always lists: SimpleRNN ``[h]``, LSTM ``[h, c]``, GRU ``[h]``.

Keras masking semantics implemented by :func:`run_rnn` (all confirmed on the
golden data, see ``tests/reference/test_numpy_ref.py``):

* ``go_backwards`` reverses the inputs *and the mask* along time; the returned
  sequence is in processing order (i.e. reversed w.r.t. the input), it is NOT
  flipped back.
* at a masked step the states are carried unchanged and the output repeats the
  previous step's (masked) output; before the first unmasked step that
  "previous output" is zeros (not the initial state).
* ``zero_output_for_mask=True`` (default False) writes zeros at masked steps
  instead, including the last output when ``return_sequences=False`` and the
  last processed step is masked.
* the last output (``return_sequences=False``) is the last element of the
  masked output sequence; the returned states are the carried states. So for a
  row that is entirely masked the output is zeros while the returned states
  equal the initial states.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ACTIVATIONS",
    "get_activation",
    "simple_rnn_step",
    "lstm_step",
    "gru_step",
    "make_cell",
    "stacked_step",
    "zero_states",
    "run_rnn",
    "rnn_layer_forward",
    "bidirectional_forward",
    "RefRNN",
    "RefBidirectional",
    "ref_layer_from_spec",
    "regularizer_value",
    "regularization_losses",
    "model_forward",
]


# --------------------------------------------------------------------------
# activations (Keras 3 definitions)
# --------------------------------------------------------------------------

def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _hard_sigmoid(x):
    # Keras 3: relu6(x + 3) / 6 == clip(x / 6 + 0.5, 0, 1)
    # (Keras 2 used 0.2 * x + 0.5.)
    return np.clip(x / 6.0 + 0.5, 0.0, 1.0)


def _relu(x):
    return np.maximum(x, 0.0)


def _linear(x):
    return x


ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": _sigmoid,
    "hard_sigmoid": _hard_sigmoid,
    "relu": _relu,
    "linear": _linear,
    None: _linear,
}


def get_activation(act):
    if callable(act):
        return act
    try:
        return ACTIVATIONS[act]
    except KeyError:
        raise ValueError(f"numpy_ref: unsupported activation {act!r}") from None


def _f64(a):
    return None if a is None else np.asarray(a, dtype=np.float64)


# --------------------------------------------------------------------------
# single steps: step(params, x_t, states) -> (output, new_states)
# --------------------------------------------------------------------------

def simple_rnn_step(params, x_t, states):
    """h = act(x @ W + h_prev @ U + b)."""
    (h_prev,) = states
    z = x_t @ params["kernel"] + h_prev @ params["recurrent_kernel"]
    if params.get("bias") is not None:
        z = z + params["bias"]
    h = get_activation(params.get("activation", "tanh"))(z)
    return h, [h]


def lstm_step(params, x_t, states):
    """Keras LSTM, gate order i, f, c, o; z = x @ W + h @ U + b."""
    h_prev, c_prev = states
    act = get_activation(params.get("activation", "tanh"))
    rec = get_activation(params.get("recurrent_activation", "sigmoid"))
    z = x_t @ params["kernel"] + h_prev @ params["recurrent_kernel"]
    if params.get("bias") is not None:
        z = z + params["bias"]
    H = h_prev.shape[-1]
    z_i, z_f, z_c, z_o = (z[:, k * H:(k + 1) * H] for k in range(4))
    i = rec(z_i)
    f = rec(z_f)
    c = f * c_prev + i * act(z_c)
    o = rec(z_o)
    h = o * act(c)
    return h, [h, c]


def gru_step(params, x_t, states):
    """Keras GRU, gate order z, r, h.

    reset_after=True  (bias (2, 3H)): hh = act(x_h + r * (h @ U_h + b_rec_h))
    reset_after=False (bias (3H,)):   hh = act(x_h + (r * h) @ U_h)
    h = z * h_prev + (1 - z) * hh
    """
    (h_prev,) = states
    act = get_activation(params.get("activation", "tanh"))
    rec = get_activation(params.get("recurrent_activation", "sigmoid"))
    reset_after = params.get("reset_after", True)
    W = params["kernel"]
    U = params["recurrent_kernel"]
    b = params.get("bias")
    H = h_prev.shape[-1]
    sl = [slice(k * H, (k + 1) * H) for k in range(3)]

    if b is None:
        b_in = np.zeros(3 * H)
        b_rec = np.zeros(3 * H)
    elif reset_after:
        b = np.asarray(b)
        if b.shape != (2, 3 * H):
            raise ValueError(f"GRU reset_after=True expects bias (2, {3 * H}), got {b.shape}")
        b_in, b_rec = b[0], b[1]
    else:
        b = np.asarray(b)
        if b.shape != (3 * H,):
            raise ValueError(f"GRU reset_after=False expects bias ({3 * H},), got {b.shape}")
        b_in, b_rec = b, np.zeros(3 * H)

    x_proj = x_t @ W + b_in
    x_z, x_r, x_h = (x_proj[:, s] for s in sl)

    if reset_after:
        h_proj = h_prev @ U + b_rec
        r_z, r_r, r_h = (h_proj[:, s] for s in sl)
        z = rec(x_z + r_z)
        r = rec(x_r + r_r)
        hh = act(x_h + r * r_h)
    else:
        z = rec(x_z + h_prev @ U[:, sl[0]])
        r = rec(x_r + h_prev @ U[:, sl[1]])
        hh = act(x_h + (r * h_prev) @ U[:, sl[2]])
    h = z * h_prev + (1.0 - z) * hh
    return h, [h]


_STEPS = {"simple_rnn": simple_rnn_step, "lstm": lstm_step, "gru": gru_step}
_N_STATES = {"simple_rnn": 1, "lstm": 2, "gru": 1}
_ALIASES = {
    "SimpleRNN": "simple_rnn", "SimpleRNNCell": "simple_rnn", "simplernn": "simple_rnn",
    "simple_rnn": "simple_rnn",
    "LSTM": "lstm", "LSTMCell": "lstm", "lstm": "lstm",
    "GRU": "gru", "GRUCell": "gru", "gru": "gru",
}


def _kind(kind):
    try:
        return _ALIASES[kind]
    except KeyError:
        raise ValueError(f"numpy_ref: unknown recurrent kind {kind!r}") from None


def make_cell(kind, weights, *, use_bias=True, activation="tanh",
              recurrent_activation="sigmoid", reset_after=True, **_ignored):
    """Return ``(step_fn, params, n_weights_consumed)`` for one cell.

    ``weights`` is a list in Keras ``get_weights()`` order; only the first
    2 (no bias) or 3 entries are consumed. Extra keyword arguments (e.g.
    ``dropout``, which is an identity at inference) are ignored.
    """
    k = _kind(kind)
    n = 3 if use_bias else 2
    w = [_f64(a) for a in weights[:n]]
    params = {
        "kernel": w[0],
        "recurrent_kernel": w[1],
        "bias": w[2] if use_bias else None,
        "activation": activation,
    }
    if k in ("lstm", "gru"):
        params["recurrent_activation"] = recurrent_activation
    if k == "gru":
        params["reset_after"] = reset_after
    return _STEPS[k], params, n


def stacked_step(cells):
    """Step function of ``StackedRNNCells`` (cells: list of (step, params)).

    States are nested per cell: ``[[h0, c0], [h1], ...]``; the output is the
    output of the last cell.
    """
    def step(_params, x_t, states):
        new_states = []
        inp = x_t
        for (fn, p), s in zip(cells, states):
            inp, ns = fn(p, inp, list(s))
            new_states.append(ns)
        return inp, new_states
    return step


def zero_states(kind, batch, units):
    return [np.zeros((batch, units)) for _ in range(_N_STATES[_kind(kind)])]


# --------------------------------------------------------------------------
# full-sequence runner
# --------------------------------------------------------------------------

def _tree_where(m, new, old):
    if isinstance(new, (list, tuple)):
        return [_tree_where(m, a, b) for a, b in zip(new, old)]
    return np.where(m, new, old)


def _tree_f64(s):
    if isinstance(s, (list, tuple)):
        return [_tree_f64(a) for a in s]
    return _f64(s)


def run_rnn(step, params, x, h0, mask=None, go_backwards=False,
            return_sequences=False, zero_output_for_mask=False):
    """Run ``step`` over time with Keras semantics.

    Args:
      step: ``step(params, x_t, states) -> (output, new_states)``.
      x: ``(batch, T, D)`` array.
      h0: list of initial states (possibly nested for stacked cells), or a
        single array for a one-state cell.
      mask: optional bool ``(batch, T)`` (True = use the timestep).

    Returns ``(output, states)``: ``output`` is ``(batch, T, H)`` (in
    processing order) when ``return_sequences`` else ``(batch, H)``; ``states``
    is the list of final states.
    """
    x = _f64(x)
    if x.ndim != 3:
        raise ValueError(f"x must be (batch, T, D), got {x.shape}")
    states = _tree_f64(h0 if isinstance(h0, (list, tuple)) else [h0])
    T = x.shape[1]
    order = list(range(T))[::-1] if go_backwards else list(range(T))
    if mask is not None:
        mask = np.asarray(mask).astype(bool)
        if mask.shape != x.shape[:2]:
            raise ValueError(f"mask must be {x.shape[:2]}, got {mask.shape}")

    outputs = []
    prev_output = None
    for t in order:
        out, new_states = step(params, x[:, t], states)
        if mask is None:
            states = new_states
        else:
            m = mask[:, t][:, None]
            states = _tree_where(m, new_states, states)
            if prev_output is None:
                prev_output = np.zeros_like(out)
            fill = np.zeros_like(out) if zero_output_for_mask else prev_output
            out = np.where(m, out, fill)
            prev_output = out
        outputs.append(out)
    if return_sequences:
        return np.stack(outputs, axis=1), states
    return outputs[-1], states


# --------------------------------------------------------------------------
# layer-level conveniences (return Keras' output structure)
# --------------------------------------------------------------------------

_IGNORED = ("units", "dropout", "recurrent_dropout", "unroll", "stateful",
            "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
            "name", "seed", "implementation", "use_cudnn")


def rnn_layer_forward(kind, units, weights, x, *, initial_state=None,
                      mask=None, return_sequences=False, return_state=False,
                      go_backwards=False, zero_output_for_mask=False,
                      **cell_kwargs):
    """Forward pass of a SimpleRNN / LSTM / GRU layer (inference).

    Returns what Keras returns: a single array, or ``[output, *states]`` when
    ``return_state``.
    """
    for k in _IGNORED:
        cell_kwargs.pop(k, None)
    step, params, _ = make_cell(kind, weights, **cell_kwargs)
    batch = np.shape(x)[0]
    h0 = zero_states(kind, batch, units) if initial_state is None else list(initial_state)
    out, states = run_rnn(step, params, x, h0, mask=mask,
                          go_backwards=go_backwards,
                          return_sequences=return_sequences,
                          zero_output_for_mask=zero_output_for_mask)
    if return_state:
        return [out, *states]
    return out


_MERGES = {
    "concat": lambda a, b: np.concatenate([a, b], axis=-1),
    "sum": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "ave": lambda a, b: (a + b) / 2.0,
}


def bidirectional_forward(fwd, bwd, x, *, merge_mode="concat", mask=None,
                          initial_state=None, return_sequences=False,
                          return_state=False):
    """Keras ``Bidirectional`` over two ``rnn_layer_forward`` configs.

    ``fwd`` / ``bwd`` are dicts ``{"kind", "units", "weights", **kwargs}``
    (``bwd`` must already have ``go_backwards=True``). Conventions (proven on
    the golden data, see tests/reference/test_numpy_ref.py):

    * Keras forces ``zero_output_for_mask = return_sequences`` on BOTH
      sub-layers (whatever they were configured with);
    * the backward output sequence is flipped back to input order before
      merging (only when ``return_sequences``);
    * ``initial_state`` is split in halves: first half forward, second half
      backward;
    * the result is ``[merged, *fwd_states, *bwd_states]`` (or
      ``[y_fwd, y_bwd, *fwd_states, *bwd_states]`` when ``merge_mode`` is
      None); without ``return_state`` a single array (or ``[y_fwd, y_bwd]``).
    """
    if initial_state is not None:
        half = len(initial_state) // 2
        fs, bs = list(initial_state[:half]), list(initial_state[half:])
    else:
        fs = bs = None

    def run(cfg, init):
        cfg = dict(cfg)
        kind, units, weights = cfg.pop("kind"), cfg.pop("units"), cfg.pop("weights")
        cfg.update(return_sequences=return_sequences, return_state=True,
                   zero_output_for_mask=return_sequences)
        return rnn_layer_forward(kind, units, weights, x, mask=mask,
                                 initial_state=init, **cfg)

    yf, *sf = run(fwd, fs)
    yb, *sb = run(bwd, bs)
    if return_sequences:
        yb = yb[:, ::-1]
    if merge_mode is None:
        out = [yf, yb]
    else:
        out = [_MERGES[merge_mode](yf, yb)]
    if return_state:
        return out + sf + sb
    return out if merge_mode is None else out[0]


# --------------------------------------------------------------------------
# spec-level evaluators (golden-data object specs, see tests/reference/golden.py)
# --------------------------------------------------------------------------

_CELL_KEYS = ("activation", "recurrent_activation", "use_bias", "reset_after")
_RNN_LAYERS = {"SimpleRNN": "SimpleRNNCell", "LSTM": "LSTMCell", "GRU": "GRUCell"}


def _cell_spec_kwargs(kwargs):
    return {k: kwargs[k] for k in _CELL_KEYS if k in kwargs}


class RefRNN:
    """Reference for SimpleRNN / LSTM / GRU / RNN(cell | [cells] | StackedRNNCells).

    ``force_zero_output_for_mask`` overrides the layer's flag (used to mimic
    what ``Bidirectional`` does to its sub-layers).
    """

    def __init__(self, spec):
        cls = spec["__class__"]
        kw = dict(spec.get("kwargs", {}))
        if cls in _RNN_LAYERS:
            cells = [(cls, kw["units"], _cell_spec_kwargs(kw))]
            self.stacked = False
        elif cls == "RNN":
            cell = kw["cell"]
            if isinstance(cell, list):
                cell_specs, self.stacked = cell, True
            elif cell["__class__"] == "StackedRNNCells":
                cell_specs, self.stacked = cell["kwargs"]["cells"], True
            else:
                cell_specs, self.stacked = [cell], False
            cells = [(c["__class__"], c["kwargs"]["units"], _cell_spec_kwargs(c["kwargs"]))
                     for c in cell_specs]
        else:
            raise ValueError(f"RefRNN: unsupported class {cls}")
        self.cell_defs = cells
        self.return_sequences = kw.get("return_sequences", False)
        self.return_state = kw.get("return_state", False)
        self.go_backwards = kw.get("go_backwards", False)
        self.stateful = kw.get("stateful", False)
        self.zero_output_for_mask = kw.get("zero_output_for_mask", False)
        self.n_weights = sum(3 if d[2].get("use_bias", True) else 2 for d in cells)
        self.weights = None
        self.states = None

    def set_weights(self, weights):
        assert len(weights) == self.n_weights, (len(weights), self.n_weights)
        self.weights = list(weights)

    def reset_states(self):
        self.states = None

    def _cells(self):
        out, i = [], 0
        for kind, _units, kw in self.cell_defs:
            step, params, n = make_cell(kind, self.weights[i:], **kw)
            out.append((step, params))
            i += n
        return out

    def _zero_states(self, batch):
        st = [zero_states(kind, batch, units) for kind, units, _ in self.cell_defs]
        return st if self.stacked else st[0]

    def __call__(self, x, initial_state=None, mask=None, zero_output_for_mask=None):
        cells = self._cells()
        if self.stacked:
            step, params = stacked_step(cells), None
        else:
            step, params = cells[0]
        if initial_state is not None:
            h0 = initial_state
        elif self.stateful and self.states is not None:
            h0 = self.states
        else:
            h0 = self._zero_states(np.shape(x)[0])
        zofm = self.zero_output_for_mask if zero_output_for_mask is None else zero_output_for_mask
        out, states = run_rnn(step, params, x, h0, mask=mask,
                              go_backwards=self.go_backwards,
                              return_sequences=self.return_sequences,
                              zero_output_for_mask=zofm)
        if self.stateful:
            self.states = states
        if self.return_state:
            return [out, *states]
        return out


class RefBidirectional:
    """Reference for ``Bidirectional(layer, backward_layer=None, merge_mode)``."""

    def __init__(self, spec, *, force_zero_output_for_mask=True):
        kw = spec["kwargs"]
        self.merge_mode = kw.get("merge_mode", "concat")
        layer = kw["layer"]
        self.forward = RefRNN(layer)
        if kw.get("backward_layer") is not None:
            self.backward = RefRNN(kw["backward_layer"])
        else:
            bspec = json_copy(layer)
            bspec["kwargs"]["go_backwards"] = not layer["kwargs"].get("go_backwards", False)
            self.backward = RefRNN(bspec)
        self.return_sequences = self.forward.return_sequences
        self.return_state = self.forward.return_state
        self.force_zofm = force_zero_output_for_mask
        self.n_weights = self.forward.n_weights + self.backward.n_weights

    def set_weights(self, weights):
        n = self.forward.n_weights
        self.forward.set_weights(weights[:n])
        self.backward.set_weights(weights[n:])

    def reset_states(self):
        self.forward.reset_states()
        self.backward.reset_states()

    def __call__(self, x, initial_state=None, mask=None):
        fs = bs = None
        if initial_state is not None:
            half = len(initial_state) // 2
            fs, bs = initial_state[:half], initial_state[half:]
        zofm = self.return_sequences if self.force_zofm else None
        yf = self.forward(x, initial_state=fs, mask=mask, zero_output_for_mask=zofm)
        yb = self.backward(x, initial_state=bs, mask=mask, zero_output_for_mask=zofm)
        sf = sb = []
        if self.return_state:
            yf, *sf = yf
            yb, *sb = yb
        if self.return_sequences:
            yb = yb[:, ::-1]
        if self.merge_mode is None:
            out = [yf, yb]
        else:
            out = [_MERGES[self.merge_mode](yf, yb)]
        if self.return_state:
            return out + list(sf) + list(sb)
        return out if self.merge_mode is None else out[0]


def json_copy(obj):
    import json
    return json.loads(json.dumps(obj))


def ref_layer_from_spec(spec, **kw):
    if spec["__class__"] == "Bidirectional":
        return RefBidirectional(spec, **kw)
    return RefRNN(spec)


def regularizer_value(spec, w):
    """Value of a regularizer spec (l1 / l2 / l1_l2 / L1 / L2 / L1L2) on ``w``."""
    w = _f64(w)
    cls = spec["__class__"].lower()
    args, kwargs = spec.get("args", []), spec.get("kwargs", {})
    if cls == "l1":
        l1 = args[0] if args else kwargs.get("l1", 0.01)
        return l1 * np.abs(w).sum()
    if cls == "l2":
        l2 = args[0] if args else kwargs.get("l2", 0.01)
        return l2 * np.square(w).sum()
    if cls in ("l1_l2", "l1l2"):
        l1 = args[0] if len(args) > 0 else kwargs.get("l1", 0.0)
        l2 = args[1] if len(args) > 1 else kwargs.get("l2", 0.0)
        return l1 * np.abs(w).sum() + l2 * np.square(w).sum()
    raise ValueError(f"unsupported regularizer {spec['__class__']}")


def _rnn_cell_specs(spec):
    """(cell kwargs, ...) for each cell of a recurrent layer spec, in weight order."""
    cls = spec["__class__"]
    kw = spec["kwargs"]
    if cls in _RNN_LAYERS:
        return [kw]
    if cls == "RNN":
        cell = kw["cell"]
        if isinstance(cell, list):
            return [c["kwargs"] for c in cell]
        if cell["__class__"] == "StackedRNNCells":
            return [c["kwargs"] for c in cell["kwargs"]["cells"]]
        return [cell["kwargs"]]
    if cls == "Bidirectional":
        fwd = _rnn_cell_specs(kw["layer"])
        bwd = _rnn_cell_specs(kw["backward_layer"] if kw.get("backward_layer") else kw["layer"])
        return fwd + bwd
    raise ValueError(cls)


def regularization_losses(spec, weights):
    """``[float(v) for v in layer.losses]`` as Keras orders them: cell by cell
    (forward then backward for Bidirectional), kernel, recurrent_kernel, bias."""
    losses, i = [], 0
    for ckw in _rnn_cell_specs(spec):
        names = ["kernel", "recurrent"] + (["bias"] if ckw.get("use_bias", True) else [])
        for name in names:
            reg = ckw.get(f"{name}_regularizer")
            if reg is not None:
                losses.append(float(regularizer_value(reg, weights[i])))
            i += 1
    return losses


# --------------------------------------------------------------------------
# whole models (inference): Input -> layers, with Keras mask propagation
# --------------------------------------------------------------------------

def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


_DENSE_ACTS = dict(ACTIVATIONS, softmax=_softmax)


def model_forward(model_cfg, weights, x):
    """Forward pass (predict) of a golden ``model`` description.

    Mask rules: ``Masking`` / ``Embedding(mask_zero=True)`` create the mask;
    recurrent layers and ``Bidirectional`` consume it and pass it on only
    when ``return_sequences`` (unchanged, even with ``go_backwards``);
    ``Dropout`` passes it on; everything else here ends the chain.
    """
    weights = list(weights)
    pos = 0

    def take(n):
        nonlocal pos
        out = weights[pos:pos + n]
        pos += n
        return [_f64(w) for w in out]

    h = np.asarray(x)
    if h.dtype.kind == "f":
        h = _f64(h)
    mask = None
    for spec in model_cfg["layers"]:
        cls, kw = spec["__class__"], spec.get("kwargs", {})
        if cls == "Masking":
            v = kw.get("mask_value", 0.0)
            mask = np.any(h != v, axis=-1)
            h = h * mask[..., None]
        elif cls == "Embedding":
            (table,) = take(1)
            mask = (h != 0) if kw.get("mask_zero", False) else None
            h = table[h]
        elif cls in _RNN_LAYERS or cls in ("RNN", "Bidirectional"):
            layer = ref_layer_from_spec(spec)
            layer.set_weights(take(layer.n_weights))
            h = layer(h, mask=mask)
            if not layer.return_sequences:
                mask = None
        elif cls == "Dense":
            n = 2 if kw.get("use_bias", True) else 1
            w = take(n)
            h = h @ w[0] + (w[1] if n == 2 else 0.0)
            h = _DENSE_ACTS[kw.get("activation")](h)
            mask = None
        elif cls == "TimeDistributed":
            inner = kw["layer"]
            assert inner["__class__"] == "Dense", inner
            ikw = inner["kwargs"]
            n = 2 if ikw.get("use_bias", True) else 1
            w = take(n)
            h = h @ w[0] + (w[1] if n == 2 else 0.0)
            h = _DENSE_ACTS[ikw.get("activation")](h)
        elif cls == "Dropout":
            pass
        elif cls == "Flatten":
            h = h.reshape(h.shape[0], -1)
            mask = None
        else:
            raise ValueError(f"model_forward: unsupported layer {cls}")
    assert pos == len(weights), (pos, len(weights))
    return h
