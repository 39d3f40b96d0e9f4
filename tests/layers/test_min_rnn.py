"""MinGRU, MinLSTM and LRU layers against a NumPy loop written from the equations of
issue 11 (float64), in both modes, with masks, go_backwards, initial and returned states,
step-by-step use, wrappers, saving, training and bad input."""

from __future__ import annotations

import numpy as np
import pytest

import rnnkit
from rnnkit import layers


def _sig(v):
    return 1.0 / (1.0 + np.exp(-v))


# --- NumPy reference (from the equations) ------------------------------------------

def np_mingru_step(w, h, x):
    kernel, bias = w
    p = x @ kernel + bias
    u = h[0].shape[-1]
    z, hh = _sig(p[:, :u]), p[:, u:]
    new = (1 - z) * h[0] + z * hh
    return [new], new


def np_minlstm_step(w, h, x):
    kernel, bias = w
    p = x @ kernel + bias
    u = h[0].shape[-1]
    f, i, hh = _sig(p[:, :u]), _sig(p[:, u:2 * u]), p[:, 2 * u:]
    new = f / (f + i) * h[0] + i / (f + i) * hh
    return [new], new


def np_lru_step(w, s, x):
    nu_log, theta_log, gamma_log, b_re, b_im, c_re, c_im, d = w
    lam = np.exp(-np.exp(nu_log) + 1j * np.exp(theta_log))
    state = s[0] + 1j * s[1]
    state = lam * state + np.exp(gamma_log) * (x @ (b_re + 1j * b_im))
    y = np.real(state @ (c_re + 1j * c_im)) + d * x
    return [state.real, state.imag], y


def np_run(step, weights, x, states, mask=None, go_backwards=False, zero_output=False):
    """Keras's RNN loop: masked steps keep the states and repeat the previous output
    (zeros before the first unmasked step), or zeros with zero_output."""
    x = np.asarray(x, np.float64)
    weights = [np.asarray(w, np.float64) for w in weights]
    states = [np.asarray(s, np.float64) for s in states]
    B, T, _ = x.shape
    mask = np.ones((B, T), bool) if mask is None else np.asarray(mask, bool)
    order = range(T - 1, -1, -1) if go_backwards else range(T)
    prev, outs = None, []
    for t in order:
        new, y = step(weights, states, x[:, t])
        if prev is None:
            prev = np.zeros_like(y)
        m = mask[:, t][:, None]
        states = [np.where(m, n, o) for n, o in zip(new, states)]
        y = np.where(m, y, 0.0 if zero_output else prev)
        prev = y
        outs.append(y)
    return np.stack(outs, 1), outs[-1], states


CASES = {
    "mingru": (lambda mode, **kw: layers.MinGRU(6, mode=mode, **kw), np_mingru_step, 6, 1),
    "minlstm": (lambda mode, **kw: layers.MinLSTM(6, mode=mode, **kw), np_minlstm_step, 6, 1),
    "lru": (lambda mode, **kw: layers.LRU(5, r_min=0.4, r_max=0.95, mode=mode, **kw),
            np_lru_step, 5, 2),
}
MODES = ("parallel", "sequential")


def _data(B=3, T=9, D=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B, T, D)).astype(np.float32)
    mask = rng.random((B, T)) > 0.35
    mask[0, :] = True
    mask[1, :4] = False  # leading masked steps: zeros before the first unmasked one
    mask[2, -3:] = False  # trailing masked steps: the last output repeats
    return x, mask


def _init_states(layer, B, rng):
    return [rng.normal(size=(B, s)).astype(np.float32) for s in layer.cell.state_size] \
        if isinstance(layer.cell.state_size, list) else \
        [rng.normal(size=(B, layer.cell.state_size)).astype(np.float32)]


