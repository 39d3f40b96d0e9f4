"""First call of a new process with JAX's persistent compilation cache on.

    python3 -m benchmarks.fresh_first_call [--repeats 3] [--out FILE]

For each cell (SimpleRNN, LSTM, GRU) and call (train step B64 T100 D64 H256, inference
B64, inference B1 T100 D8 H64), a child process builds the model, enables
`rnnkit.config.enable_compilation_cache(<a fresh temporary folder>)` and times the first
call (trace + compile or cache load + first execution); that fills the cache. Then
`--repeats` further fresh processes time the same first call against the filled cache;
the median of those is reported, with the cache-less (cold) time beside it. Model
building (weight initialisation) is not part of the timed call.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

CALLS = {
    "train B64": dict(batch=64, steps=100, dim=64, units=256, train=True),
    "infer B64": dict(batch=64, steps=100, dim=64, units=256, train=False),
    "infer B1": dict(batch=1, steps=100, dim=8, units=64, train=False),
}
CELLS = ("SimpleRNN", "LSTM", "GRU")

_CHILD = r"""
import json, sys, time
import numpy as np
import rnnkit
from rnnkit import config, layers as L, models as M, optimizers as O
spec = json.loads(sys.argv[1])
config.enable_compilation_cache(spec["cache"])
rng = np.random.default_rng(0)
x = rng.random((spec["batch"], spec["steps"], spec["dim"]), dtype=np.float32)
y = rng.random((spec["batch"], 1), dtype=np.float32)
m = M.Sequential([L.Input(shape=(spec["steps"], spec["dim"])),
                  getattr(L, spec["cell"])(spec["units"]), L.Dense(1)])
if spec["train"]:
    m.compile(optimizer=O.SGD(learning_rate=0.01), loss="mse")
[np.asarray(w) for w in m.get_weights()]  # initialisers done before the clock starts
t = time.perf_counter()
if spec["train"]:
    out = m.train_on_batch(x, y)
else:
    out = m.predict_on_batch(x)
np.asarray(out)
print(json.dumps({"seconds": time.perf_counter() - t}))
"""


def _child(spec: dict) -> float:
    proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(spec)],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"child failed for {spec}:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]


def measure(repeats: int) -> list[dict]:
    rows = []
    for cell in CELLS:
        for name, call in CALLS.items():
            with tempfile.TemporaryDirectory(prefix="rnnkit-cc-") as cache:
                spec = dict(call, cell=cell, cache=cache)
                cold = _child(spec)
                warm = [_child(spec) for _ in range(repeats)]
            rows.append(dict(cell=cell, call=name, cold=cold, cached=statistics.median(warm),
                             cached_all=warm))
            print(f"[first-call] {cell:9s} {name:9s} cold {cold:.3f} s, cached "
                  f"{statistics.median(warm):.3f} s", file=sys.stderr, flush=True)
    return rows


def render(rows: list[dict], command: str) -> str:
    lines = [f"Command: `{command}`", "",
             "| cell | call | no cache (s) | fresh process, cache filled (s, median) |",
             "|---|---|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['cell']} | {r['call']} | {r['cold']:.3f} | {r['cached']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", help="also write the Markdown table here")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error(f"--repeats must be >= 1; received {args.repeats}")
    rows = measure(args.repeats)
    text = render(rows, "python3 -m benchmarks.fresh_first_call" +
                  (f" --repeats {args.repeats}" if args.repeats != 3 else ""))
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
