"""Runs the RNN benchmark suite and writes benchmarks/RESULTS.md.

    python3 -m benchmarks.run                        # full run, all installed frameworks (~10-15 min)
    python3 -m benchmarks.run --smoke                # CI: tiny sizes, 1 round; prints, never writes RESULTS.md
    python3 -m benchmarks.run --only rnnkit,torch --workloads lstm_infer,lstm_train --rounds 5

Each framework runs in its own worker process (benchmarks/worker.py), interleaved A B C D per round.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import datetime
import importlib.util
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # also allow `python3 benchmarks/run.py`
    sys.path.insert(0, str(REPO))

from benchmarks import main_job, measure, report  # noqa: E402
from benchmarks.frameworks import ADAPTERS, ENV, REQUIRES  # noqa: E402
from benchmarks.workloads import WORKLOADS  # noqa: E402

FRAMEWORK_ORDER = ["rnnkit", "torch", "keras-jax", "tf-keras", "jax-scan"]
RESULTS_MD = REPO / "benchmarks" / "RESULTS.md"


def _csv(value: str | None, valid: list[str], what: str) -> list[str]:
    if not value:
        return list(valid)
    names = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise SystemExit(f"Unknown {what}: {', '.join(unknown)}. Valid {what}: {', '.join(valid)}.")
    return [v for v in valid if v in names]  # canonical order


def _installed(framework: str) -> bool:
    try:
        return importlib.util.find_spec(REQUIRES[framework]) is not None
    except (ImportError, ValueError):
        return False


def _worker_env(framework: str) -> dict:
    env = dict(os.environ)
    env.update(ENV.get(framework, {}))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    return env


def _run_worker(args: list[str], framework: str | None, timeout_s: float, tmp: Path, tag: str) -> dict:
    out = tmp / f"{tag}.json"
    cmd = [sys.executable, "-m", "benchmarks.worker", *args, "--out", str(out)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=_worker_env(framework or "jax-scan"),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout_s)
        rc, tail = proc.returncode, proc.stdout[-2000:]
    except subprocess.TimeoutExpired as e:
        rc, tail = "timeout", (e.stdout or b"")[-2000:]
        tail = tail.decode(errors="replace") if isinstance(tail, bytes) else tail
    wall = time.perf_counter() - start
    payload = {}
    if out.exists():
        try:
            payload = json.loads(out.read_text())
        except json.JSONDecodeError:
            payload = {}
    if rc != 0 and framework:
        payload.setdefault("framework", framework)
        payload.setdefault("results", [])
        if payload.get("status", "ok") == "ok":
            payload["status"] = "error"
        payload.setdefault("message", f"worker exited with {rc}: {' '.join(tail.split())[-200:]}")
    payload["driver_wall_s"] = wall
    payload["returncode"] = rc
    return payload


def _progress(payload: dict, rounds: int) -> None:
    res = payload.get("results", [])
    counts = {k: sum(r["status"] == k for r in res) for k in ("ok", "error", "n/a")}
    status = payload.get("status", "error")
    detail = f" ({payload.get('message', '')[:120]})" if status != "ok" else ""
    print(f"[bench] round {payload['round']}/{rounds} {payload['framework']}: {status}{detail}; "
          f"{counts['ok']} ok, {counts['error']} errors, {counts['n/a']} n/a; "
          f"{payload['driver_wall_s']:.1f} s (import {payload.get('import_s', 0):.1f} s, idle wait "
          f"{report.total_idle_wait(payload):.1f} s, sentinel {payload.get('sentinel_start', 0):.0f}/"
          f"{payload.get('sentinel_end', 0):.0f} GFLOP/s)", file=sys.stderr, flush=True)


def _machine_facts() -> dict:
    facts = {"platform": platform.platform(), "python": platform.python_version()}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        model = next(line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                     if line.startswith("model name"))
        flags = next(line.split(":", 1)[1].split() for line in cpuinfo.splitlines()
                     if line.startswith("flags"))
        facts["cpu"] = model
        wanted = ["avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile"]
        facts["ISA flags present"] = ", ".join(f for f in wanted if f in flags) or "none of " + ", ".join(wanted)
    except (OSError, StopIteration):
        facts["cpu"] = platform.processor() or "unknown"
    facts["cores usable (affinity)"] = measure.cpu_count()
    try:
        mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal"))
        facts["memory"] = f"{mem_kb / 2**20:.1f} GiB"
    except (OSError, StopIteration):
        pass
    threads = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS")
               if k in os.environ}
    facts["thread / XLA environment"] = ", ".join(f"{k}={v}" for k, v in threads.items()) or \
        "defaults (no OMP_NUM_THREADS / MKL_NUM_THREADS / XLA_FLAGS set)"
    rnnkit_env = {k: v for k, v in os.environ.items() if k.startswith("RNNKIT_")}
    facts["rnnkit settings"] = (
        ", ".join(f"{k}={v}" for k, v in sorted(rnnkit_env.items())) or "defaults") + (
        "; float32 matmul precision \"high\" unless RNNKIT_FLOAT32_MATMUL_PRECISION says "
        "otherwise: float32 LSTM / GRU forwards with >= 16 batch rows per core and <= 2^21 "
        "weight elements run their matmuls as three bf16 AMX products (bf16x3, each product within ~1e-5 of exact; "
        "rnnkit/core/policy.py rule 8)")
    return facts


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python3 -m benchmarks.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--smoke", "--quick", dest="smoke", action="store_true",
                   help="CI mode: tiny sizes, 1 round, 3 reps, installed frameworks only; "
                        "never writes benchmarks/RESULTS.md")
    p.add_argument("--only", help=f"comma-separated frameworks: {','.join(FRAMEWORK_ORDER)}")
    p.add_argument("--workloads", help=f"comma-separated workloads: {','.join(WORKLOADS)}")
    p.add_argument("--rounds", type=int, help="interleaved rounds (default 3; smoke 1)")
    p.add_argument("--min-time", type=float, help="timed seconds per workload per round (default 1.5)")
    p.add_argument("--min-reps", type=int, help="timed reps per workload per round (default 15)")
    p.add_argument("--max-reps", type=int, help="cap on timed reps (default 3000)")
    p.add_argument("--warmup-time", type=float, help="warm-up seconds (default 0.3, and >= 3 calls)")
    p.add_argument("--out", help="Markdown output (default benchmarks/RESULTS.md; smoke: a temp file)")
    p.add_argument("--json", help="also write the raw per-process results and aggregated rows here")
    p.add_argument("--title", help="report title")
    p.add_argument("--preface", action="append", default=[], help="paragraph put under the title")
    p.add_argument("--idle-budget", type=float, default=180.0,
                   help="seconds the whole run may spend waiting for other processes to go quiet "
                        "(before each process and each timed window), shared evenly between the "
                        "processes (default 180; 0 disables waiting)")
    p.add_argument("--main-job-steps", type=int, default=300,
                   help="training steps of the main-job comparison put at the top of the report "
                        "(benchmarks/main_job.py; default 300, 0 skips it; never in --smoke)")
    p.add_argument("--list", action="store_true", help="list frameworks and workloads, then exit")
    p.add_argument("--rerender", metavar="JSON",
                   help="re-render the Markdown of a saved --json record (to --out), measure nothing")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list:
        print("frameworks:", ", ".join(FRAMEWORK_ORDER))
        for w in WORKLOADS.values():
            print(f"  {w.name:20s} {w.label:40s} {w.sizes}  {w.flops() / 1e9:.2f} GFLOP")
        return 0
    if args.rerender:
        return rerender(args.rerender, args.out)
    command = "python3 -m benchmarks.run" + "".join(f" {shlex.quote(a)}" for a in
                                                    (sys.argv[1:] if argv is None else argv))
    frameworks = _csv(args.only, FRAMEWORK_ORDER, "frameworks")
    workloads = _csv(args.workloads, list(WORKLOADS), "workloads")
    rounds = args.rounds or (1 if args.smoke else 3)
    timing = {k: v for k, v in (("min_time", args.min_time), ("min_reps", args.min_reps),
                                ("max_reps", args.max_reps), ("warmup_time", args.warmup_time))
              if v is not None}

    if args.out:
        out_md = Path(args.out)
        if args.smoke and out_md.resolve() == RESULTS_MD.resolve():
            raise SystemExit("--smoke never writes benchmarks/RESULTS.md; pass another --out.")
    elif args.smoke:
        out_md = Path(tempfile.mkdtemp(prefix="rnnkit-bench-smoke-")) / "RESULTS.md"
    else:
        out_md = RESULTS_MD

    notes, active = [], []
    for fw in frameworks:
        if _installed(fw):
            active.append(fw)
        elif fw == "tf-keras":
            notes.append("tf-keras skipped: TensorFlow is not importable here (optional peer; "
                         "`pip install tensorflow-cpu` to include it).")
        else:
            notes.append(f"{fw} skipped: module `{REQUIRES[fw]}` is not installed.")
    if not active:
        raise SystemExit("None of the requested frameworks is installed: " + "; ".join(notes))
    variants = [v for fw in active for v in ADAPTERS[fw][1]]

    timeout_s = 300 if args.smoke else 1800
    started = datetime.datetime.now(datetime.timezone.utc)
    t_start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="rnnkit-bench-"))
    calib_n = 512 if args.smoke else 2048
    print(f"[bench] calibrating matmul peak ({calib_n}^3) ...", file=sys.stderr, flush=True)
    peak_start = _run_worker(["--calibrate", "--calibrate-n", str(calib_n)], None, 600, tmp, "peak_start")

    runs = []
    per_process_idle = 0.0 if args.smoke else args.idle_budget / (rounds * len(active))

    def one(rnd: int, fw: str) -> dict:
        wait = measure.wait_for_idle(per_process_idle / 3, 0.2) if per_process_idle > 0 else 0.0
        worker_timing = dict(timing, idle_budget=max(0.0, per_process_idle - wait))
        if args.smoke:
            worker_timing = timing
        wargs = ["--workloads", ",".join(workloads), "--timing", json.dumps(worker_timing)]
        wargs += ["--smoke"] if args.smoke else []
        payload = _run_worker(["--framework", fw, *wargs], fw, timeout_s, tmp, f"r{rnd}_{fw}")
        payload.update(round=rnd, idle_wait_s=wait)
        _progress(payload, rounds)
        return payload

    for rnd in range(1, rounds + 1):
        if args.smoke:  # timings mean nothing in smoke mode: run the workers side by side
            with concurrent.futures.ThreadPoolExecutor(len(active)) as pool:
                runs += list(pool.map(lambda fw: one(rnd, fw), active))
        else:
            runs += [one(rnd, fw) for fw in active]

    main = None
    if not args.smoke and args.main_job_steps > 0:
        fws = [fw for fw in main_job.FRAMEWORKS if fw in active]
        results, facts = main_job.run(args.main_job_steps, fws)
        main = {"results": results, "facts": facts, "steps": args.main_job_steps}
    peak_end = None
    if not args.smoke:
        peak_end = _run_worker(["--calibrate", "--calibrate-n", str(calib_n)], None, 600, tmp, "peak_end")
    shutil.rmtree(tmp, ignore_errors=True)
    record = {
        "command": command, "smoke": args.smoke, "started": f"{started:%Y-%m-%d %H:%M UTC}",
        "total_s": time.perf_counter() - t_start, "rounds": rounds, "active": active,
        "workloads": workloads, "timing": timing, "idle_budget": args.idle_budget,
        "title": args.title, "preface": args.preface, "notes": notes,
        "peak_start": peak_start, "peak_end": peak_end, "runs": runs, "main_job": main}
    _finish(record, out_md, args.json)
    return 0


def _finish(record: dict, out_md: Path, json_path: str | None) -> None:
    """Aggregates the runs of `record`, writes the Markdown (and the JSON record if asked)."""
    smoke, workloads, active = record["smoke"], record["workloads"], record["active"]
    variants = [v for fw in active for v in ADAPTERS[fw][1]]
    peaks = [p for p in (record["peak_start"], record["peak_end"]) if p]
    best_peak = {k: max((p[k] for p in peaks if p.get(k)), default=None)  # the quieter calibration
                 for k in ("f32_peak", "bf16_peak")}
    rows = report.aggregate(record["runs"], workloads, variants, best_peak)
    versions = {}
    for run in record["runs"]:
        if run.get("version"):
            versions.setdefault(run["framework"], run["version"])
        elif run.get("status") in ("unavailable", "error"):
            versions.setdefault(run["framework"], f"{run['status']}: {run.get('message', '')[:150]}")
    versions["numpy"] = __import__("numpy").__version__
    cfg = dataclasses.replace(measure.SMOKE_TIMING if smoke else measure.TimingConfig(),
                              **record["timing"])
    machine = {"facts": _machine_facts(), "run": [
        f"Started {record['started']}; {record['total_s'] / 60:.1f} min in total; {record['rounds']} "
        f"round(s), frameworks interleaved in the order {' '.join(active)}, each in its own process.",
        f"Per workload and process: first call timed alone; warm-up >= {cfg.warmup_reps} calls "
        f"and >= {cfg.warmup_time} s; then >= {cfg.min_reps} reps and >= {cfg.min_time} s (cap "
        f"{cfg.max_reps} reps / {cfg.max_time} s), each rep timed alone and synced "
        f"(block_until_ready / .item() / NumPy result); a timed window in which other processes used "
        f"> {cfg.max_foreign_cpu:.0%} of the CPU is re-measured (at most {cfg.max_attempts} windows and "
        f"{cfg.retry_budget:.0f} s of re-measuring per process; the least disturbed window is kept). "
        f"Waiting for an idle machine (before each process, first call and timed window) was capped "
        f"at {record['idle_budget']:.0f} s for the whole run.",
        "Sizes: " + ("SMOKE (tiny, not comparable to anything)" if smoke else
                     "as in shared/perf/peer_bench.md (float32, batch-first, RNN(H) -> Dense(1), MSE, "
                     "SGD lr 0.01)"),
    ]}
    title = record.get("title") or ("rnnkit benchmark SMOKE run (tiny sizes; numbers mean nothing)"
                                    if smoke else "rnnkit benchmark results")
    preface = record.get("preface") or [
        "Produced by `python3 -m benchmarks.run` (method: benchmarks/README.md). Compare ratios "
        "measured in one run; absolute times drift between machines and runs."]
    if record.get("main_job"):
        mj = record["main_job"]
        preface = list(preface) + [""] + main_job.markdown(mj["results"], mj["facts"], mj["steps"])
    md = report.render(title=title, preface=preface, rows=rows, workloads=workloads, variants=variants,
                       runs=record["runs"], machine=machine,
                       peaks=[("start of run", record["peak_start"]), ("end of run", record["peak_end"])],
                       versions=versions, command=record["command"], notes=record["notes"], smoke=smoke)
    out_md.parent.mkdir(parents=True, exist_ok=True)
    out_md.write_text(md)
    if json_path:
        Path(json_path).write_text(json.dumps(
            dict(record, markdown=str(out_md), rows=[vars(r) for r in rows.values()]),
            indent=1, default=str))
    if smoke:
        print(md)
    print(f"[bench] done in {record['total_s'] / 60:.1f} min; wrote {out_md}", file=sys.stderr, flush=True)


def rerender(json_in: str, out: str | None) -> int:
    """Re-renders the Markdown of a saved run (`--json` output) without measuring anything."""
    record = json.loads(Path(json_in).read_text())
    out_md = Path(out or record["markdown"])
    if record["smoke"] and out_md.resolve() == RESULTS_MD.resolve():
        raise SystemExit("A smoke record never goes to benchmarks/RESULTS.md; pass another --out.")
    _finish(record, out_md, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