def _weights(layer, kind, rng):
    """Nonzero biases so that the bias path is checked too."""
    ws = layer.get_weights()
    if kind != "lru":
        ws[1] = rng.normal(size=ws[1].shape).astype(np.float32) * 0.5
        layer.set_weights(ws)
    return ws


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", sorted(CASES))
@pytest.mark.parametrize("go_backwards", [False, True])
def test_matches_numpy_loop(kind, mode, go_backwards):
    make, np_step, size, n_states = CASES[kind]
    rng = np.random.default_rng(1)
    x, mask = _data()
    layer = make(mode, return_sequences=True, return_state=True, go_backwards=go_backwards)
    layer(x)
    ws = _weights(layer, kind, rng)
    h0 = _init_states(layer, x.shape[0], rng)
    for m in (None, mask):
        out = layer(x, initial_state=h0, mask=m)
        seq, last, states = np_run(np_step, ws, x, h0, m, go_backwards)
        np.testing.assert_allclose(np.asarray(out[0]), seq, rtol=2e-5, atol=2e-5)
        assert len(out) == 1 + n_states
        for got, want in zip(out[1:], states):
            np.testing.assert_allclose(np.asarray(got), want, rtol=2e-5, atol=2e-5)
    last_layer = make(mode, go_backwards=go_backwards)
    last_layer(x)
    last_layer.set_weights(ws)
    np.testing.assert_allclose(np.asarray(last_layer(x, mask=mask)),
                               np_run(np_step, ws, x, [np.zeros_like(s) for s in h0], mask,
                                      go_backwards)[1], rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_zero_output_for_mask_and_time_major(kind):
    make, np_step, _, _ = CASES[kind]
    x, mask = _data()
    ref = make("sequential", return_sequences=True, zero_output_for_mask=True)
    par = make("parallel", return_sequences=True, zero_output_for_mask=True, time_major=True)
    ref(x)
    par(np.swapaxes(x, 0, 1))
    par.set_weights(ref.get_weights())
    want = np_run(np_step, ref.get_weights(), x, [np.zeros((3, s)) for s in
                  np.atleast_1d(ref.cell.state_size)], mask, zero_output=True)[0]
    np.testing.assert_allclose(np.asarray(ref(x, mask=mask)), want, rtol=2e-5, atol=2e-5)
    got = par(np.swapaxes(x, 0, 1), mask=mask)  # the mask stays (batch, timesteps)
    np.testing.assert_allclose(np.swapaxes(np.asarray(got), 0, 1), want, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("kind", sorted(CASES))
@pytest.mark.parametrize("T", [1, 2, 33, 4096])
def test_parallel_equals_sequential_lengths(kind, T):
    make, _, _, _ = CASES[kind]
    rng = np.random.default_rng(T)
    x = rng.normal(size=(2, T, 4)).astype(np.float32)
    par, seq = make("parallel", return_sequences=True), make("sequential",
                                                             return_sequences=True)
    par(x[:, :1])
    seq(x[:, :1])
    seq.set_weights(par.get_weights())
    np.testing.assert_allclose(np.asarray(par(x)), np.asarray(seq(x)), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_step_equals_sequence_and_generate(kind):
    make, _, _, _ = CASES[kind]
    x, _ = _data()
    layer = make("auto", return_sequences=True)
    full = np.asarray(layer(x))
    states = None
    for t in range(x.shape[1]):
        y, states = layer.step(x[:, t], states)
        np.testing.assert_allclose(np.asarray(y), full[:, t], rtol=1e-5, atol=1e-5)
    vocab = 7
    rec = make("auto", return_sequences=True)
    model = rnnkit.Sequential([layers.Input((None,), dtype="int32"), layers.Embedding(vocab, 4),
                               rec, layers.Dense(vocab)])
    ids = rnnkit.generate(model, np.array([[1, 2, 3]]), 5, greedy=True)
    ids = np.asarray(ids)
    assert ids.shape[-1] >= 5
    # greedy generation: each new token is the argmax of the model over the sequence so far
    seq = np.concatenate([[1, 2, 3], ids.reshape(-1)[-5:]])[None]
    logits = np.asarray(model(seq[:, :-1]))
    np.testing.assert_array_equal(logits[0, 2:].argmax(-1), seq[0, 3:])


@pytest.mark.parametrize("kind", sorted(CASES))
def test_wrappers_and_stacking(kind):
    make, np_step, _, _ = CASES[kind]
    x, mask = _data()
    bi = layers.Bidirectional(make("auto", return_sequences=True))
    out = np.asarray(bi(x, mask=mask))
    fw, bw = bi.forward_layer, bi.backward_layer
    want_f = np_run(np_step, fw.get_weights(), x, [np.zeros((3, s)) for s in
                    np.atleast_1d(fw.cell.state_size)], mask, zero_output=True)[0]
    want_b = np_run(np_step, bw.get_weights(), x, [np.zeros((3, s)) for s in
                    np.atleast_1d(bw.cell.state_size)], mask, True, zero_output=True)[0]
    np.testing.assert_allclose(out, np.concatenate([want_f, want_b[:, ::-1]], -1),
                               rtol=2e-5, atol=2e-5)
    cell_cls = type(make("auto").cell)
    cell = make("auto").cell
    rnn = layers.RNN(cell, return_sequences=True)
    got = np.asarray(rnn(x))
    want = np_run(np_step, cell.get_weights(), x, [np.zeros((3, s)) for s in
                  np.atleast_1d(cell.state_size)])[0]
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)
    stacked = layers.RNN([make("auto").cell, make("auto").cell])
    assert np.asarray(stacked(x)).shape[0] == 3
    assert issubclass(cell_cls, layers.Layer)
    deep = rnnkit.Sequential([layers.Input((9, 4)), make("auto", return_sequences=True),
                              make("auto")])
    assert np.all(np.isfinite(np.asarray(deep(x))))


@pytest.mark.parametrize("kind", sorted(CASES))
def test_save_load_round_trip(kind, tmp_path):
    make, _, _, _ = CASES[kind]
    x, _ = _data()
    model = rnnkit.Sequential([layers.Input((9, 4)), make("parallel", return_sequences=True,
                                                          dropout=0.1), layers.Dense(2)])
    want = np.asarray(model(x))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = rnnkit.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(x)), want, rtol=1e-6, atol=1e-6)
    rec = loaded.layers[0]
    assert type(rec).__name__ == type(model.layers[0]).__name__
    assert rec.cell.mode == "parallel" and rec.cell.dropout == 0.1


