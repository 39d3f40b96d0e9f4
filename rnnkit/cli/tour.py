"""`rnnkit tour`: the RNN tutorials' examples, in order, run with rnnkit.

Each section prints the code, runs it (printing the shapes), and explains the result in
one line. Where a tutorial's snippet is broken, the tour runs it, shows the error rnnkit
gives, then runs the corrected code. Returns 1 if any corrected example fails.
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
import traceback

PRELUDE = """\
import numpy as np
import rnnkit
from rnnkit.layers import (SimpleRNN, LSTM, GRU, Bidirectional, RNN, SimpleRNNCell,
                           LSTMCell, GRUCell, StackedRNNCells, AbstractRNNCell, Dense,
                           Embedding)
from rnnkit.regularizers import l1, l2, l1_l2

# a 3-time-step sequence with 5 features: shape (batch=1, timesteps=3, features=5)
input_data = np.array([[[1.0, 2.0, 3.0, 4.0, 5.0],
                        [2.0, 3.0, 4.0, 5.0, 6.0],
                        [3.0, 4.0, 5.0, 6.0, 7.0]]], dtype=np.float32)
"""

# (name, title, explanation, code, broken code or None)
SECTIONS = [
    ("simple_rnn", "SimpleRNN (tf.keras.layers.SimpleRNN)",
     "return_sequences=True gives one 64-vector per time step: (batch, timesteps, units).",
     """\
rnn_layer = SimpleRNN(units=64, return_sequences=True)(input_data)
print("Shape of rnn_layer:", rnn_layer.shape)
""", None),
    ("batch_and_time", "Batch size and time steps",
     "The layer works for any batch and sequence length: (2, 4, 5) in, (2, 4, 64) out.",
     """\
batch_size, num_time_steps = 2, 4
x = np.arange(batch_size * num_time_steps * 5, dtype=np.float32).reshape(2, 4, 5) / 10
out = SimpleRNN(units=64, return_sequences=True)(x)
print("input:", x.shape, "-> output:", out.shape)
""", None),
    ("lstm", "LSTM (tf.keras.layers.LSTM)",
     "Same shapes as SimpleRNN; inside, 4 gates (i, f, c, o) and a cell state c.",
     """\
lstm_layer = LSTM(units=64, return_sequences=True)(input_data)
print("Shape of lstm_layer:", lstm_layer.shape)
""", None),
    ("gru", "GRU (tf.keras.layers.GRU)",
     "Same shapes again; 3 gates (z, r, h) and no separate cell state.",
     """\
gru_layer = GRU(units=64, return_sequences=True)(input_data)
print("Shape of gru_layer:", gru_layer.shape)
""", None),
    ("bidirectional", "Bidirectional",
     "A forward and a backward LSTM, concatenated: 64 + 64 = 128 features per step.",
     """\
bidirectional_rnn = Bidirectional(LSTM(64, return_sequences=True))(input_data)
print("Shape of bidirectional_rnn:", bidirectional_rnn.shape)
""", None),
    ("stacking", "Stacking RNN layers (StackedRNNCells)",
     "StackedRNNCells takes CELLS (one step each), not layers; without return_sequences "
     "the RNN returns the last step only: (1, 64), not the tutorial's (1, 3, 64).",
     """\
# stack cells inside one RNN layer ...
stacked = StackedRNNCells([LSTMCell(64), LSTMCell(64)])
rnn_output = RNN(stacked)(input_data)
print("Shape of rnn_output:", rnn_output.shape)
# ... or stack layers: every layer but the last returns sequences
x = LSTM(64, return_sequences=True)(input_data)
x = LSTM(64, return_sequences=True)(x)
print("two stacked LSTM layers:", x.shape)
""", """\
lstm1 = LSTM(64, return_sequences=True)
lstm2 = LSTM(64, return_sequences=True)
stacked_lstm = StackedRNNCells([lstm1, lstm2])
rnn_output = RNN(stacked_lstm)(input_data)
"""),
    ("generation", "Sequence generation, one step at a time",
     "A layer call runs a whole sequence and returns one tensor; to carry states step by "
     "step use layer.step (or return_state=True); rnnkit.generate samples token models.",
     """\
rnn = SimpleRNN(64, return_sequences=True)
states = rnn.get_initial_state(1)          # zeros, (1, 64)
for t in range(input_data.shape[1]):
    output, states = rnn.step(input_data[:, t], states)
print("one step:", output.shape, "- equals the full call:",
      bool(np.allclose(output, rnn(input_data)[:, -1], atol=1e-5)))

# the tutorial's unpacking works once the layer returns its state:
rnn2 = SimpleRNN(64, return_sequences=True, return_state=True)
output, new_state = rnn2(input_data, initial_state=rnn2.get_initial_state(1))
print("return_state=True:", output.shape, new_state.shape)

