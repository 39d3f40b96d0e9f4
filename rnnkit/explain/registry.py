"""Describers: how `explain` describes one layer type, found through the layer's class.

`register(LayerClass, Describer(...))` makes a describer known; `describer_for(layer)` walks
`type(layer).__mro__` and returns the first registered one, so a subclass is described like
its base unless it registers its own. A layer with no registered class in its MRO is a cell
when it has the cell protocol (`state_size` and `call`), else a generic layer.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping, Optional

__all__ = ["Describer", "Call", "register", "describer_for", "is_cell"]


@dataclasses.dataclass
class Call:
    """What a describer fills in for one layer call.

    Read: `layer`, `shape` (the input shape), `outputs` (symbolic output tensors; None for a
    cell), `describer`. Write: `info` (the explanation dict: formula, variables, weights or
    cells, equations, outputs, states...), `ctx` (what argument effects need, see
    `rnnkit.explain.effects`), `notes` (one-line remarks).
    """

    layer: object
    shape: tuple
    outputs: Optional[list]
    describer: "Describer"
    info: dict
    notes: list
    ctx: dict = dataclasses.field(default_factory=dict)


def _units_default(layer):
    return type(layer)(layer.units) if hasattr(layer, "units") else None


@dataclasses.dataclass(frozen=True)
class Describer:
    """How to describe one layer type.

    describe: `(call: Call) -> None`, fills `call.info` (formula, variables, formula_value,
        weights/cells, equations, outputs), `call.ctx` and `call.notes`.
    rank: the input rank the layer expects (3: a sequence, 2: one time step), None: any.
    default_input: the input shape used when none is given (the tutorials' (1, 3, 5)).
    input_dtype: dtype of the symbolic input the layer is called on.
    one_step: a cell: built but not called on a symbolic input.
    mark_built: set `layer.built = True` after `layer.build(shape)`.
    defaults: `layer -> a fresh layer of its class with only its required arguments`, to
        list the arguments that differ from the defaults (None: no defaults to compare).
    implicit_arguments: `layer -> {name: value}` shown when there are no defaults to
        compare (e.g. Bidirectional's wrapped layer).
    effects: this class's own argument effects (see `rnnkit.explain.effects.EFFECTS`).
    lists_wrapped_arguments: the arguments of the wrapped layer (argument `layer`) are
        listed too, as `layer.NAME` (Bidirectional).
    """

    describe: Callable
    rank: Optional[int] = None
    default_input: tuple = (1, 5)
    input_dtype: str = "float32"
    one_step: bool = False
    mark_built: bool = True
    defaults: Optional[Callable] = _units_default
    implicit_arguments: Optional[Callable] = None
    effects: Mapping = dataclasses.field(default_factory=dict)
    lists_wrapped_arguments: bool = False


_DESCRIBERS: dict = {}
_FALLBACK: dict = {}  # "cell" / "layer": for classes with no registered base


def register(layer_class, describer: Describer) -> Describer:
    """Describes instances of `layer_class` (and its subclasses) with `describer`."""
    if not isinstance(describer, Describer):
        raise TypeError(f"register expects a Describer; received {type(describer).__name__}")
    _DESCRIBERS[layer_class] = describer
    return describer


def set_fallbacks(*, cell: Describer, layer: Describer) -> None:
    _FALLBACK.update(cell=cell, layer=layer)


def is_cell(layer) -> bool:
    """True for an object with the cell protocol that is not a registered layer type."""
    return hasattr(layer, "state_size") and callable(getattr(layer, "call", None))


def describer_for(layer) -> Describer:
    from rnnkit.layers.layer import Layer

    for klass in type(layer).__mro__:
        if klass is Layer:
            break
        if klass in _DESCRIBERS:
            return _DESCRIBERS[klass]
    return _FALLBACK["cell"] if is_cell(layer) else _FALLBACK["layer"]
