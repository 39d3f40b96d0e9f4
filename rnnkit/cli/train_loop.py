"""The epochs of `rnnkit train`: `fit` with a checkpoint after every epoch, Ctrl-C, and
divergence.

- Each epoch's end saves the model and `meta.json` atomically (`checkpoint.save_run`).
- Ctrl-C stops after the current batch and saves (exit 130); a second Ctrl-C stops at once.
- The first non-finite loss stops training (`TerminateOnNaN`) with a one-line error and
  exit code 1. A model whose weights hold NaN or inf is never saved, so the run directory
  keeps the last good checkpoint.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from pathlib import Path

from rnnkit.cli import devices
from rnnkit.cli._common import EXIT_DIVERGED, CLIError, is_tty, say
from rnnkit.io.run_dir import run_paths, save_run


class TrainingDiverged(CLIError):
    """The loss (or the weights) went non-finite: one line on stderr, exit code 1."""

    exit_code = EXIT_DIVERGED


class RunState:
    """What the callbacks and the Ctrl-C handler share while `fit` runs."""

    def __init__(self, meta, run_dir, steps, epochs):
        meta.setdefault("epochs_done", 0)
        meta.setdefault("history", {"loss": [], "val_loss": []})
        self.meta = meta
        self.run_dir = Path(run_dir)
        self.steps = steps
        self.epochs = epochs
        self.stop_requested = False
        self.batches_done = 0
        self.batch_in_epoch = 0
        self.epoch = meta.get("epochs_done", 0)
        self.interrupt_after = None
        self.start = time.perf_counter()
        self.elapsed_before = float(meta.get("elapsed_s", 0.0))
        self.saved_this_run = False
        self.diverged = None  # (epoch, where, value) once the loss or weights went bad

    def elapsed(self):
        return self.elapsed_before + time.perf_counter() - self.start


def start_state(args, meta, run_dir, steps, cfg):
    """The run's state and the epochs already done (saying so when there is nothing left)."""
    state = RunState(meta, run_dir, steps, cfg["epochs"])
    state.interrupt_after = args.interrupt_after_batches
    done = meta.get("epochs_done", 0)
    if done >= cfg["epochs"]:
        say(f"the run in {run_dir} already has {done} epochs; pass --epochs N (> {done}) to "
            "train more")
    return state, done