@pytest.mark.parametrize("kind", sorted(CASES))
def test_fit_lowers_loss(kind):
    make, _, _, _ = CASES[kind]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 12, 4)).astype(np.float32)
    y = np.cumsum(x[..., :1], axis=1)[:, -1] * 0.3
    rnnkit.set_random_seed(0)
    model = rnnkit.Sequential([layers.Input((12, 4)), make("auto"), layers.Dense(1)])
    model.compile(optimizer=rnnkit.optimizers.Adam(0.02), loss="mse")
    hist = model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    losses = hist.history["loss"]
    assert losses[-1] < 0.6 * losses[0]


@pytest.mark.parametrize("kind", sorted(CASES))
def test_dropout_same_mask_in_both_modes_and_stateful(kind):
    make, _, _, _ = CASES[kind]
    x, _ = _data()
    par = make("parallel", return_sequences=True, dropout=0.5, seed=3)
    seq = make("sequential", return_sequences=True, dropout=0.5, seed=3)
    par(x)
    seq(x)
    seq.set_weights(par.get_weights())
    a, b = np.asarray(par(x, training=True)), np.asarray(seq(x, training=True))
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert not np.allclose(a, np.asarray(par(x)))  # dropout is active in training only
    st = make("auto", stateful=True, return_sequences=True)
    ref = make("auto", return_sequences=True)
    first = np.asarray(st(x[:, :4]))
    ref(x)
    ref.set_weights(st.get_weights())
    second = np.asarray(st(x[:, 4:]))
    np.testing.assert_allclose(np.concatenate([first, second], 1), np.asarray(ref(x)),
                               rtol=1e-5, atol=1e-5)


def test_regularizers_and_constraints():
    x, _ = _data()
    layer = layers.MinGRU(4, kernel_regularizer="l2", bias_constraint="non_neg")
    layer(x)
    assert len(layer.losses) == 1 and float(layer.losses[0]) > 0
    lru = layers.LRU(3, B_regularizer="l1", D_constraint="non_neg")
    lru(x)
    assert len(lru.losses) == 2  # B_re and B_im
    assert [w.name for w in lru.weights] == ["nu_log", "theta_log", "gamma_log", "B_re",
                                            "B_im", "C_re", "C_im", "D"]


