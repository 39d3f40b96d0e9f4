"""`rnnkit generate CHECKPOINT`: sample characters (or forecast values) from a run."""

from __future__ import annotations

import sys

import numpy as np

from rnnkit.cli._common import CLIError, warn


def sample_text(model, vocab, prompt: str, length: int, temperature=0.8, top_k=None,
                greedy=False, seed=None, out=None) -> str:
    """Prints `prompt` then `length` sampled characters as they come; returns the sample."""
    from rnnkit.generate import generate

    out = out or sys.stdout
    if not prompt:
        raise CLIError("--prompt must not be empty (use $'\\n' for a newline)")
    missing = vocab.unknown(prompt)
    if missing:
        warn(f"the prompt has characters the model never saw: {''.join(missing)!r}; they "
             "are read as 'unknown'")
    ids = vocab.encode(prompt)
    out.write(prompt)
    out.flush()
    pieces = []

    def on_token(tok):
        ch = vocab.decode(tok[:1])
        pieces.append(ch)
        out.write(ch)
        out.flush()

    generate(model, ids, length, temperature=temperature, top_k=top_k, greedy=greedy,
             seed=seed, from_logits=True, on_token=on_token)
    out.write("\n")
    out.flush()
    return "".join(pieces)


def forecast(model, meta, length: int):
    """Forecasts `length` values after the end of the series, feeding predictions back."""
    s = meta["series"]
    window = np.asarray(s["last_window"], np.float32)
    norm = (window - s["mean"]) / s["std"]
    values = []
    for _ in range(length):
        pred = model.predict(norm[None, :, None], verbose=0)[0, 0]
        values.append(float(pred) * s["std"] + s["mean"])
        norm = np.concatenate([norm[1:], np.asarray([pred], np.float32)])
    return values


def run(args) -> int:
    from rnnkit.data import CharVocab
    from rnnkit.io.run_dir import load_run

    from rnnkit.variables import NonFiniteWeightsError, check_finite_weights

    model, meta = load_run(args.checkpoint, compile=False)
    try:  # NaN logits would quietly sample id 0 forever
        check_finite_weights(model, f"cannot generate from {args.checkpoint}")
    except NonFiniteWeightsError as err:
        raise CLIError(str(err)) from None
    kind = meta.get("kind")
    if kind == "forecast":
        s = meta["series"]
        print(f"forecast of {s.get('column')!r} ({s.get('path')}) for the next {args.length} steps "
              f"after its last value:")
        for i, v in enumerate(forecast(model, meta, args.length), start=1):
            print(f"t+{i}: {v:.6g}")
        return 0
    if kind != "charlm":
        raise CLIError(f"{args.checkpoint}: unknown run kind {kind!r}")
    vocab = CharVocab.from_json(meta["vocab"])
    prompt = args.prompt if args.prompt is not None else meta.get("default_prompt", "\n")
    sample_text(model, vocab, prompt, args.length, temperature=args.temperature,
                top_k=args.top_k, greedy=args.greedy, seed=args.seed)
    return 0
