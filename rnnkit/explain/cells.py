"""One recurrent cell explained: its equations, weights and parameter formula.

A cell is recognised by its kind (`cell._fused_kind`, e.g. "lstm"), the key of the cell-kind
registry in `rnnkit.core.kernels`. Gate count and state names come from the kind's spec;
the equation text below is the one place of cell knowledge left in `explain`.
Cells of any other kind (custom cells) are described from their weights alone.
"""

from __future__ import annotations

import dataclasses

from rnnkit.explain.formulas import eval_formula, prod, shape_product_formula, substitute, \
    weight_rows

__all__ = ["CellText", "CELL_TEXTS", "cell_text", "describe_cell", "state_names", "act_name"]


@dataclasses.dataclass(frozen=True)
class CellText:
    """What `explain` prints for one cell kind.

    `equations` are (expression, comment) templates in the code's gate order, formatted with
    u, u2, u3, u4 (multiples of units), act, ract (activation names), bias (" + bias" or ""),
    bias_in / bias_rec (" + bias[0]" / " + bias[1]" or "").
    """

    gates: int
    states: tuple
    bias_rows: int  # 0: bias (gates*u,); 2: bias (2, gates*u)
    gate_order: str
    equations: tuple
    activation_use: str  # what `activation` is applied to
    recurrent_gates: str = "the gates"  # what `recurrent_activation` is applied to
    state_note: str = ""  # appended to the `units` effect


_ONE_STATE_OUT = ("output_t = h_t;  state = [h_t]", "")

CELL_TEXTS = {
    "simple_rnn": CellText(
        gates=1, states=("h",), bias_rows=0, gate_order="(one block)",
        equations=(("h_t = {act}(x_t @ kernel{bias} + h_(t-1) @ recurrent_kernel)",
                    "(batch, {u})"), _ONE_STATE_OUT),
        activation_use="the new state h_t"),
    "lstm": CellText(
        gates=4, states=("h", "c"), bias_rows=0, gate_order="i, f, c, o",
        equations=(
            ("z = x_t @ kernel + h_(t-1) @ recurrent_kernel{bias}", "(batch, {u4})"),
            ("i = {ract}(z[:, 0:{u}])", "input gate"),
            ("f = {ract}(z[:, {u}:{u2}])", "forget gate"),
            ("g = {act}(z[:, {u2}:{u3}])", "candidate cell values (the 'c' block)"),
            ("o = {ract}(z[:, {u3}:{u4}])", "output gate"),
            ("c_t = f * c_(t-1) + i * g", "new cell state"),
            ("h_t = o * {act}(c_t)", "new hidden state"),
            ("output_t = h_t;  states = [h_t, c_t]", "")),
        activation_use="the candidate g and the output tanh(c_t)",
        recurrent_gates="i, f and o", state_note=" (h and the cell state c)"),
    "gru": CellText(
        gates=3, states=("h",), bias_rows=2, gate_order="z, r, h",
        equations=(
            ("x_z, x_r, x_h = split(x_t @ kernel{bias_in}, 3)", "each (batch, {u})"),
            ("h_z, h_r, h_h = split(h_(t-1) @ recurrent_kernel{bias_rec}, 3)", ""),
            ("z = {ract}(x_z + h_z)", "update gate (columns 0:{u})"),
            ("r = {ract}(x_r + h_r)", "reset gate (columns {u}:{u2})"),
            ("h~ = {act}(x_h + r * h_h)",
             "candidate (columns {u2}:{u3}); reset applied after the matmul"),
            ("h_t = z * h_(t-1) + (1 - z) * h~", "new state"),
            _ONE_STATE_OUT),
        activation_use="the candidate h~", recurrent_gates="z and r"),
    "gru_v1": CellText(
        gates=3, states=("h",), bias_rows=0, gate_order="z, r, h",
        equations=(
            ("x_z, x_r, x_h = split(x_t @ kernel{bias}, 3)", "each (batch, {u})"),
            ("z = {ract}(x_z + h_(t-1) @ recurrent_kernel[:, 0:{u}])", "update gate"),
            ("r = {ract}(x_r + h_(t-1) @ recurrent_kernel[:, {u}:{u2}])", "reset gate"),
            ("h~ = {act}(x_h + (r * h_(t-1)) @ recurrent_kernel[:, {u2}:{u3}])",
             "candidate; reset applied before the matmul"),
            ("h_t = z * h_(t-1) + (1 - z) * h~", "new state"),
            _ONE_STATE_OUT),
        activation_use="the candidate h~", recurrent_gates="z and r"),
}


