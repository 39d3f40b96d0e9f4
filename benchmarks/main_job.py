"""The main job end to end: `rnnkit train`'s default model written in rnnkit, PyTorch and Keras 3.

    python3 -m benchmarks.main_job                      # 300 steps per framework, prints Markdown
    python3 -m benchmarks.main_job --steps 100 --only rnnkit,torch

Model (as `rnnkit train` builds it): Embedding(V, 48) -> GRU(256, return_sequences=True) ->
Dense(V) logits, sparse categorical crossentropy from logits, Adam(3e-3, global_clipnorm=1.0)
(torch: eps=1e-7 as Keras, clip_grad_norm_(1.0)); batches of 32 windows of 64 characters of the
default corpus (Python's standard-library sources), the same batches in the same order for every
framework. Each framework runs in its own process: `steps` training steps, each timed alone and
synced (the first `WARMUP` steps, which include compilation, are left out of the median), then the
mean validation loss over the same held-out windows. `benchmarks.run` calls this and puts the
table at the top of RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FRAMEWORKS = ("rnnkit", "torch", "keras-jax")
BATCH, SEQ_LEN, EMBED, UNITS, LR = 32, 64, 48, 256, 3e-3
VAL_WINDOWS = 256
WARMUP = 10


def prepare(steps: int, path: Path, seed: int = 0) -> dict:
    """Writes the shared batches and validation windows to `path` (an .npz); returns facts."""
    sys.path.insert(0, str(REPO))
    from rnnkit.data import CharVocab, default_corpus, next_char_windows

    corpus = default_corpus()
    vocab = CharVocab.build(corpus.text)
    n_val = int(len(corpus.text) * 0.1)
    x, y = next_char_windows(vocab.encode(corpus.text[:-n_val]), SEQ_LEN)
    vx, vy = next_char_windows(vocab.encode(corpus.text[-n_val:]), SEQ_LEN)
    order = np.random.default_rng(seed).permutation(len(x))
    order = np.resize(order, steps * BATCH)  # cycles when steps * 32 exceeds the windows
    np.savez(path, x=x[order], y=y[order], vx=vx[:VAL_WINDOWS], vy=vy[:VAL_WINDOWS],
             vocab=np.int64(len(vocab)))
    return {"vocab": len(vocab), "train_windows": len(x), "corpus": corpus.description}


# ---- one framework, in its own process --------------------------------------------------------

def _keras_like(lib_layers, lib_models, lib_optimizers, lib_losses, vocab):
    from benchmarks.frameworks import keras_like
    from benchmarks.workloads import Workload

    wl = Workload("charlm_train", "gru", "train", B=BATCH, T=SEQ_LEN, D=EMBED, H=UNITS,
                  arch="charlm", vocab=vocab)
    model, _ = keras_like.build(lib_layers, lib_models, lib_optimizers, wl)
    model.compile(optimizer=lib_optimizers.Adam(learning_rate=LR, global_clipnorm=1.0),
                  loss=lib_losses.SparseCategoricalCrossentropy(from_logits=True))

    def step(x, y):
        return float(np.asarray(model.train_on_batch(x, y)).reshape(-1)[0])

    def val_loss(vx, vy):
        return float(np.asarray(model.evaluate(vx, vy, batch_size=BATCH, verbose=0)).reshape(-1)[0])

    return step, val_loss


def _torch(vocab):
    import torch

    from benchmarks.frameworks import torch_fw
    from benchmarks.workloads import Workload

    torch_fw.torch = torch
    torch.manual_seed(0)
    wl = Workload("charlm_train", "gru", "train", B=BATCH, T=SEQ_LEN, D=EMBED, H=UNITS,
                  arch="charlm", vocab=vocab)
    model = torch_fw._charlm(wl)
    opt = torch.optim.Adam(model.parameters(), lr=LR, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(x, y):
        model.train()
        opt.zero_grad()
        loss = loss_fn(model(torch.from_numpy(x).long()).reshape(-1, vocab),
                       torch.from_numpy(y).long().reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    def val_loss(vx, vy):
        model.eval()
        with torch.no_grad():
            logits = model(torch.from_numpy(vx).long()).reshape(-1, vocab)
            return loss_fn(logits, torch.from_numpy(vy).long().reshape(-1)).item()

    return step, val_loss


def _build(framework: str, vocab: int):
    if framework == "torch":
        import torch
        return _torch(vocab), f"torch {torch.__version__}"
    if framework == "keras-jax":
        os.environ["KERAS_BACKEND"] = "jax"
        import keras
        keras.utils.set_random_seed(0)
        return (_keras_like(keras.layers, keras.models, keras.optimizers, keras.losses, vocab),
                f"Keras {keras.__version__} on JAX")
    import rnnkit
    import rnnkit.layers
    import rnnkit.losses
    import rnnkit.models
    import rnnkit.optimizers
    return (_keras_like(rnnkit.layers, rnnkit.models, rnnkit.optimizers, rnnkit.losses, vocab),
            f"rnnkit {getattr(rnnkit, '__version__', 'dev')}")


def worker(framework: str, data_path: str, out: str) -> None:
    data = np.load(data_path)
    vocab = int(data["vocab"])
    (step, val_loss), version = _build(framework, vocab)
    x, y = data["x"], data["y"]
    times, losses = [], []
    for i in range(len(x) // BATCH):
        sl = slice(i * BATCH, (i + 1) * BATCH)
        t = time.perf_counter()
        losses.append(step(x[sl], y[sl]))  # every step returns a host float: synced
        times.append(time.perf_counter() - t)
    result = {"framework": framework, "version": version, "steps": len(times),
              "median_ms": 1e3 * statistics.median(times[WARMUP:] or times),
              "first_steps_s": sum(times[:WARMUP]), "final_train_loss": float(np.mean(losses[-20:])),
              "val_loss": val_loss(data["vx"], data["vy"])}
    Path(out).write_text(json.dumps(result))


# ---- driver -----------------------------------------------------------------------------------

def run(steps: int = 300, only=FRAMEWORKS) -> tuple[list[dict], dict]:
    tmp = Path(tempfile.mkdtemp(prefix="rnnkit-mainjob-"))
    facts = prepare(steps, tmp / "data.npz")
    results = []
    for fw in only:
        out = tmp / f"{fw}.json"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO),
                                                                       os.environ.get("PYTHONPATH")])))
        print(f"[main job] {fw}: {steps} steps ...", file=sys.stderr, flush=True)
        proc = subprocess.run([sys.executable, "-m", "benchmarks.main_job", "--worker", fw,
                               "--data", str(tmp / "data.npz"), "--out", str(out)],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0 or not out.exists():
            tail = " ".join((proc.stderr or proc.stdout).split())[-200:]
            results.append({"framework": fw, "error": f"exit {proc.returncode}: {tail}"})
        else:
            results.append(json.loads(out.read_text()))
    return results, facts


def markdown(results: list[dict], facts: dict, steps: int) -> list[str]:
    ok = [r for r in results if "error" not in r]
    peers = [r["median_ms"] for r in ok if r["framework"] != "rnnkit"]
    best = min(peers) if peers else None
    md = ["## The main job end to end (what a user feels)", "",
          f"`rnnkit train`'s default model (Embedding({facts['vocab']}, {EMBED}) -> GRU({UNITS}) -> "
          f"Dense({facts['vocab']}), Adam {LR:g} with global_clipnorm 1.0, batches of {BATCH}x{SEQ_LEN} "
          f"characters) written the same way in each framework, trained {steps} steps on the same "
          f"batches of the default corpus; validation loss (nats/char) on the same {VAL_WINDOWS} "
          f"held-out windows after those steps. ms/step: median over steps {WARMUP + 1}..{steps}, "
          "each synced. Produced by `python3 -m benchmarks.main_job` (also run by "
          "`python3 -m benchmarks.run`).", "",
          "| framework | ms / step | x fastest peer | first 10 steps s | train loss (last 20) | "
          "validation loss |", "|---|---:|---:|---:|---:|---:|"]
    for r in results:
        if "error" in r:
            md.append(f"| {r['framework']} | error: {r['error']} | | | | |")
            continue
        ratio = f"{r['median_ms'] / best:.2f}x" if best else "n/a"
        md.append(f"| {r['version']} | {r['median_ms']:.1f} | {ratio} | {r['first_steps_s']:.1f} | "
                  f"{r['final_train_loss']:.3f} | {r['val_loss']:.3f} |")
    return md + [""]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m benchmarks.main_job", description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--only", default=",".join(FRAMEWORKS))
    p.add_argument("--worker", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args.worker, args.data, args.out)
        return 0
    only = [f.strip() for f in args.only.split(",") if f.strip()]
    bad = [f for f in only if f not in FRAMEWORKS]
    if bad or args.steps <= WARMUP:
        raise SystemExit(f"--only takes {', '.join(FRAMEWORKS)} (got {', '.join(bad)}); "
                         f"--steps must exceed {WARMUP} (got {args.steps})" if bad else
                         f"--steps must exceed {WARMUP} (got {args.steps})")
    results, facts = run(args.steps, only)
    print("\n".join(markdown(results, facts, args.steps)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
