"""Training callbacks with Keras's names and hooks (`on_epoch_end(epoch, logs)`, ...)."""

from __future__ import annotations

import math
import time


class Callback:
    """Base class: override any `on_*` hook. `self.model` is the model being trained."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_batch_begin(self, batch, logs=None): ...
    def on_batch_end(self, batch, logs=None): ...

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)  # Keras: the old name is the training hook

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)


class History(Callback):
    """Records each epoch's logs: `history.history["loss"]` is a list, one per epoch."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


def _format_logs(logs):
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


class ProgbarLogger(Callback):
    """Keras-like progress: `Epoch 1/5` then `32/32 ━━━━ 1s 3ms/step - loss: 0.1234`.

    Drawn with `rich`; verbose=2 prints one line per epoch instead of a bar.
    """

    def __init__(self, verbose=1, epochs=1, steps=None):
        super().__init__()
        self.verbose, self.epochs, self.steps = verbose, epochs, steps
        self._progress = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._seen = 0
        if self.verbose == 1:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            print(f"Epoch {epoch + 1}/{self.epochs}", flush=True)
            self._progress = Progress(
                MofNCompleteColumn(), BarColumn(bar_width=20),
                TextColumn("{task.fields[timing]}"), TextColumn("{task.fields[logs]}"),
                transient=False)
            self._progress.start()
            self._task = self._progress.add_task("train", total=self.steps, timing="",
                                                 logs="")

    def _timing(self):
        elapsed = time.perf_counter() - self._start
        per_step = elapsed / max(self._seen, 1)
        unit = f"{per_step * 1e3:.0f}ms/step" if per_step < 1 else f"{per_step:.1f}s/step"
        return f"{elapsed:.0f}s {unit}"

    def on_train_batch_end(self, batch, logs=None):
        self._seen = batch + 1
        if self._progress is not None:
            self._progress.update(self._task, completed=batch + 1, timing=self._timing(),
                                  logs="- " + _format_logs(logs or {}))

    def on_epoch_end(self, epoch, logs=None):
        if self._progress is not None:
            self._progress.update(self._task, timing=self._timing(),
                                  logs="- " + _format_logs(logs or {}))
            self._progress.stop()
            self._progress = None
        elif self.verbose == 2:
            print(f"Epoch {epoch + 1}/{self.epochs} - {self._timing()} - "
                  f"{_format_logs(logs or {})}", flush=True)


class CallbackList:
    """Calls every callback's hook in order; adds History and the progress bar."""

    def __init__(self, callbacks, model, add_history=True, add_progbar=True, verbose=1,
                 epochs=1, steps=None):
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise ValueError(f"callbacks must be Callback instances; received {cb!r}.")
        if add_progbar:
            self.callbacks.append(ProgbarLogger(verbose, epochs, steps))
        if add_history:
            model.history = History()
            self.callbacks.append(model.history)
        params = {"epochs": epochs, "steps": steps, "verbose": verbose}
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def call(*args, **kwargs):
            for cb in self.callbacks:
                getattr(cb, hook)(*args, **kwargs)

        return call


class _Monitor:
    """Shared 'is this value better?' logic of EarlyStopping/ReduceLROnPlateau/Checkpoint."""

    def _init_monitor(self, monitor, mode, min_delta=0.0):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max'; received {mode!r}.")
        if mode == "auto":
            mode = "max" if ("acc" in monitor or monitor.startswith("fmeasure")) else "min"
        self.monitor, self.mode, self.min_delta = monitor, mode, abs(min_delta)
        self.best = math.inf if mode == "min" else -math.inf

    def _value(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            import warnings

            warnings.warn(f"{type(self).__name__}: the monitored metric '{self.monitor}' is "
                          f"not in the logs (available: {sorted(logs or {})}).", stacklevel=3)
        return value

    def _improved(self, value):
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(Callback, _Monitor):
    """Stops training when `monitor` has not improved for `patience` epochs."""

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self._init_monitor(monitor, mode, min_delta)
        self.patience, self.verbose, self.baseline = patience, verbose, baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch
        self.stopped_epoch, self.wait, self.best_weights, self.best_epoch = 0, 0, None, 0

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_weights = 0, 0, None
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        value = self._value(logs)
        if value is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._improved(value):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._better_than_baseline(value):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                self.model.set_weights(self.best_weights)

    def _better_than_baseline(self, value):
        return value < self.baseline if self.mode == "min" else value > self.baseline

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")


class ReduceLROnPlateau(Callback, _Monitor):
    """Multiplies the learning rate by `factor` after `patience` epochs without improvement.

    The rate lives in the optimizer state, so changing it needs no recompilation.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__()
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau expects factor < 1; received {factor}.")
        self._init_monitor(monitor, mode, min_delta)
        self.factor, self.patience, self.verbose = factor, patience, verbose
        self.cooldown, self.min_lr = cooldown, min_lr
        self.wait, self.cooldown_counter = 0, 0

    def on_train_begin(self, logs=None):
        self.wait, self.cooldown_counter = 0, 0
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        model = self.model
        current_lr = float(model.optimizer.get_learning_rate(model._opt_state))
        logs["learning_rate"] = current_lr
        value = self._value(logs)
        if value is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(value):
            self.best, self.wait = value, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience and current_lr > self.min_lr:
                new_lr = max(current_lr * self.factor, self.min_lr)
                model._opt_state = model.optimizer.set_learning_rate(model._opt_state, new_lr)
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                          f"{new_lr}.")
                self.cooldown_counter, self.wait = self.cooldown, 0


class ModelCheckpoint(Callback, _Monitor):
    """Saves the model (or its weights) after each epoch, atomically.

    `filepath` may contain `{epoch}` and log keys, e.g. "ckpt-{epoch:02d}-{val_loss:.2f}.rnnkit".
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__()
        self._init_monitor(monitor, mode)
        if initial_value_threshold is not None:
            self.best = initial_value_threshold
        self.filepath, self.verbose = str(filepath), verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        if save_freq != "epoch":
            raise ValueError("ModelCheckpoint supports save_freq='epoch' only.")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            value = self._value(logs)
            if value is None or not self._improved(value):
                return
            self.best = value
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saved to {path}")


class TerminateOnNaN(Callback):
    """Stops training at the first batch whose loss is NaN or infinite (Keras's callback).

    By default sets `model.stop_training = True`: the batch loop ends at once, the epoch's
    `on_epoch_end` and `on_train_end` still run. With `raise_error=True` a RuntimeError is
    raised instead, so no other callback's cleanup runs (e.g. no checkpoint is written).
    """

    def __init__(self, raise_error: bool = False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        if self.raise_error:
            raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: "
                               f"{loss}. Terminating training immediately.")
        print(f"Batch {batch}: Invalid loss, terminating training", flush=True)
        self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from plain functions: `LambdaCallback(on_epoch_end=lambda e, logs: ...)`."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        hooks = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end)
        hooks.update({k.replace("on_batch", "on_train_batch"): v for k, v in kwargs.items()})
        for name, fn in hooks.items():
            if fn is not None:
                setattr(self, name, fn)
