"""Every performance choice of the recurrent kernels, in ONE place, chosen by shape and mode.

`plan(kind, batch, timesteps, input_dim, units, ..., engines=...)` returns a `Plan` read by
`rnnkit.core.fused`. It is a pure function of the cell kind's spec (`rnnkit.core.kernels`),
the shapes, the flags and the engines the caller found available; it builds nothing.
Each rule names the measurement that justified it: 2-vCPU Xeon (Sapphire Rapids class:
AVX-512, AMX) VM, jax 0.10.2, XLA:CPU, median of 3-5 interleaved rounds; full tables and
commands in benchmarks/PERF_NOTES.md (the earlier EPYC numbers are in
shared/perf/xla_cpu_notes.md). None of the choices changes a result beyond float32
rounding, except `compute_dtype="bfloat16"` (the opt-in mixed_bfloat16 policy) and rule 8
(split float32 matmuls, each product within ~1e-5 of exact; off with
`rnnkit.config.set_float32_matmul_precision("highest")`).
`RNNKIT_POLICY="infer_unroll=2,concat=0"` overrides fields, for measuring alternatives.

Rules:

1. x_t @ W stays inside the time step (never hoisted into one (T*B, D) GEMM before the
   loop): hoisting was slower in 9 of 10 measured workloads on XLA:CPU (LSTM long 66 vs
   30 ms). Weight gradients, by contrast, ARE single GEMMs after the reverse loop (the
   custom VJP in fused.py).
2. Inference (primal) unroll 4 when the per-step matmul is wide (rows * gates*units >=
   8192 and gates >= 3, e.g. B64 H256 LSTM / GRU), else 1. 1 device: LSTM infer u1/u2/u4/u8
   = 27.3/25.4/24.5/26.5 ms, GRU 23.5/22.5/20.1/23.2; SimpleRNN B64 7.2/7.3/7.5/7.6 and
   LSTM long 20.9/21.7/21.0/20.6 (no gain); 2-device split LSTM infer u1/u2/u4/u8 =
   23.0/17.4/17.5/22.4. Unroll 8 also costs +0.3 s of compile time.
3. Training: the differentiated forward and the reverse loop both use unroll 1. Backward
   u1 vs u2 (LSTM / GRU / SimpleRNN train B64): 1 device 91.2/70.9/19.8 vs
   89.3/74.6/20.1 ms, 2-device split 53.9/44.1/12.8 vs 60.6/45.8/15.2 ms; u1 also
   compiles faster. The autodiff of an unrolled scan is ~2x slower, which is why the
   primal (inference) and the differentiated forward are planned separately.
4. Concatenated matmul [x_t, h] @ [[W], [U]] (one dot per step) for LSTM and SimpleRNN at
   batch <= 8 only: B1 neutral to slightly better (LSTM 0.108 vs 0.118 ms median); GRU
   B1 worse (0.148 vs 0.112: the reset gate needs the recurrent part separately);
   every cell worse at B64 (LSTM infer 27.5 vs 24.2 ms, GRU 26.3 vs 20.3).
6. Engine: the native C++ time loops (rnnkit.core.native) wherever they apply (the caller
   found them available: `rnnkit.core.engines.available_engines`, i.e. native kernels on,
   CPU backend, AVX-512F, the kind has native loops whose source builds; and here: float32,
   activations among the kind's `native_activations`), else XLA. The native loops split
   the batch over the cores themselves, so the device split (rule 5) is off for them.
   Measurements: benchmarks/PERF_NOTES.md.
7. bf16 (the mixed_bfloat16 policy, compute_dtype "bfloat16"): the native loops' AMX variants
   (`CellKernel.native_bf16_source`) where available (engine "native" with that compute
   dtype), else XLA's bf16 dots. LSTM B64 T100 D64 H256: see benchmarks/PERF_NOTES.md lever 9.
8. Split float32 matmuls ("bf16x3", `Plan.f32_split`): a native float32 forward of a kind
   with `CellKernel.native_f32_split` (LSTM, GRU) runs each step's matmuls as three bf16
   tile products of the operands' hi / lo parts on AMX, when the caller found the loop
   available ("native_bf16x3": AMX CPU, float32 matmul precision "high"), each thread gets
   >= F32_SPLIT_MIN_ROWS batch rows (the tiles are 16 rows; fewer rows pad them) and the
   weights have <= F32_SPLIT_MAX_WEIGHTS elements (split, they take three bf16 copies, 6
   bytes an element, streamed from memory every step once past the L2). One LSTM forward
   T100 D64 H256 (2 cores, under load), split vs exact float32: B64 18.4 vs 30.3 ms, B32
   12.3 vs 15.8, B24 12.5 vs 11.4, B16 2.4 vs 2.4 (D32 H128), B8 5.5 vs 4.1, B1 0.24 vs
   0.09 (D8 H64); weights, quiet: B32 T30 D64 H1024 (4.5M elements) 50.4 vs 44.4 ms, B64
   T30 H512 (1.2M) 13.3 vs 18.9. The reverse loops stay exact float32.
5. Batch split over CPU devices (opt-in `rnnkit.config.set_cpu_devices`): only when the
   batch divides evenly and each part keeps >= 4 rows (a B1 split cannot help: the
   recurrence is sequential). B64, 1 device -> 2 devices: LSTM train 87 -> 54 ms,
   GRU train 74 -> 44, SimpleRNN train 19.6 -> 12.8, GRU infer 23.4 -> 12.9,
   LSTM long 20.4 -> 12.2.
"""

from __future__ import annotations

import dataclasses
import os

from rnnkit import config
from rnnkit.core.kernels import get_kernel

