"""Timing, memory and CPU accounting used inside each worker process (stdlib + NumPy only)."""

from __future__ import annotations

import dataclasses
import gc
import os
import resource
import statistics
import time
from typing import Callable

import numpy as np


@dataclasses.dataclass(frozen=True)
class TimingConfig:
    warmup_reps: int = 3  # warm-up: at least this many calls ...
    warmup_time: float = 0.3  # ... and at least this many seconds
    min_reps: int = 15  # timed reps: at least this many ...
    min_time: float = 1.5  # ... and at least this many seconds,
    max_reps: int = 3000  # capped at this many reps
    max_time: float = 6.0  # or this many seconds (then min_reps is relaxed, but >= 3 reps)
    max_foreign_cpu: float = 0.15  # re-measure if other processes took more CPU than this ...
    max_attempts: int = 3  # ... up to this many timed windows in all (the least disturbed is kept)
    retry_budget: float = 20.0  # ... while re-measuring has cost less than this per process
    idle_wait: float = 10.0  # before the first call and each timed window, wait up to this long
    idle_budget: float = 30.0  # for an idle machine, but at most this long per process in all


SMOKE_TIMING = TimingConfig(warmup_reps=1, warmup_time=0.0, min_reps=3, min_time=0.0,
                            max_reps=3, max_time=2.0, max_foreign_cpu=1.0, max_attempts=1,
                            retry_budget=0.0, idle_wait=0.0, idle_budget=0.0)


# ---- memory ---------------------------------------------------------------------------------

def reset_peak_rss() -> bool:
    """Resets the kernel's RSS high-water mark of this process (Linux >= 4.0). False if unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mib() -> float:
    """Peak RSS since the last reset (VmHWM), falling back to getrusage's process-lifetime peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return process_maxrss_mib()


def process_maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


# ---- CPU taken by other processes while we time ---------------------------------------------

def _cpu_snapshot() -> tuple[int, int, int] | None:
    """(busy jiffies of the whole machine incl. steal, all jiffies, jiffies used by this process)."""
    try:
        with open("/proc/stat") as f:
            vals = [int(v) for v in f.readline().split()[1:]]
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        own = int(fields[11]) + int(fields[12])  # utime + stime of all threads
    except (OSError, ValueError, IndexError):
        return None
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
    total = sum(vals[:8])  # user nice system idle iowait irq softirq steal (guest is inside user)
    return total - idle, total, own


