"""compile / fit / evaluate / predict: one jit-compiled step per batch shape.

The train step is a pure function `(trainable, non_trainable, opt_state, x, y, w) ->
(trainable', non_trainable', opt_state', loss, metric sums)`: forward pass with the
variables' values swapped in (see `Layer.stateless_call`), loss + regularization losses,
gradients, the optimizer's optax update and weight constraints, with the buffers of the old
state donated. Batches of one shape reuse one compiled step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rnnkit import config as rk_config
from rnnkit import losses as losses_mod
from rnnkit import metrics as metrics_mod
from rnnkit import optimizers as optimizers_mod
from rnnkit.core import sparse
from rnnkit.core.jit import jit_forwarding_values
from rnnkit.layers.tracing import Tracing, cached
from rnnkit.models import callbacks as callbacks_mod
from rnnkit.models.data import (batches, check_batch_size, check_epochs, check_fit_data,
                                split_validation, to_host)
from rnnkit.models.sharded import Runner
from rnnkit.variables import StatelessScope


class Trainer:
    """Mixin giving a `Model` Keras's training API."""

    def _init_training_state(self):
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self.history = None
        self.stop_training = False
        self._steps = {}
        self._opt_state = None
        self._train_trace_count = 0

    # --- compile --------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Configures training: an optimizer (name or instance), a loss, metrics."""
        # None is accepted, as in Keras (a model compiled only to evaluate or predict);
        # fit and train_on_batch then say that they need one
        self.optimizer = None if optimizer is None else optimizers_mod.get(optimizer)
        if metrics is not None and not isinstance(metrics, (list, tuple)):
            raise ValueError(
                f"compile(metrics=...) expects a list (or tuple) of metrics. Received: "
                f"metrics={metrics!r} of type {type(metrics).__name__}. Wrap it in a list, "
                f"e.g. metrics=['mae'].")
        if loss is None:
            raise ValueError("compile() needs a `loss`, e.g. loss='mse' for regression or "
                             "loss='sparse_categorical_crossentropy' for class ids.")
        self.loss = loss
        self._loss_fns = ([losses_mod.get(v) for v in loss] if isinstance(loss, (list, tuple))
                          else losses_mod.get(loss))
        self._loss_weights = loss_weights
        self._metric_ids = list(metrics or [])
        self._metrics = None
        self.compiled = True
        self._steps = {}
        self._opt_state = None

    def _require_compiled(self, what, *, optimizer=False):
        if not getattr(self, "compiled", False):
            raise RuntimeError(
                f"You must call compile() before {what}(). For example: "
                "model.compile(optimizer='adam', loss='mse').")
        if optimizer and self.optimizer is None:
            raise ValueError(
                f"{what}() updates the weights, which needs an optimizer, but the model was "
                f"compiled with optimizer=None. Compile it with one, e.g. "
                f"model.compile(optimizer='adam', loss=...).")

    # --- the pure functions -----------------------------------------------------------
    def _forward(self, variables, values, x, training):
        scope = StatelessScope(variables, values)
        scope.losses = []
        with scope, Tracing(training):
            if getattr(self, "_graph", None) is not None:
                y_pred, masks = self.call_with_masks(x, training=training)
            else:
                y_pred = self._call_direct((x,), self._prepare_kwargs({"training": training}))
                masks = [None]
            reg = [v.regularizer(v.value) for v in self.trainable_weights
                   if v.regularizer is not None]
        new_values = [scope.updates.get(id(v), val) for v, val in zip(variables, values)]
        return y_pred, masks, new_values, list(scope.losses) + reg

    def _loss_value(self, y, y_pred, masks, sample_weight):
        fns = self._loss_fns
        if isinstance(y_pred, (list, tuple)):
            ys = y if isinstance(y, (list, tuple)) else [y]
            fns = fns if isinstance(fns, list) else [fns] * len(y_pred)
            weights = self._loss_weights or [1.0] * len(y_pred)
            return sum(w * fn(t, p, sample_weight=sample_weight, mask=m)
                       for fn, t, p, m, w in zip(fns, ys, y_pred, masks, weights))
        return fns(y, y_pred, sample_weight=sample_weight, mask=masks[0])

    def _metric_sums(self, y, y_pred, masks):
        """(total, count) per metric for one batch; masked outputs count as Keras does."""
        if isinstance(y_pred, (list, tuple)):
            y, y_pred, mask = (y[0] if isinstance(y, (list, tuple)) else y), y_pred[0], masks[0]
        else:
            mask = masks[0]
        return [tuple(jnp.asarray(v, jnp.float32) for v in m.batch_stats(y, y_pred, mask=mask))
                for m in self._metrics]

    def _split_values(self):
        variables = self.variables
        trainable = {id(v) for v in self.trainable_weights}
        t_idx = [i for i, v in enumerate(variables) if id(v) in trainable]
        n_idx = [i for i, v in enumerate(variables) if id(v) not in trainable]
        return variables, t_idx, n_idx

    def _make_train_step(self, runner):
        if jax.default_backend() == "cpu":
            # reuse XLA's per-step temporaries instead of page-faulting fresh ones
            rk_config.malloc_tuning_for_training()
        variables, t_idx, n_idx = self._split_values()
        constraints = [variables[i].constraint for i in t_idx]
        optimizer = self.optimizer
        # Embedding tables: per-occurrence gradient squares, as Keras on TF (core/sparse.py)
        sparse_k = [k for k, i in enumerate(t_idx)
                    if getattr(variables[i], "sparse_gradient", False)]

        def merge(tv, ntv):
            values = [None] * len(variables)
            for i, v in zip(t_idx, tv):
                values[i] = v
            for i, v in zip(n_idx, ntv):
                values[i] = v
            return values

        def step(tv, ntv, opt_state, x, y, sample_weight):
            self._train_trace_count += 1

            def objective(tv, ghost_values):
                ghost_map = {id(variables[t_idx[k]]): g
                             for k, g in zip(sparse_k, ghost_values)}
                with sparse.ghosts(ghost_map):
                    y_pred, masks, new_values, extra = self._forward(
                        variables, merge(tv, ntv), x, True)
                loss = self._loss_value(y, y_pred, masks, sample_weight)
                if extra:
                    loss = loss + sum(jnp.asarray(v, loss.dtype) for v in extra)
                return loss, (y_pred, masks, new_values)

            ghost_values = [jnp.zeros_like(tv[k]) for k in sparse_k]
            (loss, (y_pred, masks, new_values)), (grads, ghost_grads) = jax.value_and_grad(
                objective, argnums=(0, 1), has_aux=True)(tv, ghost_values)
            squares = None
            if sparse_k:
                squares = [None] * len(tv)
                for k, g2 in zip(sparse_k, ghost_grads):
                    squares[k] = g2
            updates, opt_state = optimizer.update(grads, opt_state, tv, grad_squares=squares)
            tv = optax.apply_updates(tv, updates)
            tv = [c(v) if c is not None else v for c, v in zip(constraints, tv)]
            ntv = [new_values[i] for i in n_idx]
            tv = runner.pin([variables[i] for i in t_idx], tv)
            ntv = runner.pin([variables[i] for i in n_idx], ntv)
            opt_state = runner.pin_state(opt_state, [variables[i] for i in t_idx])
            return tv, ntv, opt_state, loss, self._metric_sums(y, y_pred, masks)

        return runner.wrap(jax.jit(step, donate_argnums=(0, 1, 2))), t_idx, n_idx

    def _make_eval_step(self, with_loss, runner):
        variables = self.variables

        def step(values, x, y, sample_weight):
            y_pred, masks, new_values, extra = self._forward(variables, values, x, False)
            if not with_loss:
                return y_pred, new_values
            loss = self._loss_value(y, y_pred, masks, sample_weight)
            if extra:
                loss = loss + sum(jnp.asarray(v, loss.dtype) for v in extra)
            return loss, self._metric_sums(y, y_pred, masks), new_values

        # jax.jit without copies of unchanged variables
        return runner.wrap(jit_forwarding_values(step))

    def _step_fn(self, kind, runner):
        # one compiled step per distribution: the layouts are part of the program
        fn = self._steps.get((kind, runner.dist))
        if fn is None:
            runner.place(self)
            fn = (self._make_train_step(runner) if kind == "train"
                  else self._make_eval_step(kind == "eval", runner))
            self._steps[(kind, runner.dist)] = fn
        return fn

    def _init_opt_state(self, runner, tv):
        if self._opt_state is None:
            self._opt_state = (self.optimizer.init(tv) if runner.dist is None else
                               runner.wrap(jax.jit(self.optimizer.init))(tv))

    # --- setup helpers --------------------------------------------------------------
    def _prepare(self, x, y=None):
        first = x[0] if isinstance(x, (list, tuple)) else x
        if not self.built:
            self._maybe_build((jnp.asarray(first[:1]),) if not isinstance(x, (list, tuple))
                              else ([jnp.asarray(v[:1]) for v in x],))
        if getattr(self, "_graph", None) is not None:
            self._check_input_shapes(self._split_inputs(x))
        if y is not None and self._metrics is None and self.compiled:
            self._metrics = [metrics_mod.get(m, loss=self.loss) for m in self._metric_ids]
        if y is not None and self.compiled:
            self._check_targets(x, y)

    def _check_targets(self, x, y):
        """Target shapes and values against each output's loss, on the host, before any
        step runs (e.g. class ids outside the output's classes)."""
        outputs = getattr(self, "outputs", None)
        if not outputs:
            return
        ys = y if isinstance(y, (list, tuple)) else [y]
        fns = self._loss_fns if isinstance(self._loss_fns, list) else None
        for i, (t, target) in enumerate(zip(outputs, ys)):
            fn = fns[i] if fns is not None and i < len(fns) else self._loss_fns
            shape = (np.shape(target)[0],) + tuple(t.shape[1:])
            check = getattr(fn, "check_shapes", None)
            if fns is None and check is not None and None not in shape:
                check(tuple(np.shape(target)), shape)
            check_values = getattr(fn, "check_target_values", None)
            if check_values is not None:
                check_values(target, tuple(t.shape))

    def _writeback(self, values, idx):
        variables = self.variables
        for i, v in zip(idx, values):
            variables[i]._value = v

    def _current(self, idx):
        variables = self.variables
        return [variables[i]._value for i in idx]

    # --- public API -----------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None,
            validation_steps=None, validation_batch_size=None, validation_freq=1):
        """Trains for `epochs` epochs; returns a `History` (`history.history["loss"]`)."""
        self._require_compiled("fit", optimizer=True)
        x, y, sample_weight = check_fit_data(x, y, sample_weight, "fit", self.loss)
        batch_size = check_batch_size(batch_size)
        val_batch_size = check_batch_size(validation_batch_size, "validation_batch_size",
                                          batch_size)
        epochs, initial_epoch = check_epochs(epochs, initial_epoch)
        if validation_data is None and validation_split:
            (x, y, sample_weight), validation_data = split_validation(
                x, y, sample_weight, validation_split)
        self._prepare(x, y)
        if validation_data is not None:  # checked before training, not after an epoch
            validation_data = check_fit_data(*_unpack_validation(validation_data),
                                             "validation_data", self.loss)
            self._check_targets(*validation_data[:2])
        n = len(y[0] if isinstance(y, (list, tuple)) else y)
        runner = Runner.current()
        runner.check(n, batch_size, "fit")
        if validation_data is not None:
            vy = validation_data[1]
            runner.check(len(vy[0] if isinstance(vy, (list, tuple)) else vy), val_batch_size,
                         "fit(validation_data)")
        verbose = 1 if verbose == "auto" else int(verbose)
        steps = -(-n // batch_size)
        cbs = callbacks_mod.CallbackList(callbacks, model=self, add_history=True,
                                         add_progbar=verbose != 0, verbose=verbose,
                                         epochs=epochs, steps=steps)
        train_step, t_idx, n_idx = self._step_fn("train", runner)
        runner.place(self)
        tv, ntv = self._current(t_idx), self._current(n_idx)
        self._init_opt_state(runner, tv)
        self.stop_training = False
        cbs.on_train_begin()
        rng = np.random.default_rng(None)
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch)
            order = rng.permutation(n) if shuffle else None
            loss_sum, seen = 0.0, 0
            metric_acc = [[0.0, 0.0] for _ in self._metrics]
            for step_i, (xb, yb, wb, size) in enumerate(
                    batches(x, y, sample_weight, batch_size, order)):
                cbs.on_train_batch_begin(step_i)
                tv, ntv, self._opt_state, loss, msums = train_step(
                    tv, ntv, self._opt_state, *runner.feed((xb, yb, wb)))
                self._writeback(tv, t_idx)
                self._writeback(ntv, n_idx)
                loss_sum += float(loss) * size
                seen += size
                for acc, (s, c) in zip(metric_acc, msums):
                    acc[0] += float(s)
                    acc[1] += float(c)
                logs = self._logs(loss_sum / seen, metric_acc)
                cbs.on_train_batch_end(step_i, logs)
                if self.stop_training:  # e.g. TerminateOnNaN: no further batch (Keras)
                    break
            logs = self._logs(loss_sum / max(seen, 1), metric_acc)
            if validation_data is not None and (epoch + 1) % validation_freq == 0:
                vx, vy, vw = validation_data
                val = self.evaluate(vx, vy, batch_size=val_batch_size,
                                    sample_weight=vw, verbose=0, return_dict=True,
                                    _callbacks=False)
                logs.update({f"val_{k}": v for k, v in val.items()})
            cbs.on_epoch_end(epoch, logs)
            tv, ntv = self._current(t_idx), self._current(n_idx)
            if self.stop_training:
                break
        cbs.on_train_end(logs if epochs > initial_epoch else {})
        return self.history

    def _logs(self, loss, metric_acc):
        logs = {"loss": float(loss)}
        for m, (s, c) in zip(self._metrics, metric_acc):
            logs[m.name] = float(s / c) if c else 0.0
        return logs

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, _callbacks=True):
        """Loss (and metrics) over the data, weighted by batch size as Keras reports it."""
        self._require_compiled("evaluate")
        x, y, sample_weight = check_fit_data(x, y, sample_weight, "evaluate", self.loss)
        batch_size = check_batch_size(batch_size)
        self._prepare(x, y)
        runner = Runner.current()
        runner.check(len(y[0] if isinstance(y, (list, tuple)) else y), batch_size,
                     "evaluate")
        step = self._step_fn("eval", runner)
        runner.place(self)
        values = [v._value for v in self.variables]
        loss_sum, seen = 0.0, 0
        metric_acc = [[0.0, 0.0] for _ in self._metrics]
        for xb, yb, wb, size in batches(x, y, sample_weight, batch_size, None):
            loss, msums, _ = step(values, *runner.feed((xb, yb, wb)))
            loss_sum += float(loss) * size
            seen += size
            for acc, (s, c) in zip(metric_acc, msums):
                acc[0] += float(s)
                acc[1] += float(c)
        logs = self._logs(loss_sum / max(seen, 1), metric_acc)
        if return_dict:
            return logs
        vals = list(logs.values())
        return vals[0] if len(vals) == 1 else vals

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Runs the model in inference mode over `x` in batches; returns NumPy arrays."""
        x, _, _ = check_fit_data(x, None, None, "predict")
        batch_size = check_batch_size(batch_size)
        self._prepare(x)
        runner = Runner.current()
        first = x[0] if isinstance(x, list) else next(iter(x.values())) \
            if isinstance(x, dict) else x
        runner.check(len(first), batch_size, "predict")
        step = self._step_fn("predict", runner)
        runner.place(self)
        outs = []
        for xb, _, _, _ in batches(x, None, None, batch_size, None):
            values = [v._value for v in self.variables]
            y_pred, new_values = step(values, runner.feed(xb), None, None)
            self._store_state(new_values)
            outs.append(runner.rows(y_pred))
        if not outs:
            raise ValueError("predict() received no samples.")
        return jax.tree_util.tree_map(lambda *parts: np.concatenate(parts, axis=0), *outs)

    def _store_state(self, new_values):
        variables = self.variables
        for i in cached(self, "state_slots", self._state_slots):
            variables[i]._value = new_values[i]

    def _state_slots(self):
        """Indices in `variables` of the non-trainable ones (the values a step may change)."""
        trainable = {id(v) for v in self.trainable_weights}
        return [i for i, v in enumerate(self.variables) if id(v) not in trainable]

    def predict_on_batch(self, x):
        # A NumPy batch of a (shape, dtype) that already passed the checks below, at the
        # current model structure and without a distribution, goes straight to the compiled
        # step: the checks depend on nothing else. Batch-1 LSTM(64) call ~20 us less.
        key = (x.shape, x.dtype) if type(x) is np.ndarray else None
        step = self._steps.get(("predict", None))
        if (key is None or step is None or Runner.distributed()
                or key not in cached(self, "checked_batches", set)):
            return self._predict_on_batch_checked(x, key)
        y_pred, new_values = step([v._value for v in self.variables], x, None, None)
        self._store_state(new_values)
        return Runner.host(y_pred)

    def _predict_on_batch_checked(self, x, key):
        x, _, _ = check_fit_data(x, None, None, "predict_on_batch")
        self._prepare(x)
        runner = Runner.current()
        xh = to_host(x)
        runner.check_batch(xh, "predict_on_batch")
        step = self._step_fn("predict", runner)
        runner.place(self)
        values = [v._value for v in self.variables]
        y_pred, new_values = step(values, runner.feed(xh), None, None)
        self._store_state(new_values)
        out = runner.rows(y_pred)
        if key is not None and runner.dist is None:
            cached(self, "checked_batches", set).add(key)
        return out

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """One optimizer step on one batch; returns the loss (before the update)."""
        self._require_compiled("train_on_batch", optimizer=True)
        x, y, sample_weight = check_fit_data(x, y, sample_weight, "train_on_batch",
                                             self.loss)
        self._prepare(x, y)
        runner = Runner.current()
        runner.check_batch(x, "train_on_batch")
        train_step, t_idx, n_idx = self._step_fn("train", runner)
        runner.place(self)
        tv, ntv = self._current(t_idx), self._current(n_idx)
        self._init_opt_state(runner, tv)
        w = None if sample_weight is None else np.asarray(sample_weight)
        tv, ntv, self._opt_state, loss, msums = train_step(
            tv, ntv, self._opt_state, *runner.feed((to_host(x), to_host(y), w)))
        self._writeback(tv, t_idx)
        self._writeback(ntv, n_idx)
        logs = self._logs(loss, [[float(s), float(c)] for s, c in msums])
        if return_dict:
            return logs
        vals = list(logs.values())
        return vals[0] if len(vals) == 1 else vals

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        return self.evaluate(x, y, batch_size=len(y) if y is not None and len(y) else None,
                             sample_weight=sample_weight,
                             verbose=0, return_dict=return_dict)


def _unpack_validation(data):
    if not isinstance(data, (list, tuple)) or len(data) not in (2, 3):
        raise ValueError("validation_data must be a tuple (x_val, y_val) or "
                         "(x_val, y_val, sample_weight).")
    return tuple(data) + (None,) * (3 - len(data))
