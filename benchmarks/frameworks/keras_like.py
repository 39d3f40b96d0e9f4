"""The one model builder shared by every Keras-shaped API (keras-jax, tf-keras, rnnkit).

All three are driven by exactly the same calls, so their rows differ only in the library.
"""

from __future__ import annotations

from benchmarks.frameworks import NotSupported


def build(layers, models, optimizers, wl, *, bf16_layer_kwargs=None, compile_kwargs=None):
    """Returns `(model, inputs)` for workload `wl`; `inputs` is what predict/train_on_batch take."""
    L = layers
    if wl.arch == "charlm":
        return models.Sequential([
            L.Input(shape=(wl.T,), dtype="int32"), L.Embedding(wl.vocab, wl.D),
            {"lstm": L.LSTM, "gru": L.GRU}[wl.cell](wl.H, return_sequences=True),
            L.Dense(wl.vocab)]), "charlm"
    cell_cls = {"simple_rnn": L.SimpleRNN, "lstm": L.LSTM, "gru": L.GRU}[wl.cell]
    rnn_kw, head_kw = {}, {}
    if wl.bf16:
        if bf16_layer_kwargs is None:
            raise NotSupported("no bf16 dtype policy")
        rnn_kw = dict(bf16_layer_kwargs)
        head_kw = {"dtype": "float32"}  # keep the regression head and the loss in f32

    if wl.masked:
        x_in = L.Input(shape=(wl.T, wl.D))
        m_in = L.Input(shape=(wl.T,), dtype="bool")
        h = cell_cls(wl.H, **rnn_kw)(x_in, mask=m_in)
        model = models.Model([x_in, m_in], L.Dense(1, **head_kw)(h))
        return model, "masked"

    stack = [L.Input(shape=(wl.T, wl.D))]
    if wl.arch == "single":
        stack.append(cell_cls(wl.H, **rnn_kw))
    elif wl.arch == "bidirectional":
        stack.append(L.Bidirectional(cell_cls(wl.H, **rnn_kw)))
    elif wl.arch == "stacked2":
        stack += [cell_cls(wl.H, return_sequences=True, **rnn_kw), cell_cls(wl.H, **rnn_kw)]
    else:
        raise NotSupported(wl.arch)
    stack.append(L.Dense(1, **head_kw))
    return models.Sequential(stack), "plain"


def make_step(layers, models, optimizers, wl, data, *, sync=lambda r: r, bf16_layer_kwargs=None,
              compile_kwargs=None, losses=None):
    """Builds and compiles the model; returns the callable timed per rep (`losses`: the
    library's losses module, needed by the charlm workload)."""
    model, kind = build(layers, models, optimizers, wl, bf16_layer_kwargs=bf16_layer_kwargs)
    if kind == "charlm":  # what `rnnkit train` compiles
        model.compile(optimizer=optimizers.Adam(learning_rate=3e-3, global_clipnorm=1.0),
                      loss=losses.SparseCategoricalCrossentropy(from_logits=True),
                      **(compile_kwargs or {}))
    else:
        model.compile(optimizer=optimizers.SGD(learning_rate=0.01), loss="mse",
                      **(compile_kwargs or {}))
    x = [data["x"], data["mask"]] if kind == "masked" else data["x"]
    y = data["y"]
    if wl.mode == "infer":
        return lambda: sync(model.predict_on_batch(x))
    return lambda: sync(model.train_on_batch(x, y))
