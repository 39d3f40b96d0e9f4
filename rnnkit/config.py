"""Performance options of rnnkit (process-wide).

None of these change results beyond float32 rounding, except the opt-in bf16 policy and
the float32 matmul precision below.

- `set_fast_paths(enabled)`: the fused sequence kernels for the built-in cells
  (`rnnkit.core.fused`, custom VJP, saved gates). On by default; off runs every cell
  through the generic `lax.scan` + autodiff path (the reference).
- `set_native_kernels(enabled)` / env `RNNKIT_NATIVE=0`: the native C++ time loops of
  `rnnkit.core.native` (CPU, float32, AVX-512F), compiled once per machine. On by
  default where they apply; off runs the same fused kernels on XLA.
- `set_stacked_layers(enabled)` / env `RNNKIT_STACKED_LAYERS=0`: consecutive LSTM layers
  of a model run at inference as one native call with one thread per layer, where a batch
  split would leave cores idle (batches under 8 rows per layer). On by default: 0.61x
  the per-layer time at B1 on a quiet 2-core machine, equal at B8, where the per-layer
  calls now split their units over the cores (benchmarks/PERF_NOTES.md, levers 15 and 20);
  on a heavily oversubscribed machine the per-step hand-off can make it slower.
- `set_cpu_devices(n)` / env `RNNKIT_CPU_DEVICES=n`: split XLA:CPU into `n` devices
  (must run before JAX initialises its backend) so the XLA kernels run each part of the
  batch on its own core (the native loops do this themselves). Opt-in; see
  `rnnkit.core.policy` for what it buys.
- `set_float32_matmul_precision("high" | "highest")` / env
  `RNNKIT_FLOAT32_MATMUL_PRECISION`: "high" (default) lets the native LSTM and GRU forward
  loops run their float32 matmuls as three bf16 products on the AMX tile unit (each operand
  split into bf16 hi + lo parts; "bf16x3"), where the CPU has AMX, each thread gets >= 16
  batch rows and the weights have <= 2^21 elements (`rnnkit.core.policy` rule 8): 0.6x the
  time of the exact loop at B64 H256. Each product is within about
  1e-5 of exact (relative): outputs differ from a float64 loop by 1e-6 to 3e-5 in the tests
  (exact float32: 2e-7 to 6e-7); every Keras golden case holds at 1e-5 with it forced on.
  "highest" keeps every float32 matmul exact float32 (torch's default; its "high" allows
  the same split).
- `set_dtype_policy("mixed_bfloat16")`: bf16 matmul inputs with float32 accumulation,
  float32 gates, states and weights, for the recurrent layers. Opt-in (a per-layer
  `dtype="mixed_bfloat16"` does the same for one layer).
- `enable_compilation_cache(path)` / env `RNNKIT_COMPILATION_CACHE=path`: JAX's persistent
  compilation cache, so a fresh process reuses compiled programs from disk.
- `set_async_dispatch(False)` / env `RNNKIT_ASYNC_DISPATCH=0`: synchronous CPU dispatch,
  -70 us per call at batch 1. Opt-in (see its caveat).
- `set_malloc_tuning()` / env `RNNKIT_MALLOC_TUNING`: keep freed memory in the heap (no
  per-step page faults on XLA's temporary buffers): LSTM train step ~15% faster; the
  process keeps its peak heap. The heap mode is applied by rnnkit when it builds its
  first CPU training step (`RNNKIT_MALLOC_TUNING=0` or `set_malloc_tuning(False)` opts
  out); `set_malloc_tuning(single_arena=True)` is the stronger opt-in variant.

- `cpu_performance_mode()` / env `RNNKIT_CPU_TUNING=1`: all of the opt-in CPU settings
  above at once (batch split over all cores, malloc tuning, synchronous dispatch, and
  `--xla_cpu_prefer_vector_width=512` on AVX-512 CPUs).

Environment variables are read once, by `import rnnkit` (RNNKIT_NATIVE and
RNNKIT_NATIVE_CACHE: when a native kernel is first needed).
"""

from __future__ import annotations

import os

_state = {
    "fast_paths": True,
    "native": True,
    "stacked_layers": True,
    "cpu_devices": None,  # int once set_cpu_devices ran (or RNNKIT_CPU_DEVICES was read)
    "dtype_policy": "float32",
    "f32_matmul": "high",
    "compilation_cache": None,
}

_POLICIES = ("float32", "mixed_bfloat16")
_F32_PRECISIONS = ("high", "highest")


# --- fused kernels ---------------------------------------------------------------------