def foreign_cpu_share(before, after) -> float | None:
    """Share of all CPU time in the window that other processes (or the hypervisor) used."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    busy, total, own = (a - b for a, b in zip(after, before))
    return max(0.0, (busy - own) / total)


# ---- timing ---------------------------------------------------------------------------------

def time_callable(fn: Callable[[], object], cfg: TimingConfig) -> dict:
    """Times `fn` (which must block until its result is ready).

    First call alone (tracing + compilation), then warm-up, then individually timed reps. With
    cfg.idle_wait > 0 it first waits for an idle machine, and again before each timed window.
    """
    waited = _idle_gate(cfg)
    t0 = time.perf_counter()
    fn()
    first_s = time.perf_counter() - t0

    n, start = 0, time.perf_counter()
    while n < cfg.warmup_reps or time.perf_counter() - start < cfg.warmup_time:
        fn()
        n += 1

    best = None
    for attempt in range(1, cfg.max_attempts + 1):
        wait = _idle_gate(cfg)
        if wait > 1.0:  # caches and thread pools went cold while we slept
            fn()
            fn()
        waited += wait
        gc.collect()
        cpu0 = _cpu_snapshot()
        times: list[float] = []
        start = time.perf_counter()
        while len(times) < cfg.max_reps:
            elapsed = time.perf_counter() - start
            if len(times) >= cfg.min_reps and elapsed >= cfg.min_time:
                break
            if len(times) >= 3 and elapsed >= cfg.max_time:
                break
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        foreign = foreign_cpu_share(cpu0, _cpu_snapshot())
        if attempt > 1:
            _retry_spent[0] += time.perf_counter() - start
        if best is None or (foreign or 0.0) < (best[1] or 0.0):
            best = (times, foreign)
        if foreign is None or foreign <= cfg.max_foreign_cpu or _retry_spent[0] >= cfg.retry_budget:
            break
    times, foreign = best

    ms = sorted(t * 1e3 for t in times)
    return {
        "first_s": first_s,
        "median_ms": statistics.median(ms),
        "min_ms": ms[0],
        "p90_ms": ms[min(len(ms) - 1, int(0.9 * len(ms)))],
        "mean_ms": statistics.fmean(ms),
        "reps": len(ms),
        "foreign_cpu": foreign,
        "attempts": attempt,
        "idle_wait_s": waited,
    }


_idle_spent = [0.0]  # idle-wait seconds used so far by this process
_retry_spent = [0.0]  # seconds of re-measured timed windows so far in this process


def _idle_gate(cfg: TimingConfig) -> float:
    limit = min(cfg.idle_wait, cfg.idle_budget - _idle_spent[0])
    if limit <= 0:
        return 0.0
    waited = wait_for_idle(limit, cfg.max_foreign_cpu)
    _idle_spent[0] += waited
    return waited


# ---- host speed -----------------------------------------------------------------------------

def numpy_matmul_gflops(n: int, trials: int) -> float:
    """Best-of-`trials` GFLOP/s of an n^3 float32 NumPy matmul."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b  # warm the BLAS thread pool
    best = min(_timed(lambda: a @ b) for _ in range(trials))
    return 2.0 * n**3 / best / 1e9


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def sentinel_gflops() -> float:
    """Cheap host-speed probe run at the start and end of every worker (numpy 512^3 f32)."""
    return numpy_matmul_gflops(512, 10)


def machine_peak(n: int = 2048, trials: int = 5) -> dict:
    """Measured matmul peak: numpy f32, JAX f32 and JAX bf16 (f32 accumulation) n^3, best of trials."""
    out = {"n": n, "trials": trials, "numpy_f32": numpy_matmul_gflops(n, trials)}
    try:
        import jax
        import jax.numpy as jnp

        for key, dtype in (("jax_f32", jnp.float32), ("jax_bf16", jnp.bfloat16)):
            a = jax.random.normal(jax.random.key(0), (n, n), dtype)
            b = jax.random.normal(jax.random.key(1), (n, n), dtype)
            mm = jax.jit(lambda a, b: jnp.dot(a, b, preferred_element_type=jnp.float32))
            mm(a, b).block_until_ready()
            best = min(_timed(lambda: mm(a, b).block_until_ready()) for _ in range(trials))
            out[key] = 2.0 * n**3 / best / 1e9
    except Exception as e:  # noqa: BLE001 - calibration must never stop the run
        out["jax_error"] = f"{type(e).__name__}: {e}"
    out["f32_peak"] = max(out["numpy_f32"], out.get("jax_f32", 0.0))
    out["bf16_peak"] = out.get("jax_bf16")
    return out


def wait_for_idle(max_wait_s: float, busy_limit: float, window_s: float = 0.5) -> float:
    """Sleeps until the machine's busy share over a window is below busy_limit (or max_wait_s)."""
    start = time.perf_counter()
    while time.perf_counter() - start < max_wait_s:
        share = idle_share(window_s)
        if share is None or share < busy_limit:
            break
    return time.perf_counter() - start


def idle_share(window_s: float = 0.5) -> float | None:
    """Busy share of the whole machine over a short window (the caller is asleep)."""
    a = _cpu_snapshot()
    time.sleep(window_s)
    b = _cpu_snapshot()
    if a is None or b is None or b[1] <= a[1]:
        return None
    return (b[0] - a[0]) / (b[1] - a[1])


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
