"""Loss curves and forecasts as PNG files, with matplotlib when it is installed.

matplotlib is an optional extra (`pip install "rnnkit[plot]"`). Without it the functions
return None and `MISSING` says how to get it; training continues."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

MISSING = ('matplotlib is not installed, so no plot was written; install it with '
           '`pip install "rnnkit[plot]"` (or `pip install matplotlib`)')


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg", force=True)  # files only, no display needed
    import matplotlib.pyplot as plt

    return plt


def available() -> bool:
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def _save(fig, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def plot_training(path, history: dict, batch_losses=None, baseline=None, unit="",
                  forecast=None, title="training"):
    """Writes the training/validation loss curves (and, for a series, forecast vs actual).

    history: {"loss": [...], "val_loss": [...]} per epoch; batch_losses: [(epoch + fraction,
    running train loss)], baseline: a horizontal reference line (e.g. unigram entropy);
    forecast: {"actual": [...], "predicted": [...], "persistence": [...]} (optional)."""
    plt = _pyplot()
    if plt is None:
        return None
    ncols = 2 if forecast is not None else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6.5 * ncols, 4.2))
    ax = axes[0] if ncols == 2 else axes
    if batch_losses:
        xs, ys = zip(*batch_losses)
        ax.plot(xs, ys, color="tab:blue", alpha=0.35, lw=1,
                label="train loss (running mean in epoch)")
    epochs = list(range(1, len(history.get("loss", [])) + 1))
    if epochs:
        ax.plot(epochs, history["loss"], "o-", color="tab:blue", label="train loss (epoch)")
    if history.get("val_loss"):
        ax.plot(list(range(1, len(history["val_loss"]) + 1)), history["val_loss"], "s-",
                color="tab:orange", label="validation loss")
    if baseline is not None:
        ax.axhline(baseline[1], color="gray", ls="--", lw=1, label=baseline[0])
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"loss{f' ({unit})' if unit else ''}")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    if forecast is not None:
        ax2 = axes[1]
        ax2.plot(forecast["actual"], color="black", lw=1.2, label="actual")
        ax2.plot(forecast["predicted"], color="tab:orange", lw=1.2,
                 label="forecast (one step ahead)")
        if forecast.get("persistence") is not None:
            ax2.plot(forecast["persistence"], color="gray", lw=0.8, ls=":",
                     label="persistence (last value)")
        ax2.set_title(forecast.get("title", "validation: forecast vs actual"))
        ax2.set_xlabel("time step (validation part)")
        ax2.grid(alpha=0.3)
        ax2.legend()
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)