def set_fast_paths(enabled: bool = True) -> None:
    """Turns the fused recurrent kernels on (default) or off (reference scan + autodiff)."""
    _state["fast_paths"] = bool(enabled)


def fast_paths_enabled() -> bool:
    return _state["fast_paths"]


# --- native CPU loops -------------------------------------------------------------------

def set_native_kernels(enabled: bool = True) -> None:
    """Turns rnnkit's native CPU time loops (rnnkit.core.native) on (default) or off.

    Takes effect for calls traced afterwards (already compiled functions keep theirs)."""
    _state["native"] = bool(enabled)


def native_kernels_enabled() -> bool:
    return _state["native"] and _state["fast_paths"]


def set_stacked_layers(enabled: bool = True) -> None:
    """Runs chains of LSTM layers at inference as one native call, a thread per layer,
    where that gives them cores a batch split leaves idle (`rnnkit.layers.rnn_stack`).
    On by default. Takes effect for calls traced afterwards."""
    _state["stacked_layers"] = bool(enabled)


def stacked_layers_enabled() -> bool:
    return _state["stacked_layers"] and native_kernels_enabled()


# --- batch split over CPU devices --------------------------------------------------------

def _backend_initialized() -> bool:
    try:
        from jax._src import xla_bridge

        return bool(getattr(xla_bridge, "_backends", {}))
    except Exception:  # noqa: BLE001 - private API moved: assume not initialised
        return False


