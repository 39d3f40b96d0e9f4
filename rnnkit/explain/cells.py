"""One recurrent cell explained: its equations, weights and parameter formula.

A cell is recognised by its kind (`cell._fused_kind`, e.g. "lstm"), the key of the cell-kind
registry `rnnkit.core.kernels`; everything printed about the kind (gate count, state names,
bias layout, equations, gate order) is read from its `CellKernel` spec. Cells without a
kind (custom cells), or whose kind's weights are not the dense kernel / recurrent_kernel /
bias layout, are described from their weights alone.
"""

from __future__ import annotations

from rnnkit.core.kernels import KERNELS
from rnnkit.explain.formulas import eval_formula, prod, shape_product_formula, substitute, \
    weight_rows

__all__ = ["cell_kernel", "cell_text", "describe_cell", "state_names", "act_name"]

_DENSE_WEIGHTS = {"kernel", "recurrent_kernel", "bias"}


def cell_kernel(cell):
    """The `CellKernel` of `cell`'s kind when explain can write its formulas, else None."""
    kernel = KERNELS.get(getattr(cell, "_fused_kind", None)) if cell is not None else None
    if kernel is None or not hasattr(cell, "units"):
        return None
    try:
        names = set(kernel.weight_shapes(1, 1, True))
    except TypeError:  # a kind whose weights are not (input_dim, units, use_bias)-shaped
        return None
    return kernel if names == _DENSE_WEIGHTS else None


def cell_text(cell):
    """How explain words `cell`'s kind (`ExplainText`), or None for a cell it has no
    equations for."""
    kernel = cell_kernel(cell)
    return kernel.explain if kernel is not None else None


def _bias_rows(kernel) -> int:
    """0 for a bias of shape (gates*u,), R for (R, gates*u)."""
    shape = kernel.weight_shapes(1, 1, True)["bias"]
    return shape[0] if len(shape) == 2 else 0


def act_name(fn) -> str:
    from rnnkit import activations

    try:
        name = activations.serialize(fn)
    except ValueError:
        name = None
    if isinstance(name, str):
        return name
    return getattr(fn, "__name__", "activation")


def _formula(kernel, use_bias, d, u):
    """(formula, {weight: (shape formula, count formula)}); d, u are the variable names."""
    g = kernel.gates
    gu = u if g == 1 else f"{g}*{u}"
    main = f"{u}*({d}+{u})" if g == 1 else f"{g}*{u}*({d}+{u})"
    per = {"kernel": (f"({d}, {gu})", f"{d}*{gu}"),
           "recurrent_kernel": (f"({u}, {gu})", f"{u}*{gu}")}
    if not use_bias:
        return main, per
    rows = _bias_rows(kernel)
    if rows:
        per["bias"] = (f"({rows}, {gu})", f"{rows}*{gu}")
        return f"{main}+{rows * g}*{u}", per
    per["bias"] = (f"({gu},)", gu)
    return f"{main}+{gu}", per


def _align(pairs):
    """[(expression, comment)] -> lines with the comments aligned."""
    width = max(len(e) for e, c in pairs if c) if any(c for _, c in pairs) else 0
    return [f"{e.ljust(width)}   # {c}" if c else e for e, c in pairs]


def _line(line, values):
    expression, comment = (line, "") if isinstance(line, str) else line
    return expression.format(**values), comment.format(**values)


def _equations(kernel, cell, u):
    b = cell.use_bias
    ract = getattr(cell, "recurrent_activation", None)
    values = {"u": u, "u2": 2 * u, "u3": 3 * u, "u4": 4 * u,
              "act": act_name(cell.activation),
              "ract": act_name(ract) if ract is not None else "",
              "bias": " + bias" if b else "",
              "bias_in": " + bias[0]" if b else "", "bias_rec": " + bias[1]" if b else ""}
    return _align([_line(line, values) for line in kernel.equations])


def state_names(cell) -> list:
    from rnnkit.layers.stacked import flat_sizes

    kernel = cell_kernel(cell)
    n = len(flat_sizes(cell.state_size))
    if kernel is not None and len(kernel.states) == n:
        return list(kernel.states)
    return ["h"] if n == 1 else [f"state_{i}" for i in range(n)]


def describe_cell(cell, input_dim, owner_name, suffix="") -> dict:
    """Dict explanation of one cell run on `input_dim` features; formula variables are
    named d{suffix}, u{suffix}."""
    from rnnkit.layers.stacked import flat_sizes

    kernel = cell_kernel(cell)
    sizes = flat_sizes(cell.state_size)
    out_size = getattr(cell, "output_size", sizes[0])
    info = {"class_name": type(cell).__name__, "name": cell.name, "input_dim": input_dim,
            "units": getattr(cell, "units", sizes[0]), "output_size": out_size,
            "state_sizes": sizes, "state_names": state_names(cell)}
    weights = list(cell.weights)
    own = getattr(cell, "explain_spec", None)  # a cell that describes itself (MinGRU, LRU)
    if kernel is None and callable(own):
        spec = own(input_dim, suffix)
        variables, formula = spec["variables"], spec["formula"]
        info.update(gate_order=None, equations=spec["equations"], variables=variables,
                    state_names=spec["state_names"])
        info["weights"] = weight_rows(weights, owner_name, spec["weights"], variables)
    elif kernel is not None:
        d, u = f"d{suffix}", f"u{suffix}"
        variables = {d: int(input_dim), u: int(cell.units)}
        formula, per = _formula(kernel, cell.use_bias, d, u)
        eqs = _equations(kernel, cell, cell.units)
        info.update(gate_order=kernel.explain.gate_order, equations=eqs, variables=variables)
        info["weights"] = weight_rows(weights, owner_name, per, variables)
        if cell.dropout or cell.recurrent_dropout:
            extra = []
            if cell.dropout:
                extra.append(f"x_t is multiplied by a dropout mask (rate {cell.dropout})")
            if cell.recurrent_dropout:
                extra.append(f"h_(t-1) is multiplied by a dropout mask (rate "
                             f"{cell.recurrent_dropout})")
            info["equations"] = eqs + [
                "training only: " + " and ".join(extra) + ", drawn once per sequence"]
    else:
        formula = shape_product_formula(weights)
        variables = {}
        info.update(gate_order=None, equations=[
            f"custom cell: output_t, states_t = {type(cell).__name__}.call(x_t, "
            "states_(t-1)) (see its code)"], variables=variables)
        info["weights"] = weight_rows(weights, owner_name)
    info["formula"] = formula
    info["formula_substituted"] = substitute(formula, variables)
    info["formula_value"] = eval_formula(formula, variables)
    info["params"] = sum(prod(w.shape) for w in weights)
    return info
