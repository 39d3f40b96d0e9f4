"""`model.summary()`: a Keras-style table of layers, output shapes and parameter counts."""

from __future__ import annotations

import io

from rich import box
from rich.console import Console
from rich.table import Table


def readable_size(n_bytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n_bytes < 1024 or unit == "GB":
            return f"{n_bytes:.2f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.2f} GB"


def _shape_text(tensors) -> str:
    shapes = [tuple(t.shape) for t in tensors]
    if not shapes:
        return "?"
    if len(shapes) == 1:
        return str(shapes[0])
    return "[" + ", ".join(str(s) for s in shapes) + "]"


def _output_tensors(model, layer):
    from rnnkit.symbolic import tree_leaves

    graph = getattr(model, "_graph", None)
    if graph is None:
        return []
    for node in graph.nodes:
        if node.layer is layer:
            return tree_leaves(node.outputs)
    return []


def _count(weights) -> int:
    total = 0
    for w in weights:
        n = 1
        for d in w.shape:
            n *= int(d)
        total += n
    return total


def _bytes(weights) -> int:
    return sum(_count([w]) * w.dtype.itemsize for w in weights)


def summary_table(model) -> Table:
    table = Table(title=None, box=box.HEAVY_HEAD, show_lines=True)
    table.add_column("Layer (type)", min_width=31, no_wrap=True)
    table.add_column("Output Shape", min_width=22)
    table.add_column("Param #", justify="right", min_width=13)
    layers = list(model.layers)
    graph = getattr(model, "_graph", None)
    if graph is not None and type(model).__name__ == "Sequential":
        layers = [layer for layer in layers if type(layer).__name__ != "InputLayer"]
    for layer in layers:
        params = _count(layer.weights) if layer.built else "0 (unbuilt)"
        table.add_row(f"{layer.name} ({type(layer).__name__})",
                      _shape_text(_output_tensors(model, layer)), str(params))
    return table


def summary_text(model) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=200, force_terminal=False, color_system=None)
    console.print(f'Model: "{model.name}"')
    console.print(summary_table(model))
    trainable = model.trainable_weights
    non_trainable = model.non_trainable_weights
    total = trainable + non_trainable
    for label, ws in (("Total", total), ("Trainable", trainable),
                      ("Non-trainable", non_trainable)):
        console.print(f" {label} params: {_count(ws)} ({readable_size(_bytes(ws))})")
    return buf.getvalue().rstrip("\n")


def print_summary(model, print_fn=None, line_length=None):
    text = summary_text(model)
    if print_fn is None:
        print(text)
    else:
        for line in text.split("\n"):
            print_fn(line)
