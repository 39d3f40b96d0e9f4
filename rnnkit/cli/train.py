"""`rnnkit train`: a character-level language model on text, or a CSV forecaster.

Default (no arguments): a character GRU trained for about 80 s on the source files of
Python's own standard library (real text that is on every machine; no download). Each
epoch prints the validation loss next to the unigram-entropy baseline, saves the model and
`meta.json` atomically into the run directory (default `runs/charlm`), and at the end a
sample is generated and `loss.png` written (with matplotlib). `--resume` continues a run;
Ctrl-C saves and exits with code 130; a diverging run stops at its first non-finite loss
(exit code 1), keeping the last good checkpoint (see `train_loop.py`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from rnnkit.cli import devices
from rnnkit.cli._common import CLIError, is_tty, say, warn
from rnnkit.io.run_dir import load_run, read_meta, run_paths
from rnnkit.cli.train_loop import fit_with_checkpoints, start_state

# Sized for the default run to take about 80 s on 2 CPU cores (measured: see README.md)
# and to end ~50% below the unigram-entropy baseline.
TEXT_DEFAULTS = dict(cell="gru", units=256, layers=1, embed=48, seq_len=64, epochs=3,
                     batch_size=32, lr=3e-3, max_chars=900_000, val_fraction=0.1)
SERIES_DEFAULTS = dict(cell="lstm", units=32, layers=1, window=24, epochs=30,
                       batch_size=32, lr=3e-3, val_fraction=0.2)
DEFAULT_PROMPT = "def "


# ------------------------------------------------------------------------------------------
# configuration
# ------------------------------------------------------------------------------------------
def _check_args(args, kind):
    if args.text and args.csv:
        raise CLIError("give either --text FILE... or --csv FILE, not both")
    if kind == "forecast":
        if not args.column:
            raise CLIError("--csv needs --column NAME (the numeric column to forecast)")
    else:
        for flag, value in (("--column", args.column), ("--window", args.window)):
            if value is not None:
                raise CLIError(f"{flag} only applies with --csv FILE")
    for f in (args.text or []) + ([args.csv] if args.csv else []):
        if not Path(f).exists():
            raise CLIError(f"file not found: {f}")
        if Path(f).is_dir():
            raise CLIError(f"{f} is a directory; pass a file")
    if args.val_fraction is not None and not 0 < args.val_fraction < 0.9:
        raise CLIError(f"--val-fraction must be between 0 and 0.9; received "
                       f"{args.val_fraction}")


def _config(args, kind):
    defaults = SERIES_DEFAULTS if kind == "forecast" else TEXT_DEFAULTS
    cfg = dict(defaults)
    for key in defaults:
        value = getattr(args, key, None)
        if value is not None:
            cfg[key] = value
    cfg["seed"] = args.seed
    if kind == "forecast":
        cfg["csv"] = str(Path(args.csv).resolve()) if args.csv else None
        cfg["column"] = args.column
    else:
        cfg["text_files"] = [str(Path(f).resolve()) for f in args.text] if args.text else None
    return cfg


# ------------------------------------------------------------------------------------------
# models
# ------------------------------------------------------------------------------------------
def _layer_class(cell: str):
    """The recurrent layer of `--cell NAME`: the layer class NAME in snake case or lower
    case names (`lstm` -> LSTM, `simple_rnn` -> SimpleRNN, `mingru` -> MinGRU)."""
    import rnnkit.layers as L
    from rnnkit.layers.layer import to_snake_case
    from rnnkit.layers.rnn import RNN

    for name in L.__all__ if hasattr(L, "__all__") else dir(L):
        obj = getattr(L, name)
        if isinstance(obj, type) and issubclass(obj, RNN) and cell in (to_snake_case(name),
                                                                          name.lower()):
            return obj
    raise CLIError(f"--cell {cell!r} names no recurrent layer of rnnkit.layers")


def _recurrent(cfg, return_sequences):
    from rnnkit.layers import Dense

    cls = _layer_class(cfg["cell"])
    # a layer whose output width is its input width (LRU) gets a Dense(units) projection first
    pre = [Dense(cfg["units"])] if getattr(cls, "keeps_input_width", False) else []
    return pre + [cls(cfg["units"], return_sequences=(return_sequences or i < cfg["layers"] - 1))
                  for i in range(cfg["layers"])]


def build_char_model(vocab_size: int, cfg: dict):
    """Embedding -> recurrent layer(s) (all steps) -> Dense logits over the vocabulary."""
    import rnnkit
    from rnnkit.layers import Dense, Embedding

    model = rnnkit.Sequential(
        [rnnkit.Input(shape=(None,), dtype="int32"), Embedding(vocab_size, cfg["embed"]),
         *_recurrent(cfg, return_sequences=True), Dense(vocab_size)], name="charlm")
    model.compile(optimizer=rnnkit.optimizers.Adam(cfg["lr"], global_clipnorm=1.0),
                  loss=rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def build_series_model(cfg: dict):
    """(window, 1) -> recurrent layer(s) -> Dense(1): the next value (normalized)."""
    import rnnkit
    from rnnkit.layers import Dense

    model = rnnkit.Sequential(
        [rnnkit.Input(shape=(cfg["window"], 1)), *_recurrent(cfg, return_sequences=False),
         Dense(1)], name="forecaster")
    model.compile(optimizer=rnnkit.optimizers.Adam(cfg["lr"], global_clipnorm=1.0),
                  loss="mse")
    return model


def _describe(model, cfg, kind):
    layer = _layer_class(cfg["cell"]).__name__
    rec = " -> ".join([f"{layer}({cfg['units']})"] * cfg["layers"])
    if any(type(x).__name__ == "Dense" for x in model.layers[:-1]):  # _recurrent's projection
        rec = f"Dense({cfg['units']}) -> {rec}"
    if kind == "charlm":
        v = model.layers[-1].units
        arch = f"Embedding({v}, {cfg['embed']}) -> {rec} -> Dense({v}) logits"
    else:
        arch = f"input ({cfg['window']}, 1) -> {rec} -> Dense(1)"
    return f"{arch}; {model.count_params():,} parameters"


def _plot(args, state, run_dir, **kwargs):
    from rnnkit.cli import plot

    if args.no_plot:
        return None
    if not plot.available():
        warn(plot.MISSING)
        return None
    path = plot.plot_training(Path(run_dir) / "loss.png", state.meta.get("history", {}),
                              state.meta.get("batch_losses"), **kwargs)
    if path is not None:
        say(f"plot: wrote {path}")
    return path


# ------------------------------------------------------------------------------------------
# text
# ------------------------------------------------------------------------------------------
def _load_text(cfg):
    from rnnkit.data import default_corpus, read_text_files

    if cfg.get("text_files"):
        return read_text_files(cfg["text_files"])
    return default_corpus()


def _split_text(text, cfg):
    from rnnkit.data.text import plural

    n_val = int(len(text) * cfg["val_fraction"])
    if n_val <= cfg["seq_len"] or len(text) - n_val <= cfg["seq_len"]:
        raise CLIError(
            f"the text has {plural(len(text), 'character')}: too short for training and "
            f"validation windows of --seq-len {cfg['seq_len']} (need more than "
            f"{int(cfg['seq_len'] / min(cfg['val_fraction'], 1 - cfg['val_fraction'])) + 1:,}"
            "); use more text, a smaller --seq-len, or a larger --val-fraction")
    return text[:-n_val], text[-n_val:]


def _train_text(args, cfg, meta, model, run_dir):
    from rnnkit.data import CharVocab, next_char_windows, unigram_entropy
    from rnnkit.data.text import nats_to_bits

    corpus = _load_text(cfg)
    if corpus.note:
        warn(corpus.note)
    text = corpus.text[: cfg["max_chars"]]
    train_text, val_text = _split_text(text, cfg)
    vocab = CharVocab.from_json(meta["vocab"]) if meta.get("vocab") else CharVocab.build(
        train_text)
    x, y = next_char_windows(vocab.encode(train_text), cfg["seq_len"])
    vx, vy = next_char_windows(vocab.encode(val_text), cfg["seq_len"])
    baseline = unigram_entropy(vy, len(vocab))
    if model is None:
        import rnnkit

        rnnkit.set_random_seed(cfg["seed"])
        model = build_char_model(len(vocab), cfg)
    meta.update(kind="charlm", config=cfg, vocab=vocab.to_json(), corpus=corpus.description,
                baseline_nats=baseline,
                default_prompt=DEFAULT_PROMPT if not cfg.get("text_files") else "\n")
    steps = -(-len(x) // cfg["batch_size"])
    say("rnnkit train: character-level language model")
    say(f"data: {corpus.description}")
    say(f"using {len(text):,} characters: {len(train_text):,} train ({len(x)} windows of "
        f"{cfg['seq_len']}), {len(val_text):,} validation; vocabulary {len(vocab)} characters")
    say(f"model: {_describe(model, cfg, 'charlm')}")
    say(f"baseline: unigram entropy of the validation text = {baseline:.3f} nats/char "
        f"({nats_to_bits(baseline):.2f} bits/char); a model that ignores context cannot do "
        "better")
    state, done = start_state(args, meta, run_dir, steps, cfg)
    if done < cfg["epochs"]:
        say(f"training epochs {done + 1}..{cfg['epochs']} ({steps} batches of "
            f"{cfg['batch_size']}x{cfg['seq_len']} characters each); checkpoints: "
            f"{run_paths(run_dir)[0]}" + ("   (Ctrl-C saves and stops)" if is_tty() else ""))

    def extra(val):
        return (f" nats/char ({nats_to_bits(val):.2f} bits/char; baseline {baseline:.3f}, "
                f"{_vs(val, baseline)})")

    if done < cfg["epochs"]:
        code = fit_with_checkpoints(model, state, x, y, vx, vy, cfg, extra)
        _plot(args, state, run_dir, baseline=("unigram baseline", baseline), unit="nats/char",
              title="character LM: cross-entropy")
        if code:
            return code
    hist = meta.get("history", {}).get("val_loss", [])
    if hist:
        say(f"validation loss: {hist[0]:.3f} after epoch 1 -> {hist[-1]:.3f} nats/char after "
            f"epoch {len(hist)} (baseline {baseline:.3f}; {_vs(hist[-1], baseline)}); "
            f"{state.elapsed():.0f}s of training in total")
    if args.sample_length:
        from rnnkit.cli.generate_cmd import sample_text

        prompt = args.prompt if args.prompt is not None else meta["default_prompt"]
        say(f"sample (temperature 0.8, prompt {prompt!r}):")
        say("-" * 60)
        sample_text(model, vocab, prompt, args.sample_length, temperature=0.8,
                    seed=cfg["seed"])
        say("-" * 60)
    say(f"more samples: rnnkit generate {run_dir} --prompt {_shell_quote(meta['default_prompt'])}"
        " --length 200")
    return 0


def _vs(value, baseline) -> str:
    pct = 100 * (1 - value / baseline)
    return f"{pct:.0f}% below it" if pct >= 0 else f"{-pct:.0f}% above it"


def _shell_quote(text):
    import shlex

    return shlex.quote(text) if text != "\n" else "$'\\n'"


# ------------------------------------------------------------------------------------------
# time series
# ------------------------------------------------------------------------------------------
def _series_data(cfg, series):
    from rnnkit.data import DataError, make_windows

    values = series.values
    window = cfg["window"]
    x_all, y_all = make_windows(values, window)
    n = len(x_all)
    if n < 10:
        fix = (f"use a --window of at most {len(values) - 10}" if len(values) > 10
               else "use a longer series")
        raise DataError(f"the series has {len(values)} values; with --window {window} that "
                        f"is only {n} training examples (need at least 10); {fix}")
    n_val = max(2, int(round(n * cfg["val_fraction"])))
    n_train = n - n_val
    train_end = n_train + window  # values used by the training windows and targets
    mean = float(values[:train_end].mean())
    std = float(values[:train_end].std()) or 1.0
    xs = ((x_all - mean) / std).astype(np.float32)
    ys = ((y_all - mean) / std).astype(np.float32)
    return (xs[:n_train], ys[:n_train], xs[n_train:], ys[n_train:], mean, std)


def _train_series(args, cfg, meta, model, run_dir):
    from rnnkit.data import read_csv_column

    series = read_csv_column(cfg["csv"], cfg["column"])
    x, y, vx, vy, mean, std = _series_data(cfg, series)
    if meta.get("series"):
        mean, std = meta["series"]["mean"], meta["series"]["std"]
    persistence = float(np.mean((vx[:, -1, 0] - vy[:, 0]) ** 2))
    if model is None:
        import rnnkit

        rnnkit.set_random_seed(cfg["seed"])
        model = build_series_model(cfg)
    last_window = series.values[-cfg["window"]:].tolist()
    meta.update(kind="forecast", config=cfg,
                series={"path": series.path, "column": series.column, "mean": mean,
                        "std": std, "n_values": int(len(series.values)),
                        "last_window": last_window},
                baseline_mse=persistence)
    steps = -(-len(x) // cfg["batch_size"])
    say("rnnkit train: time-series forecaster")
    say(f"data: column {series.column!r} of {series.path}: {len(series.values):,} values; "
        f"windows of {cfg['window']} -> the next value; {len(x)} train, {len(vx)} validation "
        f"(the last part of the series); normalized with mean {mean:.4g}, std {std:.4g}")
    say(f"model: {_describe(model, cfg, 'forecast')}")
    say(f"baseline: repeating the last value (persistence) gives validation MSE "
        f"{persistence:.4f} (normalized units)")
    state, done = start_state(args, meta, run_dir, steps, cfg)

    def extra(val):
        return f" (persistence {persistence:.4f})"

    if done < cfg["epochs"]:
        say(f"training epochs {done + 1}..{cfg['epochs']}; checkpoints: "
            f"{run_paths(run_dir)[0]}")
        code = fit_with_checkpoints(model, state, x, y, vx, vy, cfg, extra)
        if code:
            _plot(args, state, run_dir, unit="MSE, normalized", title="forecaster: loss")
            return code
    pred = model.predict(vx, verbose=0)[:, 0]
    actual = vy[:, 0] * std + mean
    predicted = pred * std + mean
    last = vx[:, -1, 0] * std + mean
    rmse = float(np.sqrt(np.mean((predicted - actual) ** 2)))
    rmse_p = float(np.sqrt(np.mean((last - actual) ** 2)))
    say(f"validation RMSE {rmse:.4g} (persistence {rmse_p:.4g}) in {series.column!r} units")
    _plot(args, state, run_dir, baseline=("persistence", persistence), unit="MSE, normalized",
          title="forecaster: loss",
          forecast={"actual": actual, "predicted": predicted, "persistence": last,
                    "title": f"validation: {series.column} forecast vs actual"})
    say(f"forecast the next values: rnnkit generate {run_dir} --length 10")
    return 0


# ------------------------------------------------------------------------------------------
def run(args) -> int:
    kind = "forecast" if args.csv else "charlm"
    _check_args(args, kind)
    devices.start(getattr(args, "devices", None))  # before JAX starts (--resume loads arrays)
    run_dir = Path(args.out or os.path.join("runs", kind))
    model = None
    meta = {}
    if args.resume:
        if not run_paths(run_dir)[0].exists():
            raise CLIError(f"nothing to resume in {run_dir}: no checkpoint there (run without "
                           "--resume first, or pass --out DIR)")
        meta = read_meta(run_dir)
        if meta.get("kind") != kind:
            raise CLIError(f"the run in {run_dir} is a {meta.get('kind')} run; resume it with "
                           + ("--csv/--column as before" if meta.get("kind") == "forecast"
                              else "no --csv"))
        model, meta = load_run(run_dir)
        cfg = dict(meta["config"])
        done = meta.get("epochs_done", 0)  # drop a partial epoch's batch losses (redone)
        meta["batch_losses"] = [b for b in meta.get("batch_losses", []) if b[0] <= done]
        if args.epochs is not None:
            cfg["epochs"] = args.epochs
        meta["config"] = cfg
        say(f"resuming {run_dir}: {meta.get('epochs_done', 0)} epochs done, training up to "
            f"{cfg['epochs']} (the run's own data and settings are used)")
    else:
        cfg = _config(args, kind)
        if run_paths(run_dir)[0].exists():
            warn(f"{run_dir} already has a checkpoint; starting a new run that replaces it "
                 "(use --resume to continue it instead)")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CLIError(f"cannot create the run directory {run_dir}: "
                       f"{err.strerror or err}") from None
    if not os.access(run_dir, os.W_OK):
        raise CLIError(f"cannot write to the run directory {run_dir}; pass --out DIR")
    cfg["devices"] = devices.check_batch_size(getattr(args, "devices", None), cfg["batch_size"])
    from rnnkit import __version__

    meta["rnnkit_version"] = __version__
    t0 = time.perf_counter()
    if kind == "charlm":
        code = _train_text(args, cfg, meta, model, run_dir)
    else:
        code = _train_series(args, cfg, meta, model, run_dir)
    if code == 0:
        say(f"done in {time.perf_counter() - t0:.0f}s; run directory: {run_dir}")
    return code

