"""rnnkit.losses and rnnkit.metrics against NumPy formulas and Keras documentation values."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rnnkit import losses, metrics

EPS = 1e-7
rng = np.random.default_rng(0)


def _probs(shape):
    p = rng.uniform(0.05, 1.0, size=shape)
    return (p / p.sum(-1, keepdims=True)).astype(np.float32)


def _logits(shape):
    return rng.normal(scale=2.0, size=shape).astype(np.float32)


def np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


# --------------------------------------------------------------------------------------
# NumPy per-sample references
# --------------------------------------------------------------------------------------


def np_mse(t, p):
    return np.mean((t - p) ** 2, -1)


def np_mae(t, p):
    return np.mean(np.abs(t - p), -1)


def np_huber(t, p, delta=1.0):
    e = np.abs(p - t)
    return np.mean(np.where(e <= delta, 0.5 * e ** 2, delta * e - 0.5 * delta ** 2), -1)


def np_bce(t, p, from_logits=False, ls=0.0):
    t = t * (1 - ls) + 0.5 * ls
    if from_logits:
        p = np_sigmoid(p.astype(np.float64))
    else:
        p = np.clip(p, EPS, 1 - EPS)
    return np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p)), -1)


def np_cce(t, p, from_logits=False, ls=0.0):
    t = t * (1 - ls) + ls / t.shape[-1]
    p = np_softmax(p.astype(np.float64)) if from_logits else p / p.sum(-1, keepdims=True)
    return -np.sum(t * np.log(np.clip(p, EPS, 1 - EPS)), -1)


def np_scce(ids, p, from_logits=False):
    k = p.shape[-1]
    return np_cce(np.eye(k)[ids], p, from_logits)


# --------------------------------------------------------------------------------------
# Loss values
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(4, 3), (4, 5, 3)], ids=["batch", "batch_time"])
@pytest.mark.parametrize("loss,ref", [
    (losses.MeanSquaredError(), np_mse),
    (losses.MeanAbsoluteError(), np_mae),
    (losses.Huber(), np_huber),
    (losses.Huber(delta=0.3), lambda t, p: np_huber(t, p, 0.3)),
])
def test_regression_losses_mean_over_batch_and_time(shape, loss, ref):
    t = rng.normal(size=shape).astype(np.float32)
    p = rng.normal(size=shape).astype(np.float32)
    np.testing.assert_allclose(loss(t, p), ref(t, p).mean(), rtol=1e-5)
    np.testing.assert_allclose(loss.call(t, p), ref(t, p), rtol=1e-5)  # per sample


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("ls", [0.0, 0.2])
@pytest.mark.parametrize("shape", [(4, 3), (4, 5, 1)])
def test_binary_crossentropy(from_logits, ls, shape):
    t = rng.integers(0, 2, size=shape).astype(np.float32)
    p = _logits(shape) if from_logits else rng.uniform(0, 1, size=shape).astype(np.float32)
    p.flat[0] = 0.0 if not from_logits else p.flat[0]  # exercises the clipping
    loss = losses.BinaryCrossentropy(from_logits=from_logits, label_smoothing=ls)
    np.testing.assert_allclose(loss(t, p), np_bce(t, p, from_logits, ls).mean(), rtol=1e-5)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("ls", [0.0, 0.1])
@pytest.mark.parametrize("shape", [(4, 3), (4, 5, 3)])
def test_categorical_crossentropy(from_logits, ls, shape):
    t = np.eye(shape[-1], dtype=np.float32)[rng.integers(0, shape[-1], size=shape[:-1])]
    # Unnormalized probabilities: Keras divides by the sum over the class axis first.
    p = _logits(shape) if from_logits else 3.0 * _probs(shape)
    loss = losses.CategoricalCrossentropy(from_logits=from_logits, label_smoothing=ls)
    np.testing.assert_allclose(loss(t, p), np_cce(t, p, from_logits, ls).mean(), rtol=1e-5)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("id_shape,k", [((4,), 3), ((4, 1), 3), ((4, 5), 3), ((4, 5, 1), 3)])
def test_sparse_categorical_crossentropy(from_logits, id_shape, k):
    ids = rng.integers(0, k, size=id_shape)
    flat = ids[..., 0] if id_shape[-1] == 1 and len(id_shape) > 1 else ids
    p = _logits(flat.shape + (k,)) if from_logits else _probs(flat.shape + (k,))
    loss = losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    np.testing.assert_allclose(loss(ids, p), np_scce(flat, p, from_logits).mean(), rtol=1e-5)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(ids, p, from_logits),
                               np_scce(flat, p, from_logits), rtol=1e-5)


def test_crossentropy_clips_probabilities_at_keras_epsilon():
    # p = 0 for the true class gives -log(1e-7) (float32), not inf.
    p = np.tile(np.float32([[0.0, 0.5, 0.5]]), (4, 1))
    got = losses.sparse_categorical_crossentropy(np.zeros(4, np.int32), p)
    np.testing.assert_allclose(got, -np.log(np.float32(1e-7)), rtol=1e-6)
    got = losses.binary_crossentropy(np.ones((4, 3)), np.ones((4, 3)))
    np.testing.assert_allclose(got, -np.log(np.float32(1) - np.float32(1e-7)), rtol=1e-3)


def test_keras_documentation_values():
    yt, yp = [[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]
    np.testing.assert_allclose(losses.CategoricalCrossentropy()(yt, yp), 1.177, atol=1e-3)
    np.testing.assert_allclose(losses.CategoricalCrossentropy()(
        yt, yp, sample_weight=np.array([0.3, 0.7])), 0.814, atol=1e-3)
    np.testing.assert_allclose(losses.CategoricalCrossentropy(reduction="sum")(yt, yp),
                               2.354, atol=1e-3)
    np.testing.assert_allclose(losses.CategoricalCrossentropy(reduction=None)(yt, yp),
                               [0.0513, 2.303], atol=1e-3)
    bt, bp = np.array([[0, 1], [0, 0]]), np.array([[-18.6, 0.51], [2.94, -12.8]])
    bce = losses.BinaryCrossentropy(from_logits=True)
    np.testing.assert_allclose(bce(bt, bp), 0.8654, atol=1e-4)
    np.testing.assert_allclose(bce(bt, bp, sample_weight=[0.8, 0.2]), 0.243, atol=1e-3)
    np.testing.assert_allclose(
        losses.BinaryCrossentropy(from_logits=True, reduction="none")(bt, bp),
        [0.235, 1.496], atol=1e-3)
    np.testing.assert_allclose(
        losses.binary_crossentropy([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]),
        [0.916, 0.714], atol=1e-3)
    np.testing.assert_allclose(losses.huber([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]),
                               [0.18, 0.13], atol=1e-6)  # their mean: Keras' 0.155


def test_sample_weight_mask_and_ignore_class():
    t, p = rng.normal(size=(4, 5, 3)), rng.normal(size=(4, 5, 3))
    per = np_mse(t, p)  # (4, 5)
    w = np.array([1.0, 0.0, 2.0, 0.5])
    mse = losses.MeanSquaredError()
    # Per-sample weights weight every timestep; the divisor stays the element count.
    np.testing.assert_allclose(mse(t, p, sample_weight=w), (per * w[:, None]).mean(), rtol=1e-5)
    w2 = rng.uniform(size=(4, 5))
    np.testing.assert_allclose(mse(t, p, sample_weight=w2), (per * w2).mean(), rtol=1e-5)
    mask = np.arange(5)[None, :] < np.array([[2], [1], [5], [0]])
    np.testing.assert_allclose(mse(t, p, mask=mask), per[mask].mean(), rtol=1e-5)
    np.testing.assert_allclose(losses.MeanSquaredError(reduction="sum")(t, p, mask=mask),
                               per[mask].sum(), rtol=1e-5)
    np.testing.assert_allclose(
        losses.MeanSquaredError(reduction="mean_with_sample_weight")(t, p, sample_weight=w2),
        (per * w2).sum() / w2.sum(), rtol=1e-5)
    ids = np.where(mask, rng.integers(0, 3, size=(4, 5)), -1)
    probs = _probs((4, 5, 3))
    scce = losses.SparseCategoricalCrossentropy(ignore_class=-1)
    valid = ids != -1
    want = np_scce(np.where(valid, ids, 0), probs)[valid].mean()
    np.testing.assert_allclose(scce(ids, probs), want, rtol=1e-5)
    grads = jax.jit(jax.grad(lambda q: scce(ids, q)))(jnp.asarray(probs))
    assert np.all(np.isfinite(grads)) and np.all(grads[~valid] == 0)


def test_losses_are_jittable_and_differentiable():
    t, p = jnp.asarray(rng.integers(0, 3, size=(4, 5))), jnp.asarray(_logits((4, 5, 3)))
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    value, grad = jax.jit(jax.value_and_grad(lambda q: loss(t, q)))(p)
    np.testing.assert_allclose(value, np_scce(np.asarray(t), np.asarray(p), True).mean(),
                               rtol=1e-5)
    want = (np_softmax(np.asarray(p, np.float64)) - np.eye(3)[np.asarray(t)]) / 20
    np.testing.assert_allclose(grad, want, rtol=1e-4, atol=1e-7)


# --------------------------------------------------------------------------------------
# get(), shapes, config
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,fn", [
    ("mse", losses.mean_squared_error), ("MSE", losses.mean_squared_error),
    ("mean_squared_error", losses.mean_squared_error), ("mae", losses.mean_absolute_error),
    ("mean_absolute_error", losses.mean_absolute_error), ("huber", losses.huber),
    ("binary_crossentropy", losses.binary_crossentropy), ("bce", losses.binary_crossentropy),
    ("categorical_crossentropy", losses.categorical_crossentropy),
    ("sparse_categorical_crossentropy", losses.sparse_categorical_crossentropy),
])
def test_get_function_names(name, fn):
    loss = losses.get(name)
    assert isinstance(loss, losses.LossFunctionWrapper) and loss.fn is fn
    assert loss.name == name


def test_get_classes_instances_callables_and_unknown():
    assert isinstance(losses.get("Huber"), losses.Huber)
    inst = losses.CategoricalCrossentropy(from_logits=True)
    assert losses.get(inst) is inst and losses.get(None) is None
    assert isinstance(losses.get(losses.MeanAbsoluteError), losses.MeanAbsoluteError)

    def my_loss(y_true, y_pred):
        return jnp.sum(y_pred - y_true, axis=-1)

    custom = losses.get(my_loss)
    assert custom.name == "my_loss"
    np.testing.assert_allclose(custom(np.zeros((2, 3)), np.ones((2, 3))), 3.0)
    with pytest.raises(ValueError, match=r"Unknown loss 'msee'. Valid names: "
                                         r"mean_squared_error \(mse\), .*huber.*"
                                         r"sparse_categorical_crossentropy; classes: "):
        losses.get("msee")


def test_check_shapes_messages():
    with pytest.raises(ValueError) as err:
        losses.SparseCategoricalCrossentropy().check_shapes((32, 10), (32, 10))
    msg = str(err.value)
    assert msg.startswith("sparse_categorical_crossentropy expects integer class ids of "
                          "shape (batch,) or (batch, timesteps)")
    assert "y_true should have shape (32,)" in msg and "received y_true of shape (32, 10)" \
        in msg.replace("Received", "received")
    assert msg.endswith("For one-hot targets use categorical_crossentropy.")
    with pytest.raises(ValueError, match=r"For integer class ids use sparse_categorical"):
        losses.get("categorical_crossentropy")(np.zeros(4), np.ones((4, 3)) / 3)
    with pytest.raises(ValueError, match=r"mean_squared_error expects y_true and y_pred of "
                                         r"the same shape.*\(8, 3\).*\(8, 2\)"):
        losses.check_shapes("mse", (8, 3), (8, 2))
    # Accepted layouts (Keras squeezes/expands a trailing axis of 1).
    losses.check_shapes("mse", (8,), (8, 1))
    losses.check_shapes("binary_crossentropy", (8, 5, 1), (8, 5))
    losses.check_shapes("sparse_categorical_crossentropy", (8, 5, 1), (8, 5, 7))
    losses.check_shapes("sparse_categorical_crossentropy", (None, 5), (None, 5, 7))


@pytest.mark.parametrize("loss", [
    losses.MeanSquaredError(name="m"), losses.Huber(delta=2.0),
    losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
    losses.CategoricalCrossentropy(label_smoothing=0.2, reduction="sum"),
    losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
    losses.get("mae"),
], ids=lambda l: l.name)
def test_loss_config_round_trip(loss):
    clone = type(loss).from_config(loss.get_config())
    assert clone.get_config() == loss.get_config()
    assert type(clone) is type(loss) and clone.name == loss.name


def test_invalid_reduction():
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction="avg")


# --------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------


def test_metric_functions():
    yt = np.array([[0, 1], [1, 1]])
    yp = np.array([[0.2, 0.6], [0.5, 0.9]])
    np.testing.assert_allclose(metrics.binary_accuracy(yt, yp), [1.0, 0.5])
    np.testing.assert_allclose(metrics.accuracy([[1], [2]], [[1], [3]]), [1.0, 0.0])
    one_hot = np.eye(3)[[0, 2, 1]]
    p = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [0.6, 0.3, 0.1]])
    np.testing.assert_allclose(metrics.categorical_accuracy(one_hot, p), [1, 1, 0])
    np.testing.assert_allclose(metrics.sparse_categorical_accuracy([0, 2, 1], p), [1, 1, 0])
    np.testing.assert_allclose(metrics.sparse_categorical_accuracy([[0], [2], [1]], p),
                               [1, 1, 0])
    seq = np.stack([p, p[::-1]], 0)  # (2, 3, 3)
    np.testing.assert_allclose(metrics.sparse_categorical_accuracy([[0, 2, 1], [0, 2, 1]],
                                                                   seq), [[1, 1, 0], [1, 1, 0]])
    t, q = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    np.testing.assert_allclose(metrics.mse(t, q), np_mse(t, q), rtol=1e-5)
    np.testing.assert_allclose(metrics.mae(t, q), np_mae(t, q), rtol=1e-5)


def test_stateful_metrics_keras_documentation_values():
    m = metrics.Accuracy()
    m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]])
    np.testing.assert_allclose(m.result(), 0.75)
    m.reset_state()
    m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]], sample_weight=[1, 1, 0, 0])
    np.testing.assert_allclose(m.result(), 0.5)
    b = metrics.BinaryAccuracy()
    b.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]])
    np.testing.assert_allclose(b.result(), 0.75)
    c = metrics.CategoricalAccuracy()
    c.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]],
                   sample_weight=[0.7, 0.3])
    np.testing.assert_allclose(c.result(), 0.3, rtol=1e-6)
    s = metrics.SparseCategoricalAccuracy()
    s.update_state([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])
    np.testing.assert_allclose(s.result(), 0.5)
    mean = metrics.Mean()
    mean.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    np.testing.assert_allclose(mean.result(), 2.0)
    mean.reset_state()
    mean.update_state(jnp.asarray(2.0), sample_weight=8)   # epoch-loss tracking
    mean.update_state(jnp.asarray(5.0), sample_weight=2)
    np.testing.assert_allclose(mean.result(), (16 + 10) / 10)
    assert float(metrics.Mean().result()) == 0.0


def test_metric_accumulates_sequences_per_sample_across_batches():
    m = metrics.MeanSquaredError()
    batches = [(rng.normal(size=(n, 3, 2)), rng.normal(size=(n, 3, 2))) for n in (4, 2)]
    for t, p in batches:
        m.update_state(t, p)
    per_sample = np.concatenate([np_mse(t, p).mean(-1) for t, p in batches])
    np.testing.assert_allclose(m.result(), per_sample.mean(), rtol=1e-5)


def test_pure_batch_stats_inside_jit():
    m = metrics.SparseCategoricalAccuracy()
    yt = jnp.array([[0, 1], [2, 2], [1, 0]])
    yp = jnp.asarray(_probs((3, 2, 3)))
    w = jnp.array([1.0, 2.0, 0.0])
    total, count = jax.jit(m.batch_stats)(yt, yp, w)
    matches = (np.asarray(yt) == np.asarray(yp).argmax(-1)).mean(-1)
    np.testing.assert_allclose(total, (matches * [1, 2, 0]).sum(), rtol=1e-6)
    np.testing.assert_allclose(count, 3.0)
    np.testing.assert_allclose(jax.jit(m.fn)(yt, yp), matches, rtol=1e-6)
    m.update_from_stats(total, count)
    other = metrics.SparseCategoricalAccuracy()
    other.update_state(yt, yp, sample_weight=w)
    np.testing.assert_allclose(m.result(), other.result(), rtol=1e-6)


@pytest.mark.parametrize("loss,yt_shape,yp_shape,want", [
    ("sparse_categorical_crossentropy", (4,), (4, 3), "sparse_categorical"),
    ("sparse_categorical_crossentropy", (4, 5), (4, 5, 3), "sparse_categorical"),
    ("categorical_crossentropy", (4, 3), (4, 3), "categorical"),
    ("binary_crossentropy", (4, 1), (4, 1), "binary"),
    (losses.SparseCategoricalCrossentropy(), (4, 1), (4, 3), "sparse_categorical"),
])
def test_accuracy_resolution(loss, yt_shape, yp_shape, want):
    cls = {"binary": metrics.BinaryAccuracy, "categorical": metrics.CategoricalAccuracy,
           "sparse_categorical": metrics.SparseCategoricalAccuracy}[want]
    eager = metrics.get("accuracy", y_true_shape=yt_shape, y_pred_shape=yp_shape)
    assert type(eager) is cls and eager.name == "accuracy"
    auto = metrics.get("acc", loss=loss)
    assert auto.name == "acc" and auto.kind == want
    yt = np.zeros(yt_shape, np.int32)
    yp = np.asarray(_probs(yp_shape)) if yp_shape[-1] > 1 else np.full(yp_shape, 0.2)
    np.testing.assert_allclose(auto.fn(yt, yp), cls().fn(yt, yp))
    assert auto.kind == want


def test_accuracy_follows_keras3_shape_rule_over_loss_hint():
    auto = metrics.get("accuracy", loss="binary_crossentropy")
    with pytest.warns(UserWarning, match="decides by shapes"):
        values = auto.fn(np.array([[1, 0, 1]]), np.array([[0.9, 0.2, 0.8]]))
    assert auto.kind == "categorical"  # Keras 3: multi-column y_pred -> categorical
    np.testing.assert_allclose(values, [1.0])


def test_metrics_get_names_and_errors():
    assert isinstance(metrics.get("mse"), metrics.MeanSquaredError)
    assert metrics.get("mse").name == "mse"
    assert isinstance(metrics.get("MeanAbsoluteError"), metrics.MeanAbsoluteError)
    assert isinstance(metrics.get("sparse_categorical_accuracy"),
                      metrics.SparseCategoricalAccuracy)
    assert isinstance(metrics.get("binary_accuracy"), metrics.BinaryAccuracy)
    m = metrics.BinaryAccuracy(threshold=0.7)
    assert metrics.get(m) is m and metrics.get(None) is None
    assert metrics.get(lambda t, p: t).name == "<lambda>"
    ce = metrics.get("categorical_crossentropy")
    ce.update_state(np.eye(3), np.full((3, 3), 1 / 3))
    np.testing.assert_allclose(ce.result(), np.log(3), rtol=1e-6)
    with pytest.raises(ValueError, match="Unknown metric 'acuracy'. Valid names: accuracy"):
        metrics.get("acuracy")
    with pytest.raises(ValueError, match="threshold"):
        metrics.BinaryAccuracy(threshold=1.5)
    assert metrics.BinaryAccuracy.from_config(m.get_config()).threshold == 0.7
