"""The default character model (`rnnkit train`'s) trained on 1 vs N CPU devices.

    python3 -m benchmarks.devices                 # prints the table
    python3 -m benchmarks.devices --write         # also replaces/appends its section in RESULTS.md

Each device count runs in its own process (the count is fixed when JAX starts:
`--xla_force_host_platform_device_count`), rounds interleaved. A step is one
`train_on_batch` on a (32, 64) batch of character ids, timed alone (the returned loss is a
host float, so the step has finished). N > 1 trains under `DataParallel` over the N
devices; 1 device trains without a distribution. The load average is read before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
TITLE = "## More than one CPU device: default character model, ms/step"
VOCAB = 96


def child(devices: int, steps: int) -> dict:
    import numpy as np

    import rnnkit
    from rnnkit import distribution
    from rnnkit.cli.train import TEXT_DEFAULTS, build_char_model

    cfg = dict(TEXT_DEFAULTS)
    rng = np.random.default_rng(0)
    x = rng.integers(0, VOCAB, (cfg["batch_size"], cfg["seq_len"]))
    y = rng.integers(0, VOCAB, (cfg["batch_size"], cfg["seq_len"]))
    if devices > 1:
        distribution.set_distribution(distribution.DataParallel())
    rnnkit.set_random_seed(0)
    model = build_char_model(VOCAB, cfg)
    t0 = time.perf_counter()
    model.train_on_batch(x, y)
    first = time.perf_counter() - t0
    for _ in range(3):
        model.train_on_batch(x, y)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        model.train_on_batch(x, y)
        times.append((time.perf_counter() - t0) * 1e3)
    return {"devices": len(distribution.list_devices()), "first_s": first, "ms": times}


def run_child(devices: int, steps: int) -> dict:
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    proc = subprocess.run([sys.executable, "-m", "benchmarks.devices", "--child", str(devices),
                           "--steps", str(steps)], capture_output=True, text=True, env=env,
                          cwd=ROOT, check=False)
    if proc.returncode:
        raise RuntimeError(f"{devices}-device process failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def section(results: dict, counts, rounds, steps, load, command) -> str:
    base = statistics.median(results[counts[0]])
    lines = [TITLE, "",
             f"- Command: `{command}` ({rounds} rounds of {steps} timed steps per device count, "
             "each round a fresh process per count, counts interleaved).",
             f"- Model: `rnnkit train`'s default character model (GRU 256, Embedding 48, "
             f"vocabulary {VOCAB}), batch 32 x 64 characters, `train_on_batch`; N > 1 under "
             "`DataParallel` on N forced host devices (`--xla_force_host_platform_device_count`).",
             f"- Machine: {platform.machine()}, {os.cpu_count()} cores; load average "
             f"{load[0]:.1f} before, {load[1]:.1f} after (other processes were running: "
             "treat the ratio as indicative)."
             if max(load) > 1.5 else
             f"- Machine: {platform.machine()}, {os.cpu_count()} cores; load average "
             f"{load[0]:.1f} before, {load[1]:.1f} after.",
             "",
             "| CPU devices | median ms/step | min ms/step | vs 1 device |",
             "| --- | --- | --- | --- |"]
    for n in counts:
        ms = results[n]
        lines.append(f"| {n} | {statistics.median(ms):.1f} | {min(ms):.1f} | "
                     f"{base / statistics.median(ms):.2f}x |")
    lines += ["", "The native GRU loops already split the batch over the cores' threads on 1 "
              "device, so on a 2-core machine a second device adds no cores, only a split "
              "batch and a gradient all-reduce per step."]
    return "\n".join(lines) + "\n"


def write(text: str) -> None:
    current = RESULTS.read_text() if RESULTS.exists() else ""
    if TITLE in current:
        head, rest = current.split(TITLE, 1)
        tail = rest.split("\n## ", 1)
        current = head + text + ("\n## " + tail[1] if len(tail) > 1 else "")
    else:
        current = current.rstrip("\n") + "\n\n" + text
    RESULTS.write_text(current)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--devices", type=int, nargs="+", default=[1, 2])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--write", action="store_true", help="put the section in RESULTS.md")
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.steps)))
        return 0
    load_before = os.getloadavg()[0]
    results = {n: [] for n in args.devices}
    for r in range(args.rounds):
        for n in args.devices:
            out = run_child(n, args.steps)
            if out["devices"] != n:
                raise RuntimeError(f"asked for {n} devices, the process had {out['devices']}")
            results[n] += out["ms"]
            print(f"round {r + 1}: {n} device(s): median {statistics.median(out['ms']):.1f} "
                  f"ms/step, first step {out['first_s']:.1f} s", flush=True)
    command = " ".join(["python3 -m benchmarks.devices"] + list(sys.argv[1:] if argv is None
                                                                 else argv))
    text = section(results, args.devices, args.rounds, args.steps,
                   (load_before, os.getloadavg()[0]), command)
    print(text)
    if args.write:
        write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