def set_cpu_devices(n: int) -> None:
    """Splits the CPU into `n` XLA devices; recurrent layers then shard the batch over them.

    Must run before JAX creates its CPU backend, i.e. before the first array is made
    (right after `import rnnkit` is fine). The same as setting the environment variable
    `RNNKIT_CPU_DEVICES=n` before starting Python. Layers whose batch is not a multiple
    of `n` (and batch-1 calls) run unsplit on one device, with the same results.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_cpu_devices expects a positive int; received {n!r}.")
    import jax

    if _state["cpu_devices"] == n:
        return
    if _backend_initialized():
        current = jax.local_device_count()
        if jax.default_backend() == "cpu" and current == n:
            _state["cpu_devices"] = n
            return
        raise RuntimeError(
            f"rnnkit.config.set_cpu_devices({n}) must run before JAX initialises its backend, "
            f"but JAX already runs with {current} {jax.default_backend()} device(s). Call it "
            "right after `import rnnkit`, before creating any array or layer, or start Python "
            f"with the environment variable RNNKIT_CPU_DEVICES={n}.")
    jax.config.update("jax_num_cpu_devices", n)
    _state["cpu_devices"] = n


def cpu_devices() -> int:
    """The number of CPU devices the batch is split over (1 = no split)."""
    n = _state["cpu_devices"]
    if n is None:
        return 1
    return n


def _apply_env() -> None:
    """Reads the RNNKIT_* environment variables (called once by `import rnnkit`)."""
    import warnings

    def apply(var, fn, convert=str):
        value = os.environ.get(var)
        if not value:
            return
        try:
            fn(convert(value))
        except (ValueError, RuntimeError) as err:
            warnings.warn(f"rnnkit: ignoring {var}={value!r}: {err}", RuntimeWarning,
                          stacklevel=3)

    if os.environ.get("RNNKIT_CPU_TUNING", "").strip().lower() in ("1", "true", "yes", "on"):
        apply("RNNKIT_CPU_TUNING", lambda _: cpu_performance_mode())
    apply("RNNKIT_CPU_DEVICES", set_cpu_devices, int)
    apply("RNNKIT_ASYNC_DISPATCH", set_async_dispatch,
          lambda v: v.strip().lower() not in ("0", "false", "no", "off"))
    apply("RNNKIT_MALLOC_TUNING", set_malloc_tuning,
          lambda v: v.strip().lower() not in ("0", "false", "no", "off"))
    apply("RNNKIT_STACKED_LAYERS", set_stacked_layers,
          lambda v: v.strip().lower() not in ("0", "false", "no", "off"))
    apply("RNNKIT_DTYPE_POLICY", set_dtype_policy)
    apply("RNNKIT_FLOAT32_MATMUL_PRECISION", set_float32_matmul_precision,
          lambda v: v.strip().lower())
    apply("RNNKIT_COMPILATION_CACHE", enable_compilation_cache)


# --- synchronous CPU dispatch ------------------------------------------------------------

def set_async_dispatch(enabled: bool) -> None:
    """JAX's asynchronous CPU dispatch (JAX's default: on). Opt-in for low latency:
    `set_async_dispatch(False)` right after `import rnnkit`, or RNNKIT_ASYNC_DISPATCH=0.

    Off, a compiled single-device call runs inline in the calling thread instead of being
    handed to a worker thread and waited for: batch-1 LSTM `predict_on_batch` (T100 H64)
    0.18 -> 0.10 ms, SimpleRNN 0.11 -> 0.04 ms; batch-64 steps are unchanged
    (benchmarks/PERF_NOTES.md). Python no longer overlaps with a running computation,
    which on a CPU shares the same cores anyway. Caveat measured on a 2-core VM: eager
    LAPACK calls (e.g. the QR of the Orthogonal initializer when a layer is built) can
    stall ~0.4 s each while OpenBLAS's threads compete with XLA's; OPENBLAS_NUM_THREADS=1
    avoids it. Process-wide JAX setting: it must be chosen before JAX initialises its
    backend (before the first array is created)."""
    import jax

    enabled = bool(enabled)
    if jax.config.values.get("jax_cpu_enable_async_dispatch", True) == enabled:
        return
    if _backend_initialized():
        raise RuntimeError(
            "rnnkit.config.set_async_dispatch must run before JAX initialises its backend "
            "(before the first array is created); or set RNNKIT_ASYNC_DISPATCH before "
            "starting Python.")
    jax.config.update("jax_cpu_enable_async_dispatch", enabled)


# --- allocator ----------------------------------------------------------------------------

_MALLOC = {"tuned": None, "user": None}  # tuned: None / "heap" / "single_arena"

# The heap mode: blocks below 256 MiB come from the heap (no per-call mmap / munmap, so no
# page faults on reused temporaries), and up to 512 MiB of free heap is kept before glibc
# trims it. Buffers of 256 MiB and more are still mmap'd and returned to the OS at once.
_HEAP_MMAP_THRESHOLD = 256 << 20
_HEAP_TRIM_THRESHOLD = 512 << 20


def _mallopt(*settings) -> bool:
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return all(libc.mallopt(param, value) == 1 for param, value in settings)
    except (OSError, AttributeError):
        return False


def set_malloc_tuning(enabled: bool = True, *, single_arena: bool = False) -> bool:
    """Keeps XLA's freed temporary buffers in the process heap for reuse (glibc `mallopt`).

    XLA:CPU allocates each call's temporary buffers fresh; for a B64 T100 H256 LSTM train
    step that is 40-75 MB, which glibc mmaps and unmaps every step: ~10,000-18,000 page
    faults (zeroing fresh pages) per step. With the tuning the memory is reused: the LSTM
    train step takes ~50 instead of ~59 ms (benchmarks/PERF_NOTES.md).

    rnnkit applies the heap mode (blocks < 256 MiB from the heap, up to 512 MiB of free
    heap kept) by itself when it builds its first CPU training step, unless this was
    called with `enabled=False` or RNNKIT_MALLOC_TUNING=0 is set. `single_arena=True`
    (part of `cpu_performance_mode`) also puts every thread on one arena and never mmaps;
    that compiles ~40% slower. The cost of either: the process keeps its peak heap.
    Process-wide, glibc only (returns False where unavailable).
    """
    _MALLOC["user"] = bool(enabled)
    if not enabled:
        return False
    return _apply_malloc("single_arena" if single_arena else "heap")


def _apply_malloc(mode: str) -> bool:
    if _MALLOC["tuned"] == "single_arena" or _MALLOC["tuned"] == mode:
        return True
    m_trim_threshold, m_mmap_threshold, m_mmap_max, m_arena_max = -1, -3, -4, -8
    if mode == "single_arena":
        ok = _mallopt((m_arena_max, 1), (m_mmap_max, 0), (m_trim_threshold, 2 ** 31 - 1))
    else:
        ok = _mallopt((m_mmap_threshold, _HEAP_MMAP_THRESHOLD),
                      (m_trim_threshold, _HEAP_TRIM_THRESHOLD))
    if ok:
        _MALLOC["tuned"] = mode
    return ok


def malloc_tuning_for_training() -> bool:
    """Called by rnnkit when it builds a CPU training step: the heap mode, unless the user
    turned the tuning off."""
    if _MALLOC["user"] is False:
        return False
    import sys

    if not sys.platform.startswith("linux"):
        return False
    return _apply_malloc("heap")


# --- one switch for all of the above ------------------------------------------------------

def _has_avx512() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return " avx512f " in f" {line.split(':', 1)[1].strip()} "
    except OSError:
        pass
    return False


def _add_xla_flag(flag: str) -> bool:
    name = flag.split("=", 1)[0]
    current = os.environ.get("XLA_FLAGS", "")
    if name in current:
        return False
    os.environ["XLA_FLAGS"] = f"{current} {flag}".strip()
    return True


def cpu_performance_mode(devices: int | None = None) -> dict:
    """Every opt-in CPU speed setting at once; call right after `import rnnkit`, before
    any array exists (or set RNNKIT_CPU_TUNING=1 before starting Python).

    - `set_cpu_devices(devices or <cores available to this process>)`: batch split for the
      XLA kernels (the native loops, rnnkit.core.native, split the batch over the cores
      themselves and are on by default);
    - `set_malloc_tuning()`;
    - `set_async_dispatch(False)`;
    - XLA flag `--xla_cpu_prefer_vector_width=512` on AVX-512 CPUs (batch-1 LSTM 0.098 ->
      0.083 ms, LSTM long 12.0 -> 10.6 ms; neutral elsewhere).

    Measured on a 2-core VM only (benchmarks/PERF_NOTES.md). Returns what was applied.
    """
    if _backend_initialized():
        raise RuntimeError(
            "rnnkit.config.cpu_performance_mode() must run before JAX initialises its "
            "backend: call it right after `import rnnkit`, before creating any array or "
            "layer, or set RNNKIT_CPU_TUNING=1 before starting Python.")
    applied = {}
    if devices is None:
        try:
            devices = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            devices = os.cpu_count() or 1
    if devices > 1:
        set_cpu_devices(devices)
        applied["cpu_devices"] = devices
    applied["malloc_tuning"] = set_malloc_tuning(single_arena=True)
    set_async_dispatch(False)
    applied["async_dispatch"] = False
    if _has_avx512() and _add_xla_flag("--xla_cpu_prefer_vector_width=512"):
        applied["xla_flags"] = os.environ["XLA_FLAGS"]
    return applied


# --- precision -----------------------------------------------------------------------------

def set_dtype_policy(policy: str) -> None:
    """"float32" (default) or "mixed_bfloat16": the compute policy of recurrent layers that
    do not set their own `dtype` policy. mixed_bfloat16 = bf16 matmul inputs, float32
    accumulation, float32 gates / states / weights / outputs (max abs error about 1e-3
    after 100 LSTM steps; see benchmarks/PERF_NOTES.md)."""
    name = policy if isinstance(policy, str) else getattr(policy, "name", policy)
    if name not in _POLICIES:
        raise ValueError(f"Unknown dtype policy {policy!r}; expected one of {_POLICIES}.")
    _state["dtype_policy"] = name


def dtype_policy() -> str:
    return _state["dtype_policy"]


def set_float32_matmul_precision(precision: str) -> None:
    """"high" (default): the native LSTM and GRU forward loops may run float32 matmuls as
    three bf16 tile products of the operands' hi / lo split (AMX CPUs, >= 16 batch rows per
    thread, <= 2^21 weight elements; each product within about 1e-5 of exact, relative; outputs 1e-6 to 3e-5 from a
    float64 loop in the tests, exact float32 2e-7 to 6e-7).
    "highest": every float32 matmul in exact float32. Takes effect for calls traced
    afterwards (already compiled functions keep theirs)."""
    if precision not in _F32_PRECISIONS:
        raise ValueError(f"Unknown float32 matmul precision {precision!r}; expected one of "
                         f"{_F32_PRECISIONS} (\"highest\" = exact float32 everywhere).")
    _state["f32_matmul"] = precision


def float32_matmul_precision() -> str:
    return _state["f32_matmul"]


# --- compilation cache ---------------------------------------------------------------------

def enable_compilation_cache(path: str | os.PathLike | None = None) -> str:
    """Turns on JAX's persistent compilation cache in `path` (default
    `~/.cache/rnnkit/jax`), caching every compiled program regardless of its size or
    compile time. A new process then loads the programs of signatures it has seen before
    from disk instead of compiling them. Returns the directory used. May be called at any
    time; programs compiled before the call are not written."""
    import jax

    path = os.fspath(path) if path is not None else os.path.join(
        os.path.expanduser("~"), ".cache", "rnnkit", "jax")
    os.makedirs(path, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    try:  # also cache the XLA autotuning / kernel caches where this JAX has them
        jax.config.update("jax_persistent_cache_enable_xla_caches", "all")
    except (AttributeError, ValueError, KeyError):
        pass
    try:
        from jax._src import compilation_cache as _cc

        _cc.reset_cache()  # re-read the (new) directory on the next compile
    except Exception:  # noqa: BLE001
        pass
    _state["compilation_cache"] = path
    return path


def compilation_cache_dir() -> str | None:
    return _state["compilation_cache"]
