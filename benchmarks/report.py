"""Aggregates the worker JSON of all rounds and renders the Markdown report."""

from __future__ import annotations

import dataclasses
import math
import statistics

from benchmarks.frameworks import ADAPTERS, PEERS
from benchmarks.workloads import WORKLOADS, smoke_sized


CONTENDED = 0.15  # foreign CPU share above which a cell is flagged with a dagger


@dataclasses.dataclass
class Row:
    workload: str
    variant: str
    status: str = "missing"  # ok | error | n/a | skipped | missing
    message: str = ""
    version: str = ""
    median_ms: float = math.nan  # median of the per-round medians of the clean rounds (see aggregate)
    min_ms: float = math.nan
    round_medians: list = dataclasses.field(default_factory=list)  # every ok round, in order
    round_clean: list = dataclasses.field(default_factory=list)  # parallel to round_medians
    first_s: float = math.nan  # median over the rounds used
    gflops: float = math.nan
    pct_peak: float = math.nan
    peak_rss_mib: float = math.nan  # max over rounds
    foreign_cpu: float = math.nan  # max over the rounds used
    reps: int = 0
    rounds_ok: int = 0
    rounds_used: int = 0
    rounds: int = 0
    ratio: float = math.nan  # median / fastest peer median of this workload
    fastest_peer: bool = False


def _clean(entry: dict) -> bool:
    return entry.get("foreign_cpu") is None or entry["foreign_cpu"] <= CONTENDED


def aggregate(runs: list[dict], workloads: list[str], variants: list[str], peak: dict) -> dict:
    """runs: worker payloads, each with "round" added. Returns {(workload, variant): Row}.

    A cell's median is the median of its per-round medians over the *clean* rounds (other
    processes used <= CONTENDED of the CPU while it was timed); only when no round was clean are
    all rounds used, and the cell is flagged. On a quiet machine every round is clean.
    """
    rows = {(w, v): Row(w, v) for w in workloads for v in variants}
    per = {key: [] for key in rows}
    for run in runs:
        fw_variants = ADAPTERS[run["framework"]][1]
        done = {(r["workload"], r["variant"]) for r in run.get("results", [])}
        for r in run.get("results", []):
            if (r["workload"], r["variant"]) in per:
                per[(r["workload"], r["variant"])].append(dict(r, version=run.get("version", "")))
        for w in workloads:  # whatever the process did not report (crash, unavailable, timeout)
            for v in fw_variants:
                if (w, v) not in done and (w, v) in per:
                    status = "skipped" if run["status"] == "unavailable" else "error"
                    msg = run.get("message") or "worker exited before this workload"
                    per[(w, v)].append({"status": status, "message": msg,
                                        "version": run.get("version", "")})

    for key, entries in per.items():
        row = rows[key]
        row.rounds = len(entries)
        ok = [e for e in entries if e["status"] == "ok"]
        row.rounds_ok = len(ok)
        if entries:
            row.version = next((e["version"] for e in entries if e.get("version")), "")
        if not ok:
            if entries:
                first_bad = next((e for e in entries if e["status"] == "error"), entries[0])
                row.status, row.message = first_bad["status"], first_bad.get("message", "")
            continue
        bad = [e for e in entries if e["status"] != "ok"]
        row.status = "ok"
        row.message = bad[0].get("message", "") if bad else ""
        row.round_medians = [e["median_ms"] for e in ok]
        row.round_clean = [_clean(e) for e in ok]
        used = [e for e in ok if _clean(e)] or ok
        row.rounds_used = len(used)
        row.median_ms = statistics.median(e["median_ms"] for e in used)
        row.min_ms = min(e["min_ms"] for e in used)
        row.first_s = statistics.median(e["first_s"] for e in used)
        row.peak_rss_mib = max(e["peak_rss_mib"] for e in ok)
        foreign = [e["foreign_cpu"] for e in used if e.get("foreign_cpu") is not None]
        row.foreign_cpu = max(foreign) if foreign else math.nan
        row.reps = sum(e["reps"] for e in used)
        row.gflops = ok[0]["flops"] / (row.median_ms * 1e-3) / 1e9
        wl_peak = peak.get("bf16_peak") if WORKLOADS[key[0]].bf16 else peak.get("f32_peak")
        if wl_peak:
            row.pct_peak = 100.0 * row.gflops / wl_peak

    for w in workloads:
        peer_rows = [rows[(w, v)] for v in variants if v in PEERS and rows[(w, v)].status == "ok"]
        if not peer_rows:
            continue
        best = min(peer_rows, key=lambda r: r.median_ms)
        best.fastest_peer = True
        for v in variants:
            if rows[(w, v)].status == "ok":
                rows[(w, v)].ratio = rows[(w, v)].median_ms / best.median_ms
    return rows


