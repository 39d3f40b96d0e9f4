"""What every reader yields: a model config in rnnkit's vocabulary, its weight arrays and
optionally its compile state. One shared path (`rnnkit.io.pipeline.build`) turns it into a
model."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Loaded:
    """A model file read into memory.

    source: how errors name the file (`"'path'"`).
    config: `{"class_name", "config"}` that `rnnkit.layers.serialization` rebuilds.
    weights: `[(key, array)]` in `model.weights` order, or `{top-level layer name:
        [(key, array)]}` with each layer's arrays in that layer's `weights` order.
    state: non-weight variables `[(key, array)]` (rnnkit files only).
    compile: rnnkit's compile spec (`{"optimizer", "loss", "metrics", "loss_weights"}`).
    optimizer_leaves: optax state leaves (rnnkit files only).
    keras_optimizer: a Keras 3 file's optimizer variables in file order (`.keras` only).
    notes: warnings to show once the model is built (e.g. a skipped compile config).
    origin: "rnnkit", "keras3" or "keras2".
    """

    source: str
    config: dict
    weights: list | dict
    state: list = field(default_factory=list)
    compile: dict | None = None
    optimizer_leaves: list | None = None
    keras_optimizer: list | None = None
    notes: list = field(default_factory=list)
    origin: str = "rnnkit"
