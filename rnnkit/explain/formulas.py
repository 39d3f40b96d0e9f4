"""Parameter-count formulas as text ("4*u*(d+u)+4*u"): evaluate, substitute, weight rows."""

from __future__ import annotations

import ast

__all__ = ["eval_formula", "substitute", "prod", "shape_product_formula", "weight_rows"]


def eval_formula(formula: str, variables: dict) -> int:
    """Evaluates an integer formula such as "4*u*(d+u)+4*u" (only + - * // and names)."""

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name):
            return int(variables[node.id])
        if isinstance(node, ast.BinOp):
            a, b = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            if isinstance(node.op, ast.FloorDiv):
                return a // b
        raise ValueError(f"unsupported formula element {ast.dump(node)}")

    return ev(ast.parse(formula, mode="eval"))


def substitute(formula: str, variables: dict) -> str:
    """"4*u*(d+u)+4*u" with u=64, d=5 -> "4*64*(5+64)+4*64"."""
    return "".join(str(variables[tok]) if tok in variables else tok
                   for tok in _tokens(formula))


def _tokens(formula):
    tok = ""
    for ch in formula:
        if ch.isalnum() or ch == "_":
            tok += ch
        else:
            if tok:
                yield tok
                tok = ""
            yield ch
    if tok:
        yield tok


def prod(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def shape_product_formula(weights) -> str:
    """"3*4+4" for weights of shapes (3, 4) and (4,): the formula of a layer rnnkit knows
    nothing about."""
    if not weights:
        return "0"
    return "+".join("*".join(str(int(d)) for d in w.shape) or "1" for w in weights)


def weight_rows(weights, owner_name, per=None, variables=None) -> list:
    """One dict per weight: name, path, shape, params, trainable; with `per` ({weight name:
    (shape formula, count formula)}) also the formulas and their value."""
    rows = []
    for w in weights:
        path = w.path if w.path.startswith(owner_name + "/") else f"{owner_name}/{w.path}"
        row = {"name": w.name, "path": path, "shape": list(w.shape),
               "params": prod(w.shape), "trainable": bool(w.trainable)}
        if per and w.name in per:
            shape_f, count_f = per[w.name]
            row["shape_formula"] = shape_f
            row["formula"] = count_f
            if variables is not None:
                row["formula_value"] = eval_formula(count_f, variables)
        rows.append(row)
    return rows