def total_idle_wait(run: dict) -> float:
    """Seconds a process spent waiting for an idle machine (driver + worker)."""
    return (run.get("idle_wait_s") or 0.0) + sum(r.get("idle_wait_s") or 0.0
                                                  for r in run.get("results", []))


# ---- rendering ------------------------------------------------------------------------------

def _esc(text: str, limit: int = 90) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ms(v: float) -> str:
    if math.isnan(v):
        return "–"
    return f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 100 else f"{v:.1f}"


def _num(v: float, fmt: str) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def _not_ok(row: Row) -> str:
    if row.status == "missing":
        return "–"
    prefix = {"error": "error: ", "n/a": "n/a: ", "skipped": "skipped: "}.get(row.status, "")
    return prefix + _esc(row.message, 60)


def _cell(row: Row, flag_contended: bool = True) -> str:
    if row.status != "ok":
        return _not_ok(row)
    text = f"{_ms(row.median_ms)} ({_num(row.ratio, '.2f')}x)" if not math.isnan(row.ratio) \
        else _ms(row.median_ms)
    if row.rounds_ok < row.rounds:
        text += f" [{row.rounds_ok}/{row.rounds} rounds]"
    text = f"**{text}**" if row.fastest_peer else text
    return text + (" †" if flag_contended and row.foreign_cpu > CONTENDED else "")


def _table(header: list[str], align: list[str], lines: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(line) + " |" for line in lines]
    return out


def _label(w: str, smoke: bool = False) -> str:
    wl = smoke_sized(WORKLOADS[w]) if smoke else WORKLOADS[w]
    return f"{wl.label} ({wl.sizes})"


