"""Random cases run on real Keras 3 and on rnnkit; prints every difference.

    KERAS_BACKEND=jax python3 -m tools.keras_crosscheck --n 200 --seed 0 \
        [--category mask] [--engine native|xla|scan|both|all] [--case 17] [--save DIR]

Each case is drawn (from `--seed` and its index) by `tools.crosscheck_cases` in the spirit of
the golden categories (tests/fixtures/keras_golden/README.md), gets uniform +-0.5 weights
via `set_weights`, runs on Keras (recording outputs, `layer.losses`, or `fit` history and
final weights) and is then replayed on rnnkit by `tests/reference/crosscheck_replay.py`
on each engine: forward values at atol 1e-5, training at rtol 1e-4, weight shapes,
`count_params` and output nesting exactly.

Outcomes: `ok`, `mismatch` (numbers or structure differ), `error` (rnnkit raised where
Keras ran), `keras_refused` (Keras itself raised: not a case). Each problem prints the
command that reproduces it and the case's config. `--save DIR` writes each problem case
as a golden-format .npz (Keras' arrays included), ready to become a regression fixture
in tests/fixtures/keras_crosscheck/ (replayed by the tests without Keras).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "reference"))

import crosscheck_replay  # noqa: E402
import golden  # noqa: E402

from tools import crosscheck_cases  # noqa: E402

ENGINES = {"native": {"native": True, "fast": True}, "xla": {"native": False, "fast": True},
           "scan": {"native": False, "fast": False}}
ENGINE_SETS = {"both": ("native", "xla"), "all": ("native", "xla", "scan")}


class KerasRefused(Exception):
    """Keras itself raised on the case: the configuration is not valid Keras."""


def draw_case(seed, index, category=None):
    r = random.Random(f"{seed}-{index}")
    rng = np.random.default_rng([seed, index])
    if category is None:
        cats = list(crosscheck_cases.CATEGORY_WEIGHTS)
        category = r.choices(cats, weights=[crosscheck_cases.CATEGORY_WEIGHTS[c] for c in cats])[0]
    cfg, arrays = crosscheck_cases.GENERATORS[category](r, rng)
    if cfg["kind"] == "train" and _squares_embedding_grads(cfg):
        cfg["dense_embedding_gradients"] = True
    cfg["name"] = f"crosscheck_s{seed}_{index}_{category}"
    cfg["seed"] = seed
    return cfg, arrays, rng


def _squares_embedding_grads(cfg):
    """Keras-on-TF squares an embedding gradient per looked-up id (IndexedSlices) in these
    optimizers, Keras-on-JAX squares the summed dense gradient; rnnkit follows TF."""
    has_embedding = any(s["__class__"] == "Embedding" for s in cfg["model"]["layers"])
    squares = cfg["compile"]["optimizer"]["__class__"] in ("Adam", "AdamW", "RMSprop", "Adagrad")
    return has_embedding and squares


def _to_numpy_structure(out, arrays, counter):
    if isinstance(out, (list, tuple)):
        return [_to_numpy_structure(o, arrays, counter) for o in out]
    key = f"y_{counter[0]}"
    counter[0] += 1
    arrays[key] = np.asarray(out, dtype=np.float32)
    return key


def _random_weights(obj, cfg, arrays, rng):
    shapes = [tuple(np.shape(w)) for w in obj.get_weights()]
    weights = [rng.uniform(-0.5, 0.5, size=s).astype(np.float32) for s in shapes]
    obj.set_weights(weights)
    cfg["weight_shapes"] = [list(s) for s in shapes]
    cfg["n_weights"] = len(shapes)
    cfg["count_params"] = int(obj.count_params())
    cfg["weight_scale"] = 0.5
    for i, w in enumerate(weights):
        arrays[f"weights_{i}"] = w


def _tf_backend_masking(keras):
    """Makes Keras-on-JAX mask like Keras-on-TensorFlow, which made the golden data.

    The two backends differ where a masked step comes before any unmasked one: the JAX
    backend's scan carries the first state (the initial state) as the "previous output",
    TensorFlow carries zeros; and the JAX backend's unrolled loop ignores
    `zero_output_for_mask`. TensorFlow's unrolled loop (the same carry as JAX's unrolled
    one) zeroes the masked outputs afterwards, with the time mask as given (not reversed
    for `go_backwards`); its scan zeroes them step by step. Without a mask, TensorFlow's
    loop also packs each step's states like the initial ones (`_packed_like`).
    """
    import jax.numpy as jnp  # noqa: PLC0415

    from keras.src import backend, tree  # noqa: PLC0415

    jax_rnn = backend.rnn
    if getattr(jax_rnn, "_tf_semantics", False):
        return

    def rnn(step_function, inputs, initial_states, go_backwards=False, mask=None,
            constants=None, unroll=False, input_length=None, time_major=False,
            zero_output_for_mask=False, return_all_outputs=True):
        kwargs = dict(go_backwards=go_backwards, mask=mask, constants=constants,
                      input_length=input_length, time_major=time_major,
                      zero_output_for_mask=zero_output_for_mask,
                      return_all_outputs=return_all_outputs)
        if mask is None:
            if not unroll:
                step_function = _packed_like(step_function, initial_states)
            return jax_rnn(step_function, inputs, initial_states, unroll=unroll, **kwargs)
        last, outputs, states = jax_rnn(step_function, inputs, initial_states, unroll=True,
                                        **kwargs)
        if zero_output_for_mask:
            m = jnp.asarray(mask).astype(bool)
            if time_major:
                m = m.T
            last_mask = m[:, 0] if go_backwards else m[:, -1]
            last = jnp.where(last_mask.reshape(last_mask.shape + (1,) * (last.ndim - 1)),
                             last, 0.0)
            if return_all_outputs:
                step_mask = m if unroll or not go_backwards else m[:, ::-1]
                if time_major:
                    step_mask = step_mask.T
                shape = step_mask.shape + (1,) * (outputs.ndim - 2)
                outputs = jnp.where(step_mask.reshape(shape), outputs, 0.0)
        return last, outputs, states

    def _packed_like(step_function, initial_states):
        # TensorFlow's while loop packs each step's states into the structure of the
        # initial states; JAX's scan needs them equal. They differ for `RNN([cell])`: the
        # one-cell StackedRNNCells returns `[h, c]` for initial states `[[h, c]]`.
        def step(inputs, states):
            output, new_states = step_function(inputs, states)
            return output, tree.pack_sequence_as(initial_states, tree.flatten(new_states))
        return step

    rnn._tf_semantics = True
    backend.rnn = rnn


def record_on_keras(cfg, arrays, rng):
    """Runs the case on Keras, adding weights and every output to `arrays` (in place)."""
    import keras  # noqa: PLC0415 - the tool's only Keras import

    _tf_backend_masking(keras)
    cfg["keras_version"] = keras.__version__
    try:
        if cfg["kind"] == "layer":
            _record_layer(keras, cfg, arrays, rng)
        elif cfg["kind"] == "model":
            model = golden.build_model(cfg["model"], keras)
            _random_weights(model, cfg, arrays, rng)
            arrays["y_0"] = np.asarray(model.predict(arrays["x"], verbose=0), np.float32)
            cfg["call"]["outputs"] = "y_0"
        else:
            _record_train(keras, cfg, arrays, rng)
    except Exception as exc:  # noqa: BLE001 - any Keras refusal marks the config invalid
        lines = [t.strip() for t in str(exc).splitlines() if t.strip()]
        why = next((t for t in reversed(lines) if not t.startswith(("•", "Arguments"))), "")
        raise KerasRefused(f"{type(exc).__name__}: {why[:200]}") from exc
    for v in arrays.values():
        if v.dtype.kind == "f" and not np.all(np.isfinite(v)):
            raise KerasRefused("Keras produced non-finite values")


def _record_layer(keras, cfg, arrays, rng):
    layer = golden.build_object(cfg["spec"], keras)
    layer.build(tuple(cfg["build_input_shape"]))
    _random_weights(layer, cfg, arrays, rng)
    if cfg.get("regularization_losses"):
        arrays["reg_losses"] = np.asarray([float(v) for v in layer.losses], np.float32)
    counter = [0]
    for call in cfg["calls"]:
        if call["reset_states_before"]:
            layer.reset_states()
        out = layer(arrays[call["inputs"]], **crosscheck_replay.call_kwargs(call, arrays))
        call["outputs"] = _to_numpy_structure(out, arrays, counter)
    if cfg.get("regularization_losses"):
        arrays["reg_losses_after_call"] = np.asarray([float(v) for v in layer.losses],
                                                     np.float32)


def _record_train(keras, cfg, arrays, rng):
    model = golden.build_model(cfg["model"], keras)
    _random_weights(model, cfg, arrays, rng)
    model.compile(optimizer=golden.build_object(cfg["compile"]["optimizer"], keras),
                  loss=cfg["compile"]["loss"])
    history = model.fit(arrays["x"], arrays["target"], **cfg["fit"])
    arrays["loss_history"] = np.asarray(history.history["loss"], np.float32)
    for i, w in enumerate(model.get_weights()):
        arrays[f"final_weights_{i}"] = np.asarray(w, np.float32)


def check_on_rnnkit(cfg, arrays, engine):
    import rnnkit  # noqa: PLC0415

    flags = ENGINES[engine]
    rnnkit.config.set_native_kernels(flags["native"])
    rnnkit.config.set_fast_paths(flags["fast"])
    try:
        crosscheck_replay.check_case(cfg, arrays, rnnkit)
    finally:
        rnnkit.config.set_native_kernels(True)
        rnnkit.config.set_fast_paths(True)


def save_case(cfg, arrays, out_dir):
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{cfg['name']}.npz"
    np.savez(path, config=np.asarray(json.dumps(cfg, sort_keys=True)), **arrays)
    return path


def _short(exc):
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: " + " | ".join(t.strip() for t in text[:6] if t.strip())[:600]


def run(args):
    engines = ENGINE_SETS.get(args.engine, (args.engine,))
    indices = [args.case] if args.case is not None else range(args.start, args.start + args.n)
    counts = collections.defaultdict(collections.Counter)
    problems, refused = [], collections.Counter()
    started = time.time()
    for index in indices:
        cfg, arrays, rng = draw_case(args.seed, index, args.category)
        cat = cfg["category"]
        try:
            record_on_keras(cfg, arrays, rng)
        except KerasRefused as exc:
            refused[cat] += 1
            counts[cat]["keras_refused"] += 1
            if args.verbose:
                print(f"[{index}] {cat}: Keras refused: {exc}")
            continue
        for engine in engines:
            try:
                check_on_rnnkit(cfg, arrays, engine)
                outcome, detail = "ok", ""
            except AssertionError as exc:
                outcome, detail = "mismatch", _short(exc)
            except Exception as exc:  # noqa: BLE001 - every rnnkit error is reported
                outcome, detail = "error", _short(exc)
                if args.verbose:
                    traceback.print_exc()
            counts[cat][f"{engine}:{outcome}"] += 1
            if outcome != "ok":
                problems.append((index, engine, outcome, detail, cfg))
                if args.save:
                    save_case(cfg, arrays, Path(args.save))
        if args.save_all:
            save_case(cfg, arrays, Path(args.save_all))
        if args.verbose:
            print(f"[{index}] {cat} done ({time.time() - started:.0f}s)")
    _report(args, engines, counts, problems, time.time() - started)
    return 1 if problems else 0


def _repro(args, index, engine):
    cat = f" --category {args.category}" if args.category else ""
    return (f"KERAS_BACKEND=jax python3 -m tools.keras_crosscheck --seed {args.seed} "
            f"--case {index}{cat} --engine {engine}")


def _report(args, engines, counts, problems, seconds):
    print(f"\nkeras_crosscheck: seed {args.seed}, engines {', '.join(engines)}, "
          f"{seconds:.0f}s")
    keys = ["keras_refused"] + [f"{e}:{o}" for e in engines for o in ("ok", "mismatch", "error")]
    print(f"{'category':<18}" + "".join(f"{k:>16}" for k in keys))
    total = collections.Counter()
    for cat in sorted(counts):
        total.update(counts[cat])
        print(f"{cat:<18}" + "".join(f"{counts[cat][k]:>16}" for k in keys))
    print(f"{'total':<18}" + "".join(f"{total[k]:>16}" for k in keys))
    for index, engine, outcome, detail, cfg in problems:
        print(f"\n[{outcome}] case {index} ({cfg['category']}, {engine}): {detail}")
        print(f"  repro: {_repro(args, index, engine)}")
        shown = {k: v for k, v in cfg.items() if k in (
            "spec", "model", "build_input_shape", "calls", "compile", "fit", "n_samples")}
        print(f"  config: {json.dumps(shown, separators=(',', ':'))}")


def main(argv=None):
    p = argparse.ArgumentParser(prog="python3 -m tools.keras_crosscheck", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=50, help="number of cases (default 50)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--start", type=int, default=0, help="index of the first case")
    p.add_argument("--case", type=int, help="run only this case index (reproduce one)")
    p.add_argument("--category", choices=sorted(crosscheck_cases.GENERATORS))
    p.add_argument("--engine", default="both", choices=[*ENGINES, *ENGINE_SETS])
    p.add_argument("--save", metavar="DIR", help="write each problem case as a golden .npz")
    p.add_argument("--save-all", metavar="DIR", help="write every case Keras ran as a golden .npz")
    p.add_argument("-v", "--verbose", action="store_true")
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