# sampling a token model one step at a time (untrained, so the ids are arbitrary):
import rnnkit.generate
model = rnnkit.Sequential([Embedding(20, 8), LSTM(16, return_sequences=True), Dense(20)])
ids = rnnkit.generate(model, np.array([1, 2, 3]), length=8, greedy=True)
print("generated ids:", ids.shape, ids.tolist())
""", """\
rnn = SimpleRNN(64, return_sequences=True)
initial_state = rnn.get_initial_state(input_data)
sequence = [input_data]
for _ in range(5):
    output, new_state = rnn(sequence[-1], initial_state)
    sequence.append(output)
"""),
    ("custom_cell", "Custom RNN cell (AbstractRNNCell)",
     "A cell must map the 5 input features to the 64 state units with a kernel before "
     "adding them to the state.",
     """\
class MyRNNCell(AbstractRNNCell):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    @property
    def state_size(self):
        return self.units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.built = True

    def call(self, inputs, states):
        new_state = inputs @ self.kernel + states[0]
        return new_state, [new_state]

rnn_layer = RNN(MyRNNCell(64), return_sequences=True)(input_data)
print("Shape of rnn_layer:", rnn_layer.shape)
""", """\
class MyRNNCell(AbstractRNNCell):
    def __init__(self, units):
        super(MyRNNCell, self).__init__()
        self.units = units

    def call(self, inputs, state):
        new_state = inputs + state
        output = new_state
        return output, new_state

rnn_layer = RNN(MyRNNCell(64), return_sequences=True)(input_data)
"""),
    ("minimal_cell", "MinimalRNNCell and a stack of custom cells (the TF docs example)",
     "With symbolic inputs the batch is None; a list of cells stacks them: the last cell's "
     "units decide the output.",
     """\
class MinimalRNNCell(rnnkit.layers.Layer):
    def __init__(self, units, **kwargs):
        self.units = units
        self.state_size = units
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                name="recurrent_kernel")
        self.built = True

    def call(self, inputs, states):
        prev_output = states[0]
        output = inputs @ self.kernel + prev_output @ self.recurrent_kernel
        return output, [output]

x = rnnkit.Input((None, 5))
print("RNN(MinimalRNNCell(32)):", RNN(MinimalRNNCell(32))(x).shape)
print("RNN([MinimalRNNCell(32), MinimalRNNCell(64)]):",
      RNN([MinimalRNNCell(32), MinimalRNNCell(64)])(x).shape)
""", None),
    ("cell_and_state", "SimpleRNNCell + RNN with return_state ('hello', one-hot)",
     "outputs holds every step's state; states is the last one, so outputs[:, -1] == states.",
     """\
h, e, l, o = np.eye(4, dtype=np.float32)
X_data = np.array([[h, e, l, l, o], [e, o, l, l, l], [l, l, e, e, l]])   # (3, 5, 4)
cell = SimpleRNNCell(units=2)
rnn = RNN(cell, return_sequences=True, return_state=True)
outputs, states = rnn(X_data)
print("X_data:", X_data.shape, "outputs:", outputs.shape, "states:", states.shape)
print("last output == final state:", bool(np.allclose(outputs[:, -1], states)))
""", None),
    ("units", "Parameter: units",
     "units is the size of the output and the state; parameters = u*(d+u)+u.",
     """\
model = rnnkit.Sequential()
model.add(SimpleRNN(units=64, input_shape=(10, 32)))
print("output:", model.outputs[0].shape, "params:", model.count_params(),
      "= 64*(32+64)+64 =", 64 * (32 + 64) + 64)
""", None),
    ("activation", "Parameter: activation",
     "activation is applied to the new state; tanh keeps it in (-1, 1).",
     """\
x = np.random.default_rng(0).normal(size=(2, 20, 64)).astype(np.float32) * 3
for act in ("tanh", "relu"):
    y = SimpleRNN(units=128, activation=act)(x)
    print(f"activation={act!r}: output {y.shape}, "
          f"range [{float(y.min()):.2f}, {float(y.max()):.2f}]")
""", None),
    ("use_bias", "Parameter: use_bias",
     "use_bias=True adds a bias vector of `units` values; False removes it.",
     """\
for use_bias in (True, False):
    layer = SimpleRNN(units=32, use_bias=use_bias)
    layer.build((None, 8, 16))
    print(f"use_bias={use_bias}: params {layer.count_params()}, weights",
          [w.shape for w in layer.weights])
""", None),
    ("regularizers", "Parameters: kernel / recurrent / bias regularizers",
     "Regularizers do not change outputs; they add penalties to the loss (layer.losses).",
     """\
x = np.ones((1, 15, 128), dtype=np.float32)
for kwargs in (dict(kernel_regularizer=l2(0.01)), dict(recurrent_regularizer=l1(0.001)),
               dict(bias_regularizer=l1_l2(l1=0.001, l2=0.01))):
    layer = SimpleRNN(units=64, **kwargs)
    y = layer(x)
    print(f"{list(kwargs)[0]}: output {y.shape}, penalty {float(sum(layer.losses)):.4f}")
""", None),
    ("return_sequences", "Parameter: return_sequences",
     "True: one output per time step (batch, 30, 64); False: the last step (batch, 64).",
     """\
