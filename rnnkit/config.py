"""Performance options of rnnkit (process-wide).

None of these change results beyond float32 rounding, except the opt-in bf16 policy.

- `set_fast_paths(enabled)`: the fused sequence kernels for the built-in cells
  (`rnnkit.core.fused`, custom VJP, saved gates). On by default; off runs every cell
  through the generic `lax.scan` + autodiff path (the reference).
- `set_cpu_devices(n)` / env `RNNKIT_CPU_DEVICES=n`: split XLA:CPU into `n` devices
  (must run before JAX initialises its backend) so recurrent layers run each part of the
  batch on its own core. Opt-in; see `rnnkit.core.policy` for what it buys.
- `set_dtype_policy("mixed_bfloat16")`: bf16 matmul inputs with float32 accumulation,
  float32 gates, states and weights, for the recurrent layers. Opt-in (a per-layer
  `dtype="mixed_bfloat16"` does the same for one layer).
- `enable_compilation_cache(path)`: JAX's persistent compilation cache, so a fresh process
  reuses compiled programs from disk instead of compiling again.
"""

from __future__ import annotations

import os

_state = {
    "fast_paths": True,
    "cpu_devices": None,  # int once set_cpu_devices ran (or RNNKIT_CPU_DEVICES was read)
    "dtype_policy": "float32",
    "compilation_cache": None,
}

_POLICIES = ("float32", "mixed_bfloat16")


# --- fused kernels ---------------------------------------------------------------------

def set_fast_paths(enabled: bool = True) -> None:
    """Turns the fused recurrent kernels on (default) or off (reference scan + autodiff)."""
    _state["fast_paths"] = bool(enabled)


def fast_paths_enabled() -> bool:
    return _state["fast_paths"]


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
    value = os.environ.get("RNNKIT_CPU_DEVICES")
    if value:
        try:
            n = int(value)
        except ValueError:
            raise ValueError(f"RNNKIT_CPU_DEVICES must be a positive integer; got {value!r}.")
        set_cpu_devices(n)
    policy = os.environ.get("RNNKIT_DTYPE_POLICY")
    if policy:
        set_dtype_policy(policy)
    cache = os.environ.get("RNNKIT_COMPILATION_CACHE")
    if cache:
        enable_compilation_cache(cache)


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
