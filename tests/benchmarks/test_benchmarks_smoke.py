"""The benchmark harness runs end to end in smoke mode (tiny sizes). Never asserts on timings."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks.workloads import WORKLOADS  # noqa: E402

# rnnkit rows that must produce numbers once the public API exists; the other workloads
# (Bidirectional, stacked, masked, bf16) only have to appear, as a number, "error: ..." or "n/a".
RNNKIT_REQUIRED = [f"{cell}_{cfg}" for cfg in ("train", "infer", "latency")
                   for cell in ("simple_rnn", "lstm", "gru")] + ["lstm_long", "charlm_train",
                                                                "lstm_varlen_train", "lstm_b8_train"]


def _rnnkit_api_available() -> bool:
    try:
        import rnnkit.layers
        import rnnkit.models
        import rnnkit.optimizers
    except Exception:  # noqa: BLE001 - anything here means "not available yet"
        return False
    return (all(hasattr(rnnkit.layers, n) for n in ("Input", "SimpleRNN", "LSTM", "GRU", "Dense"))
            and hasattr(rnnkit.models, "Sequential") and hasattr(rnnkit.optimizers, "SGD"))


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def test_smoke_run_produces_full_table(tmp_path):
    results_md = REPO / "benchmarks" / "RESULTS.md"
    before = results_md.read_bytes() if results_md.exists() else None
    frameworks = ["jax-scan"] + (["rnnkit"] if _rnnkit_api_available() else [])
    out_md, out_json = tmp_path / "smoke.md", tmp_path / "smoke.json"

    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--smoke", "--only", ",".join(frameworks),
         "--out", str(out_md), "--json", str(out_json)],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]

    md = out_md.read_text()
    assert "## Compact view" in md and "## Full results" in md
    compact = md.split("## Compact view", 1)[1].split("## Full results", 1)[0]
    header = next(line for line in compact.splitlines() if line.startswith("| workload"))
    for column in ["jax-scan"] + (["rnnkit", "rnnkit-core"] if "rnnkit" in frameworks else []):
        assert f" {column} |" in header
    for wl in WORKLOADS.values():
        assert f"| {wl.label} (" in compact, wl.label

    rows = {(r["workload"], r["variant"]): r for r in json.loads(out_json.read_text())["rows"]}
    for name, wl in WORKLOADS.items():
        row = rows[(name, "jax-scan")]
        if wl.arch == "charlm":  # a whole model (the main job); jax-scan is the bare recurrence
            assert row["status"] == "n/a", (name, row["status"])
            continue
        assert row["status"] == "ok", (name, row["message"])
        for field in ("median_ms", "min_ms", "first_s", "gflops", "peak_rss_mib"):
            assert _finite(row[field]) and row[field] >= 0, (name, field, row[field])
        assert row["round_medians"] and all(_finite(m) for m in row["round_medians"])
    if "rnnkit" in frameworks:
        for name in WORKLOADS:
            for variant in ("rnnkit", "rnnkit-core"):
                assert rows[(name, variant)]["status"] in ("ok", "error", "n/a")
        for name in RNNKIT_REQUIRED:
            row = rows[(name, "rnnkit")]
            assert row["status"] == "ok", (name, row["message"])
            assert _finite(row["median_ms"]) and _finite(row["first_s"])

    after = results_md.read_bytes() if results_md.exists() else None
    assert after == before, "a smoke run must never rewrite benchmarks/RESULTS.md"


def test_smoke_refuses_to_write_results_md():
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--smoke", "--only", "jax-scan",
         "--out", str(REPO / "benchmarks" / "RESULTS.md")],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "never writes benchmarks/RESULTS.md" in proc.stderr


@pytest.mark.parametrize("flag, bad", [("--only", "tensorflow"), ("--workloads", "lstm_fast")])
def test_unknown_filter_names_are_rejected(flag, bad):
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run", "--smoke", flag, bad],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "Unknown" in proc.stderr and bad in proc.stderr