def render(*, title: str, preface: list[str], rows: dict, workloads: list[str], variants: list[str],
           runs: list[dict], machine: dict, peaks: list[dict], versions: dict, command: str,
           notes: list[str], smoke: bool) -> str:
    md = [f"# {title}", ""] + preface + [""]
    md += ["## How this was produced", "", f"- Command: `{command}`"]
    md += [f"- {line}" for line in machine.get("run", [])]
    md += ["", "## Machine", ""] + [f"- {k}: {v}" for k, v in machine["facts"].items()]
    for label, peak in peaks:
        if peak:
            md.append(f"- Measured matmul peak ({label}, {peak.get('n')}^3, best of {peak.get('trials')}): "
                      f"numpy f32 {_num(peak.get('numpy_f32'), '.0f')}, JAX f32 {_num(peak.get('jax_f32'), '.0f')}, "
                      f"JAX bf16 (f32 accumulation) {_num(peak.get('jax_bf16'), '.0f')} GFLOP/s"
                      + (f"; {peak['jax_error']}" if peak.get("jax_error") else ""))
    md += ["", "## Versions", ""] + [f"- {fw}: {v}" for fw, v in versions.items()]

    peers_here = [v for v in variants if v in PEERS]
    md += ["", "## Compact view: median ms (ratio to the fastest peer of the row)", "",
           f"Peers: {', '.join(peers_here) or 'none in this run'}; rnnkit, rnnkit-core and jax-scan "
           "are not peers (a ratio below 1.00 beats every peer). Bold: the fastest peer. "
           f"Medians use only the clean rounds of a cell (other processes used <= {CONTENDED:.0%} of "
           "the CPU while it was timed; see 'rounds used' in the full table). †: no round of that "
           "cell was clean, so all rounds were used (treat it as noisy).", ""]
    md += _table(["workload"] + variants, ["---"] + ["---:"] * len(variants),
                 [[_label(w, smoke)] + [_cell(rows[(w, v)], not smoke) for v in variants]
                  for w in workloads])

    md += ["", "## Full results", "",
           "median = median of the per-round medians of the rounds used (the clean ones; a * marks a "
           "contended round, left out when a clean one exists); min = fastest single rep in those rounds; "
           "GFLOP/s counts only the recurrence matmuls (train = 3x forward); % peak is against the "
           "f32 matmul peak measured in this run (the better of start and end; bf16 rows: the bf16 "
           "peak); peak RSS "
           "is the process's high-water mark while building and running that workload (max over "
           "rounds); foreign CPU = share of machine CPU used by other processes while timing "
           "(max over the rounds used).", ""]
    lines = []
    for w in workloads:
        for v in variants:
            r = rows[(w, v)]
            if r.status != "ok":
                lines.append([_label(w, smoke), v, _esc(r.version, 40), _not_ok(r)] + [""] * 10)
                continue
            ratio = _num(r.ratio, ".2f") + (" **fastest peer**" if r.fastest_peer else "")
            lines.append([_label(w, smoke), v, _esc(r.version, 40), _ms(r.median_ms), _ms(r.min_ms),
                          " / ".join(f"{m:.3g}" + ("" if c else "*")
                                     for m, c in zip(r.round_medians, r.round_clean)), ratio,
                          _num(r.first_s, ".2f"), _num(r.gflops, ".1f"), _num(r.pct_peak, ".1f"),
                          _num(r.peak_rss_mib, ".0f"), _num(100 * r.foreign_cpu, ".0f"), str(r.reps),
                          f"{r.rounds_used} of {r.rounds_ok}/{r.rounds}"])
    md += _table(["workload", "framework", "version", "median ms", "min ms", "per-round medians ms",
                  "x fastest peer", "first call s", "GFLOP/s", "% peak", "peak RSS MiB",
                  "foreign CPU %", "reps", "rounds used of ok/all"],
                 ["---", "---", "---"] + ["---:"] * 11, lines)

    md += ["", "## First call (s): tracing + compilation, median over rounds", ""]
    md += _table(["workload"] + variants, ["---"] + ["---:"] * len(variants),
                 [[_label(w, smoke)] + [_num(rows[(w, v)].first_s, ".2f") if rows[(w, v)].status == "ok"
                                 else "–" for v in variants] for w in workloads])

    md += ["", "## Processes in run order", "",
           "sentinel = numpy 512^3 f32 matmul GFLOP/s at process start / end (host-speed drift check).",
           ""]
    proc = []
    for run in runs:
        n_ok = sum(r["status"] == "ok" for r in run.get("results", []))
        n_err = sum(r["status"] == "error" for r in run.get("results", []))
        status = run["status"] if run["status"] != "ok" else f"{n_ok} ok, {n_err} errors"
        proc.append([str(run["round"]), run["framework"], _esc(status, 60), _num(run.get("import_s"), ".2f"),
                     _num(run.get("sentinel_start"), ".0f"), _num(run.get("sentinel_end"), ".0f"),
                     _num(run.get("wall_s") or run.get("driver_wall_s"), ".1f"),
                     _num(run.get("maxrss_mib"), ".0f"), _num(total_idle_wait(run), ".1f")])
    md += _table(["round", "framework", "status", "import s", "sentinel start", "sentinel end",
                  "process wall s", "max RSS MiB", "idle wait s"],
                 ["---:", "---", "---", "---:", "---:", "---:", "---:", "---:", "---:"], proc)
    if notes:
        md += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    return "\n".join(md) + "\n"