def _make_callback(state, extra_line):
    from rnnkit.callbacks import Callback
    from rnnkit.variables import NonFiniteWeightsError

    class RunCallback(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            state.epoch = epoch
            state.batch_in_epoch = 0

        def on_train_batch_end(self, batch, logs=None):
            state.batch_in_epoch = batch + 1
            state.batches_done += 1
            loss = float((logs or {}).get("loss", 0.0))
            if not math.isfinite(loss):  # TerminateOnNaN (next in the list) stops the run
                state.diverged = (state.epoch, f"batch {batch + 1} of {state.steps}", loss)
                return
            if logs and "loss" in logs:
                state.meta.setdefault("batch_losses", []).append(
                    [round(state.epoch + (batch + 1) / state.steps, 4), round(loss, 5)])
            if state.interrupt_after is not None and state.batches_done == \
                    state.interrupt_after:
                os.kill(os.getpid(), signal.SIGINT)  # test hook: a real Ctrl-C
            if state.stop_requested:
                raise KeyboardInterrupt

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            loss = float(logs.get("loss", float("nan")))
            val_loss = float(logs.get("val_loss", float("nan")))
            meta = dict(state.meta, history={k: list(v) for k, v in
                                             state.meta["history"].items()})
            meta["history"]["loss"].append(loss)
            meta["history"]["val_loss"].append(val_loss)
            meta.update(epochs_done=epoch + 1, interrupted=False,
                        elapsed_s=round(state.elapsed(), 1))
            try:
                path = save_run(self.model, state.run_dir, meta)
            except NonFiniteWeightsError:  # the epoch's last update overflowed
                state.diverged = (epoch, "its last update", val_loss)
                raise TrainingDiverged("weights went non-finite") from None
            state.meta.update(meta)
            state.saved_this_run = True
            say(f"epoch {epoch + 1}/{state.epochs}: loss {loss:.4f}, "
                f"val_loss {val_loss:.4f}{extra_line(val_loss)} "
                f"- saved {path} ({state.elapsed():.0f}s)")
            if state.stop_requested:
                raise KeyboardInterrupt

    return RunCallback()


def _install_sigint(state):
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        if state.stop_requested:
            raise KeyboardInterrupt
        state.stop_requested = True
        print("\nCtrl-C: stopping after this batch and saving a checkpoint (press Ctrl-C "
              "again to stop at once)", file=sys.stderr, flush=True)

    try:
        return signal.signal(signal.SIGINT, handler)
    except ValueError:  # pragma: no cover - not the main interpreter
        return None


def _restore_sigint(old):
    if old is not None and threading.current_thread() is threading.main_thread():
        try:
            signal.signal(signal.SIGINT, old)
        except (ValueError, TypeError):  # pragma: no cover
            pass


def _savable(model) -> bool:
    """The model's arrays still exist (a second Ctrl-C can leave donated buffers deleted)
    and hold finite values."""
    import jax

    from rnnkit.variables import nonfinite

    arrays = [v._value for v in model.variables]
    arrays += jax.tree_util.tree_leaves(getattr(model, "_opt_state", None))
    if any(getattr(a, "is_deleted", lambda: False)() for a in arrays):
        return False
    return not nonfinite(model.weights)


def _kept(state) -> str:
    model_path, _ = run_paths(state.run_dir)
    if state.saved_this_run:
        return f"kept the last good checkpoint {model_path} (epoch " \
               f"{state.meta.get('epochs_done', 0)})"
    if model_path.exists():
        done = state.meta.get("epochs_done", 0)
        return (f"kept the checkpoint {model_path} (epoch {done})" if done else
                f"kept the existing checkpoint {model_path} (not from this run)")
    return "nothing was saved"


def _diverged_error(state, cfg) -> TrainingDiverged:
    epoch, where, value = state.diverged
    what = f"the loss became {value}" if where.startswith("batch") else \
        "the weights became NaN or inf"
    return TrainingDiverged(
        f"training diverged: {what} in epoch {epoch + 1} ({where}); {_kept(state)}. "
        f"Retrain with a smaller --lr (this run used {cfg['lr']:g})"
        + (", or --resume from the kept epoch" if state.meta.get("epochs_done") else "")
        + ".")


def fit_with_checkpoints(model, state, x, y, vx, vy, cfg, extra_line):
    """fit() with per-epoch checkpoints; returns 130 if interrupted (after saving), raises
    TrainingDiverged at the first non-finite loss."""
    from rnnkit.callbacks import TerminateOnNaN

    done = state.meta.get("epochs_done", 0)
    callbacks = [_make_callback(state, extra_line), TerminateOnNaN(raise_error=True)]
    old = _install_sigint(state)
    try:
        devices.fit(model, cfg.get("devices"), x, y, (vx, vy), batch_size=cfg["batch_size"],
                    epochs=cfg["epochs"], initial_epoch=done, shuffle=True,
                    callbacks=callbacks, verbose=1 if is_tty() else 0)
    except (RuntimeError, TrainingDiverged):
        if state.diverged is None:
            raise
        raise _diverged_error(state, cfg) from None
    except KeyboardInterrupt:
        _restore_sigint(old)
        return _save_interrupted(model, state)
    finally:
        _restore_sigint(old)
    return 0


def _save_interrupted(model, state):
    model_path, _ = run_paths(state.run_dir)
    if state.meta.get("epochs_done", 0) == state.epoch + 1:
        where = f"at the end of epoch {state.epoch + 1}"
    else:
        where = (f"after {state.batch_in_epoch} of {state.steps} batches of epoch "
                 f"{state.epoch + 1} (--resume restarts that epoch from these weights)")
    if _savable(model):
        state.meta["interrupted"] = True
        state.meta["elapsed_s"] = round(state.elapsed(), 1)
        save_run(model, state.run_dir, state.meta)
        say(f"interrupted: saved the model {where} to {model_path}")
    elif model_path.exists():
        say(f"interrupted: {_kept(state)}")
    else:
        say("interrupted before the first checkpoint; nothing was saved")
    say(f"continue with: rnnkit train --resume --out {state.run_dir}")
    return 130