def cell_text(cell):
    """The `CellText` of `cell`'s kind, or None for a cell rnnkit has no equations for."""
    if cell is None:
        return None
    return CELL_TEXTS.get(getattr(cell, "_fused_kind", None))


def act_name(fn) -> str:
    from rnnkit import activations

    try:
        name = activations.serialize(fn)
    except ValueError:
        name = None
    if isinstance(name, str):
        return name
    return getattr(fn, "__name__", "activation")


def _formula(text, use_bias, d, u):
    """(formula, {weight: (shape formula, count formula)}); d, u are the variable names."""
    g = text.gates
    gu = u if g == 1 else f"{g}*{u}"
    main = f"{u}*({d}+{u})" if g == 1 else f"{g}*{u}*({d}+{u})"
    per = {"kernel": (f"({d}, {gu})", f"{d}*{gu}"),
           "recurrent_kernel": (f"({u}, {gu})", f"{u}*{gu}")}
    if not use_bias:
        return main, per
    if text.bias_rows:
        per["bias"] = (f"({text.bias_rows}, {gu})", f"{text.bias_rows}*{gu}")
        return f"{main}+{text.bias_rows * g}*{u}", per
    per["bias"] = (f"({gu},)", gu)
    return f"{main}+{gu}", per


def _align(pairs):
    """[(expression, comment)] -> lines with the comments aligned."""
    width = max(len(e) for e, c in pairs if c) if any(c for _, c in pairs) else 0
    return [f"{e.ljust(width)}   # {c}" if c else e for e, c in pairs]


def _equations(text, cell, u):
    b = cell.use_bias
    ract = getattr(cell, "recurrent_activation", None)
    values = {"u": u, "u2": 2 * u, "u3": 3 * u, "u4": 4 * u,
              "act": act_name(cell.activation),
              "ract": act_name(ract) if ract is not None else "",
              "bias": " + bias" if b else "",
              "bias_in": " + bias[0]" if b else "", "bias_rec": " + bias[1]" if b else ""}
    return _align([(e.format(**values), c.format(**values)) for e, c in text.equations])


def state_names(cell) -> list:
    from rnnkit.layers.stacked import flat_sizes

    text = cell_text(cell)
    n = len(flat_sizes(cell.state_size))
    if text is not None and len(text.states) == n:
        return list(text.states)
    return ["h"] if n == 1 else [f"state_{i}" for i in range(n)]


def describe_cell(cell, input_dim, owner_name, suffix="") -> dict:
    """Dict explanation of one cell run on `input_dim` features; formula variables are
    named d{suffix}, u{suffix}."""
    from rnnkit.layers.stacked import flat_sizes

    text = cell_text(cell)
    sizes = flat_sizes(cell.state_size)
    out_size = getattr(cell, "output_size", sizes[0])
    info = {"class_name": type(cell).__name__, "name": cell.name, "input_dim": input_dim,
            "units": getattr(cell, "units", sizes[0]), "output_size": out_size,
            "state_sizes": sizes, "state_names": state_names(cell)}
    weights = list(cell.weights)
    if text is not None:
        d, u = f"d{suffix}", f"u{suffix}"
        variables = {d: int(input_dim), u: int(cell.units)}
        formula, per = _formula(text, cell.use_bias, d, u)
        eqs = _equations(text, cell, cell.units)
        info.update(gate_order=text.gate_order, equations=eqs, variables=variables)
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