def test_weight_layouts_and_lru_init():
    x, _ = _data(D=4)
    g, m = layers.MinGRU(5), layers.MinLSTM(5)
    g(x)
    m(x)
    assert [w.shape for w in g.get_weights()] == [(4, 10), (10,)]
    assert [w.shape for w in m.get_weights()] == [(4, 15), (15,)]
    lru = layers.LRU(2000, r_min=0.5, r_max=0.9, max_phase=1.0, seed=1)
    lru(x)
    nu_log, theta_log, gamma_log = (np.asarray(w, np.float64) for w in lru.get_weights()[:3])
    modulus = np.exp(-np.exp(nu_log))
    assert modulus.min() >= 0.5 - 1e-6 and modulus.max() <= 0.9 + 1e-6
    phase = np.exp(theta_log)
    assert phase.min() >= 0 and phase.max() <= 1.0 + 1e-6
    np.testing.assert_allclose(np.exp(gamma_log), np.sqrt(1 - modulus ** 2), rtol=1e-5)
    # uniform on the ring: |lambda|^2 is uniform on [r_min^2, r_max^2]
    assert abs(np.mean(modulus ** 2) - (0.25 + 0.81) / 2) < 0.02
    b_re = np.asarray(lru.get_weights()[3])
    assert abs(b_re.std() - (1 / 8) ** 0.5) < 0.03


@pytest.mark.parametrize("make, match", [
    (lambda: layers.MinGRU(0), "units"),
    (lambda: layers.MinLSTM(2.5), "units"),
    (lambda: layers.LRU(-1), "state_dim"),
    (lambda: layers.LRU(4, r_min=0.9, r_max=0.5), "r_min < r_max"),
    (lambda: layers.LRU(4, r_max=1.5), r"\[0, 1\]"),
    (lambda: layers.MinGRU(4, mode="fast"), "mode"),
    (lambda: layers.MinGRU(4, dropout=1.0), "dropout"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_inputs():
    layer = layers.MinGRU(4)
    with pytest.raises(ValueError, match="rank 3"):
        layer(np.zeros((2, 3), np.float32))
    layer(np.zeros((2, 3, 5), np.float32))
    with pytest.raises(ValueError, match="initial state"):
        layer(np.zeros((2, 3, 5), np.float32), initial_state=[np.zeros((2, 3), np.float32)])
    lru = layers.LRU(4)
    with pytest.raises(ValueError, match="2 initial state"):
        lru(np.zeros((2, 3, 5), np.float32), initial_state=[np.zeros((2, 4), np.float32)])


@pytest.mark.parametrize("kind", sorted(CASES))
def test_nan_stays_in_its_row(kind):
    make, _, _, _ = CASES[kind]
    x, _ = _data()
    x[1, 3, 0] = np.nan
    out = np.asarray(make("parallel", return_sequences=True)(x))
    assert np.all(np.isfinite(out[[0, 2]]))
    assert np.isnan(out[1, 3:]).any() and np.all(np.isfinite(out[1, :3]))


def test_readme_example_runs(capsys):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = re.search(r"## Parallel-scan layers.*?```python\n(.*?)```", readme, re.S).group(1)
    exec(compile(block, "README.md", "exec"), {})  # noqa: S102 - our own documentation
    assert "(2, 8) [(32,), (32,), (32,), (8, 32)]" in capsys.readouterr().out


@pytest.mark.parametrize("spec, formula, value", [
    ("MinGRU(64)", "2*u*d+2*u", 2 * 64 * 5 + 2 * 64),
    ("MinLSTM(8, use_bias=False)", "3*u*d", 3 * 8 * 5),
    ("LRU(16)", "4*n*d+3*n+d", 4 * 16 * 5 + 3 * 16 + 5)])
def test_explain_shows_equations_and_formula(spec, formula, value):
    import rnnkit.explain

    info = rnnkit.explain(spec).to_dict()
    text = str(rnnkit.explain(spec))
    assert formula in text and str(value) in text
    assert ("h_t = (1 - z_t) * h_{t-1} + z_t * h~_t" in text) == spec.startswith("MinGRU")
    assert ("s_t = lambda * s_{t-1}" in text) == spec.startswith("LRU")
    assert info["params"] == value
