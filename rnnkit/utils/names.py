"""Names: `to_snake_case` (Keras's rule: "GRUCell" -> "gru_cell", "SimpleRNN" ->
"simple_rnn") and `unique_name` (Keras's default layer names: "dense", "dense_1", ...)."""

from __future__ import annotations

import collections
import re

__all__ = ["to_snake_case", "unique_name"]

_name_counts: collections.Counter = collections.Counter()


def to_snake_case(name: str) -> str:
    """"MeanSquaredError" -> "mean_squared_error", "GRUCell" -> "gru_cell" (Keras's rule)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def unique_name(prefix: str) -> str:
    """`prefix` the first time, then `prefix_1`, `prefix_2`, ... (one counter per prefix)."""
    n = _name_counts[prefix]
    _name_counts[prefix] += 1
    return prefix if n == 0 else f"{prefix}_{n}"
