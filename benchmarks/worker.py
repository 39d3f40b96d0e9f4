"""One benchmark process: one framework, all requested workloads, results as JSON.

    python3 -m benchmarks.worker --framework torch --workloads lstm_infer,gru_train --out r.json
    python3 -m benchmarks.worker --calibrate --out peak.json

The driver (benchmarks/run.py) starts one of these per framework per round. Results are rewritten
to --out after every workload, so a crash keeps what was measured before it.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import importlib
import json
import os
import sys
import time
import traceback

from benchmarks import measure
from benchmarks.frameworks import ADAPTERS, NotSupported
from benchmarks.workloads import WORKLOADS, make_data, smoke_sized


def _write(path: str, payload: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=1)
    os.replace(tmp, path)


def _one_line(e: BaseException, limit: int = 300) -> str:
    msg = " ".join(str(e).split())
    return f"{type(e).__name__}: {msg}"[:limit]


def run_framework(framework: str, workload_names: list[str], cfg: measure.TimingConfig,
                  smoke: bool, out: str) -> None:
    start = time.perf_counter()
    payload = {"framework": framework, "pid": os.getpid(), "status": "ok", "results": [],
               "sentinel_start": measure.sentinel_gflops()}
    module_name, variants = ADAPTERS[framework]
    t = time.perf_counter()
    try:
        adapter = importlib.import_module(f"benchmarks.frameworks.{module_name}")
        payload["version"] = adapter.setup()
    except ImportError as e:
        payload.update(status="unavailable", message=_one_line(e))
    except Exception as e:  # noqa: BLE001 - reported, never raised
        payload.update(status="error", message=_one_line(e), traceback=traceback.format_exc())
    payload["import_s"] = time.perf_counter() - t
    _write(out, payload)
    if payload["status"] != "ok":
        return

    for name in workload_names:
        wl = smoke_sized(WORKLOADS[name]) if smoke else WORKLOADS[name]
        data = make_data(wl)
        for variant in variants:
            entry = {"workload": name, "variant": variant, "sizes": wl.sizes, "flops": wl.flops()}
            measure.reset_peak_rss()
            fn = None
            try:
                fn = adapter.make(variant, wl, data)
                entry.update(measure.time_callable(fn, cfg), status="ok")
            except NotSupported as e:
                entry.update(status="n/a", message=str(e))
            except Exception as e:  # noqa: BLE001 - one broken workload must not stop the rest
                entry.update(status="error", message=_one_line(e),
                             traceback=traceback.format_exc()[-4000:])
            entry["peak_rss_mib"] = measure.peak_rss_mib()
            del fn
            gc.collect()
            payload["results"].append(entry)
            _write(out, payload)

    payload["sentinel_end"] = measure.sentinel_gflops()
    payload["maxrss_mib"] = measure.process_maxrss_mib()
    payload["wall_s"] = time.perf_counter() - start
    _write(out, payload)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--framework", choices=sorted(ADAPTERS))
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--timing", default="{}", help="JSON overrides of measure.TimingConfig fields")
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--calibrate", action="store_true", help="measure the machine's matmul peak")
    p.add_argument("--calibrate-n", type=int, default=2048)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)

    if args.calibrate:
        _write(args.out, measure.machine_peak(args.calibrate_n, trials=5 if args.calibrate_n >= 1024 else 3))
        return 0
    if not args.framework:
        p.error("--framework is required unless --calibrate")
    base = measure.SMOKE_TIMING if args.smoke else measure.TimingConfig()
    cfg = dataclasses.replace(base, **json.loads(args.timing))
    run_framework(args.framework, [w for w in args.workloads.split(",") if w], cfg, args.smoke,
                  args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