x = np.zeros((2, 30, 128), dtype=np.float32)
print("return_sequences=True: ", SimpleRNN(units=64, return_sequences=True)(x).shape)
print("return_sequences=False:", SimpleRNN(units=64)(x).shape)
""", None),
    ("return_state", "Parameter: return_state",
     "return_state=True returns [output, final state]; an LSTM returns [output, h, c].",
     """\
x = np.zeros((2, 40, 64), dtype=np.float32)
output, state = SimpleRNN(units=128, return_state=True)(x)
print("SimpleRNN:", output.shape, state.shape)
output, h, c = LSTM(units=128, return_state=True)(x)
print("LSTM:", output.shape, h.shape, c.shape)
""", None),
    ("by_hand", "RNN shapes, checked by hand (SimpleRNN + Dense)",
     "The layer is h_t = tanh(x_t Wx + h_(t-1) Wh + bh): NumPy reproduces model.predict.",
     """\
N, T, D, M, K = 1, 10, 3, 5, 2
X = np.random.default_rng(0).normal(size=(N, T, D)).astype(np.float32)
i = rnnkit.Input(shape=(T, D))
model = rnnkit.Model(i, Dense(K)(SimpleRNN(M)(i)))
Yhat = model.predict(X, verbose=0)
Wx, Wh, bh = model.layers[1].get_weights()
Wo, bo = model.layers[2].get_weights()
print("weights:", Wx.shape, Wh.shape, bh.shape, "params:", model.count_params(), "(45 + 12)")
h = np.zeros(M)
for t in range(T):
    h = np.tanh(X[0, t] @ Wx + h @ Wh + bh)
print("by hand:", np.round(h @ Wo + bo, 5), "model:", np.round(Yhat[0], 5))
""", None),
]


def _run_code(code, ns):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, "<tour>", "exec"), ns)  # noqa: S102 - the tour's own fixed code
    return buf.getvalue()


def _error_line(err) -> str:
    return f"{type(err).__name__}: {' '.join(str(err).split())}"


class _Out:
    def __init__(self, plain):
        self.plain = plain
        if not plain:
            from rich.console import Console

            self.console = Console()

    def header(self, n, total, title, explanation):
        if self.plain:
            print(f"\n=== {n}/{total}. {title} ===", flush=True)
        else:
            self.console.rule(f"[bold]{n}/{total}. {title}")

    def code(self, code, label=None):
        if label:
            self.text(label, style="bold")
        if self.plain:
            print("\n".join("    " + line for line in code.rstrip().splitlines()), flush=True)
        else:
            from rich.syntax import Syntax

            self.console.print(Syntax(code.rstrip(), "python", theme="ansi_dark",
                                      background_color="default"))

    def text(self, text, style=None):
        if self.plain:
            print(text, flush=True)
        else:
            self.console.print(text, style=style, markup=False, highlight=False)


def run(args) -> int:
    names = [s[0] for s in SECTIONS]
    if args.list:
        for name, title, *_ in SECTIONS:
            print(f"{name:18s} {title}")
        return 0
    chosen = SECTIONS
    if args.only:
        unknown = [n for n in args.only if n not in names]
        if unknown:
            from rnnkit.cli._common import CLIError

            raise CLIError(f"unknown tour section(s) {', '.join(unknown)}; choose from "
                           f"{', '.join(names)}")
        chosen = [s for s in SECTIONS if s[0] in args.only]
    out = _Out(args.plain or not sys.stdout.isatty())
    t0 = time.perf_counter()
    out.text("rnnkit tour: the RNN tutorials' examples, run with rnnkit (tf.keras.layers.X "
             "is rnnkit.layers.X).")
    out.code(PRELUDE, "Every example starts with:")
    ns: dict = {}
    exec(compile(PRELUDE, "<tour>", "exec"), ns)  # noqa: S102
    failures = []
    for k, (name, title, explanation, code, broken) in enumerate(chosen, start=1):
        out.header(k, len(chosen), title, explanation)
        if broken is not None:
            out.code(broken, "The tutorial's code:")
            try:
                _run_code(broken, dict(ns))
                out.text("(it ran without an error)")
            except Exception as err:  # noqa: BLE001 - showing the error is the point
                out.text("rnnkit says: " + _error_line(err), style="red")
            out.code(code, "Corrected:")
        else:
            out.code(code)
        t_section = time.perf_counter()
        try:
            output = _run_code(code, dict(ns))
            out.text(output.rstrip(), style="green")
        except Exception as err:  # noqa: BLE001
            failures.append(name)
            out.text("FAILED: " + _error_line(err), style="bold red")
            if not out.plain:
                traceback.print_exc()
        out.text(f"-> {explanation}  ({time.perf_counter() - t_section:.1f}s)",
                 style="italic")
    out.text(f"\n{len(chosen) - len(failures)}/{len(chosen)} sections ran in "
             f"{time.perf_counter() - t0:.1f}s. Next: `rnnkit explain \"LSTM(64)\" --input "
             "1,3,5`, `rnnkit train`.")
    if failures:
        print(f"rnnkit tour: {len(failures)} section(s) failed: {', '.join(failures)}",
              file=sys.stderr)
        return 1
    return 0