# Thresholds (see the rules above).
WIDE_STEP = 8192  # rows * gates * units from which the inference unroll pays off
INFER_UNROLL_WIDE = 4
TRAIN_FWD_UNROLL = 1
TRAIN_BWD_UNROLL = 1
CONCAT_MAX_BATCH = 8
# which kinds use the concatenated matmul: `CellKernel.concat` (LSTM, SimpleRNN; not GRU, whose
# split input / recurrent parts make it slower)
SPLIT_MIN_ROWS = 4
F32_SPLIT_MIN_ROWS = 16  # batch rows per native thread for rule 8
F32_SPLIT_MAX_WEIGHTS = 1 << 21  # (D + H) gates H elements for rule 8 (the split triples them)
NATIVE_MIN_ROWS_PER_THREAD = 8  # the native loops' kMinRowsPerThread (rnn_common.h)


def cores() -> int:
    """CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


def native_threads(batch: int) -> int:
    """Threads a native loop with the default thread count runs `batch` rows on: one per
    core, each with at least NATIVE_MIN_ROWS_PER_THREAD rows (`row_block_count`)."""
    return max(1, min(cores(), batch // NATIVE_MIN_ROWS_PER_THREAD, batch))


@dataclasses.dataclass(frozen=True)
class Plan:
    infer_unroll: int = 1  # lax.scan unroll of the primal (inference) loop
    fwd_unroll: int = 1  # unroll of the forward loop when differentiated
    bwd_unroll: int = 1  # unroll of the reverse (gradient) loop
    concat: bool = False  # one [x_t, h] @ [[W], [U]] dot per inference step
    devices: int = 1  # split the batch over this many CPU devices (1 = no split)
    compute_dtype: str = "float32"  # matmul input dtype ("bfloat16": f32 accumulation)
    engine: str = "xla"  # "native": the C++ time loops of rnnkit.core.native
    threads: int = 0  # native engine: threads over the batch (0 = one per core, >= 8 rows)
    f32_split: bool = False  # native float32 forward as bf16x3 tile products (rule 8)


def plan(kind, batch: int, timesteps: int, input_dim: int, units: int, *,
         user_unroll=None, compute_dtype: str = "float32", act_kinds=None,
         dtype: str = "float32", engines=("xla",)) -> Plan:
    """The plan for one recurrent layer call.

    Args:
        kind: a registered cell kind ("lstm", "gru", ...) or its `CellKernel`.
        user_unroll: the layer's own `unroll` argument when the user set one (an int or
            True); it then overrides the unroll choice of both forward loops.
        act_kinds: the cell's activation kinds (`Act.kind`: "tanh", "sigmoid", "linear" or
            None for any other function); None (unknown) keeps the XLA engine.
        dtype: the dtype of the inputs and weights ("mixed" when they differ).
        engines: the engines that can run here (`rnnkit.core.engines.available_engines`);
            "native" is planned only when listed.
    """
    kernel = get_kernel(kind)
    gates = kernel.gates
    engine = _engine(kernel, compute_dtype, act_kinds, dtype, engines)
    f32_split = (engine == "native" and compute_dtype == "float32"
                 and "native_bf16x3" in engines
                 and batch // native_threads(batch) >= F32_SPLIT_MIN_ROWS
                 and (input_dim + units) * gates * units <= F32_SPLIT_MAX_WEIGHTS)
    devices = 1 if engine == "native" else _split(batch)
    rows = batch // devices
    wide = rows * gates * units >= WIDE_STEP and gates >= 3
    infer_unroll = INFER_UNROLL_WIDE if wide else 1
    fwd_unroll = TRAIN_FWD_UNROLL
    if user_unroll not in (None, False):
        u = max(int(timesteps), 1) if user_unroll is True else int(user_unroll)
        infer_unroll = fwd_unroll = u
    result = Plan(infer_unroll=min(infer_unroll, max(timesteps, 1)),
                  fwd_unroll=min(fwd_unroll, max(timesteps, 1)),
                  bwd_unroll=min(TRAIN_BWD_UNROLL, max(timesteps, 1)),
                  concat=rows <= CONCAT_MAX_BATCH and kernel.concat,
                  devices=devices, compute_dtype=compute_dtype, engine=engine,
                  f32_split=f32_split)
    overrides = _overrides()
    if overrides:
        if "devices" in overrides and overrides["devices"] > 1:
            overrides["devices"] = devices
        result = dataclasses.replace(result, **overrides)
    return result


def _overrides() -> dict:
    """RNNKIT_POLICY="infer_unroll=2,concat=0,..." overrides fields of every plan (for
    measuring alternatives; not for production use)."""
    spec = os.environ.get("RNNKIT_POLICY", "")
    out = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        key, _, value = item.partition("=")
        field = {f.name: f for f in dataclasses.fields(Plan)}.get(key)
        if field is None:
            raise ValueError(f"RNNKIT_POLICY: unknown field {key!r}")
        out[key] = (value if field.type in ("str", str) else
                    bool(int(value)) if field.type in ("bool", bool) else int(value))
    return out


def _engine(kernel, compute_dtype, act_kinds, dtype, engines) -> str:
    if act_kinds is None or any(k not in kernel.native_activations for k in act_kinds):
        return "xla"
    if compute_dtype == "bfloat16":  # rule 7: the AMX loops, which take any input dtype
        return "native" if "native_bf16" in engines else "xla"
    if "native" not in engines or compute_dtype != "float32" or dtype != "float32":
        return "xla"
    return "native"


def _split(batch: int) -> int:
    n = config.cpu_devices()
    if n <= 1 or batch % n or batch // n < SPLIT_MIN_ROWS:
        return 1
    return n
