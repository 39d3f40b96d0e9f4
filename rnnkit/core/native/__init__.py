"""rnnkit's native CPU recurrences: C++ (AVX-512) time loops called through `jax.ffi`.

XLA:CPU runs a recurrent step as separate thunks (a dot through YNNPACK, then fused
elementwise loops) and reaches ~155-170 GFLOP/s per core on the B32 x 256 x 1024 step GEMM of
a B64 LSTM on this project's reference Xeon. The kernels here run the whole time loop in
C++: a register-blocked GEMM on pre-packed weights (~225 GFLOP/s per core on the same
shape), the gate math fused behind it, and the batch split over the cores with one thread
per block of rows. The time loops (and, where measured faster, the weight gradients inside
the reverse loop) are native; everything else (input dropout, output masking, the model
around the layer) stays in XLA.

The library is compiled from the sources next to this file by the system C++ compiler
the first time it is needed (~5 s), into a per-machine cache (`RNNKIT_NATIVE_CACHE`, default
`~/.cache/rnnkit/native`), and reused afterwards. It is used only where it applies: the
CPU backend, float32, an x86-64 CPU with AVX-512F, built-in cells whose activations are
tanh / sigmoid / linear. Elsewhere, or when the build fails (one warning says why), rnnkit
runs its XLA kernels, which give the same values to float32 rounding.

Turn it off with `rnnkit.config.set_native_kernels(False)` or `RNNKIT_NATIVE=0`.

This module is the loader only: it knows source files, not cell kinds. The FFI call
plumbing is `rnnkit.core.native.ffi`; each cell kind's module in `rnnkit.core.kernels`
names its source and its loops.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import warnings
from pathlib import Path

_LOG = logging.getLogger("rnnkit.native")
_HERE = Path(__file__).resolve().parent
COMMON = ("rnn_common.h", "gemv_rows.h", "lstm_common.h", "lstm_tiles.h", "lstm_bwd.h",
          "gru_common.h", "amx_common.h")
_FLAGS = ("-O3", "-march=native", "-std=c++17", "-shared", "-fPIC", "-fno-math-errno",
          "-Wno-attributes", "-Wno-return-type")
_HANDLER = re.compile(r"XLA_FFI_DEFINE_HANDLER_SYMBOL\(\s*(\w+)\s*,")

_lock = threading.Lock()
_libs: dict[str, dict] = {}  # source name -> {"ok", "reason", "path", "lib", "targets"}
_machine = {"reason": None, "checked": False}


def cache_dir() -> Path:
    env = os.environ.get("RNNKIT_NATIVE_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rnnkit" / "native"


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _compiler() -> str | None:
    cxx = os.environ.get("CXX")
    if cxx and shutil.which(cxx):
        return cxx
    for name in ("g++", "c++", "clang++"):
        if shutil.which(name):
            return name
    return None


def _unsupported_reason() -> str | None:
    """Why this machine cannot use the native kernels at all (None: it can try)."""
    if os.environ.get("RNNKIT_NATIVE", "1").strip().lower() in ("0", "false", "no", "off"):
        return "turned off by RNNKIT_NATIVE=0"
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        return f"needs Linux on x86-64 (this is {sys.platform} / {platform.machine()})"
    if "avx512f" not in cpu_flags():
        return "this CPU has no AVX-512F"
    if _compiler() is None:
        return "no C++ compiler found (install g++ or set CXX)"
    return None


def _build(cxx: str, source: str) -> Path:
    import jax
    import jaxlib

    src = _HERE / source
    version = subprocess.run([cxx, "--version"], capture_output=True, text=True,
                             timeout=60).stdout.splitlines()[:1]
    key = hashlib.sha256()
    for path in (src, *(_HERE / c for c in COMMON)):
        key.update(path.name.encode() + b"\0" + path.read_bytes())
    key.update(repr((version, _FLAGS, jaxlib.__version__, sorted(cpu_flags()))).encode())
    name = f"rnnkit_{src.stem}_{key.hexdigest()[:16]}.so"
    out_dir = cache_dir()
    if (out_dir / name).exists():
        return out_dir / name
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        if not os.access(out_dir, os.W_OK):
            raise PermissionError(f"{out_dir} is not writable")
    except OSError as exc:  # e.g. a read-only home: build in the temporary folder instead
        fallback = Path(tempfile.gettempdir()) / f"rnnkit-native-{os.getuid()}"
        _LOG.info("cannot use %s (%s); building in %s", out_dir, exc, fallback)
        out_dir = fallback
        if (out_dir / name).exists():
            return out_dir / name
        out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / name
    _LOG.info("compiling %s into %s (once per machine)", source, target)
    if sys.stderr is not None and sys.stderr.isatty():
        print(f"rnnkit: compiling the native CPU kernel {source} (once per machine, ~5 s)...",
              file=sys.stderr, flush=True)
    # compile to a private temporary name, then rename: a concurrent or interrupted build
    # never leaves a half-written library under the final name
    fd, tmp = tempfile.mkstemp(prefix=f".{src.stem}-", suffix=".so", dir=out_dir)
    os.close(fd)
    try:
        cmd = [cxx, *_FLAGS, f"-I{jax.ffi.include_dir()}", str(src), "-o", tmp, "-lpthread"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}\n{proc.stderr.strip()[-2000:]}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    _prune(out_dir, src.stem, keep=target)
    return target


_PRUNE_AGE_S = 30 * 24 * 3600


def _prune(out_dir: Path, stem: str, keep: Path) -> None:
    """Deletes this source's superseded builds (other hashes) not used for 30 days: every
    source change leaves one behind. Another rnnkit version that still wants one rebuilds
    it; a process that has one loaded keeps its mapping."""
    import time

    cutoff = time.time() - _PRUNE_AGE_S
    for old in out_dir.glob(f"rnnkit_{stem}_*.so"):
        try:
            if old != keep and max(old.stat().st_mtime, old.stat().st_atime) < cutoff:
                old.unlink()
        except OSError:
            pass


def _load_source(source: str) -> dict:
    reason = _unsupported_reason()
    if reason is not None:
        _LOG.info("rnnkit native CPU kernels not used: %s", reason)
        return {"ok": False, "reason": reason}
    try:
        names = _HANDLER.findall((_HERE / source).read_text())
        path = _build(_compiler(), source)
        lib = ctypes.CDLL(str(path))
        import jax

        for name in names:
            jax.ffi.register_ffi_target(name, jax.ffi.pycapsule(getattr(lib, name)),
                                        platform="cpu")
    except Exception as exc:  # noqa: BLE001 - any build/load failure means: use XLA
        reason = f"{source}: build or load failed: {exc}"
        warnings.warn(
            f"rnnkit: a native CPU kernel is unavailable, the XLA kernels run instead "
            f"(same results, slower on CPU): {reason}. Set RNNKIT_NATIVE=0 to skip the "
            f"native kernels and silence this warning.", RuntimeWarning, stacklevel=4)
        return {"ok": False, "reason": reason}
    return {"ok": True, "reason": "loaded", "path": path, "lib": lib, "targets": names}


def load(source: str) -> bool:
    """Builds (if needed), loads and registers the handlers of one source file next to this
    module (e.g. "lstm.cc", a cell kind's `native.source`), once per process; True when
    they can be used."""
    if not source or not (_HERE / source).exists():
        return False
    entry = _libs.get(source)
    if entry is None:
        with _lock:
            entry = _libs.get(source)
            if entry is None:
                entry = _libs[source] = _load_source(source)
    return entry["ok"]


def status() -> dict:
    """Per source: {'available': bool, 'reason': str, 'path': str | None}; sources not
    tried yet in this process are left out."""
    return {src: {"available": e["ok"], "reason": e["reason"],
                  "path": str(e["path"]) if e.get("path") else None}
            for src, e in sorted(_libs.items())}
