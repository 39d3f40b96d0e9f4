"""Rendering an explanation: `Explanation` (the result of `explain`), plain text and rich."""

from __future__ import annotations

import json

from rnnkit.explain.spec import shape_str

__all__ = ["Explanation"]


class Explanation:
    """The result of `explain(...)`: `.to_dict()`, `.to_json()`, `.to_text()`, or print it."""

    def __init__(self, data: dict):
        self.data = data

    def to_dict(self) -> dict:
        return self.data

    def to_json(self, indent=2) -> str:
        return json.dumps(self.data, indent=indent, ensure_ascii=False)

    def to_text(self) -> str:
        return "\n".join(_text_lines(self.data))

    def __str__(self):
        return self.to_text()

    def __repr__(self):
        d = self.data
        return (f"<Explanation {d.get('class_name')} params={d.get('params')} "
                f"formula={d.get('formula')!r}>")

    def __rich__(self):
        return _rich_renderable(self.data)

    def print(self, console=None):
        from rich.console import Console

        (console or Console()).print(_rich_renderable(self.data))


def _shape_txt(shape) -> str:
    return shape_str(tuple(shape))


def _layer_title(d) -> str:
    head = d.get("spec") or f"{d['class_name']} '{d['name']}'"
    if d.get("input_shape") is not None:
        head += f"  on input {_shape_txt(d['input_shape'])}"
    return head


def _cell_lines(c, indent="  "):
    lines = []
    title = f"{c['class_name']}: d = {c['input_dim']} input features, u = {c['units']} units"
    if c.get("gate_order"):
        title += f"; gate order {c['gate_order']}"
    lines.append(indent + title)
    for eq in c.get("equations", []):
        lines.append(indent + "  " + eq)
    return lines


def _weights_table_lines(rows, indent="  "):
    if not rows:
        return [indent + "(no weights)"]
    data = [("weight", "shape", "params", "formula")]
    for r in rows:
        f = r.get("formula", "")
        if f and "shape_formula" in r:
            f = f"{r['shape_formula']} -> {f}"
        data.append((r["path"], _shape_txt(r["shape"]), f"{r['params']:,}", f))
    widths = [max(len(row[i]) for row in data) for i in range(4)]
    out = []
    for j, row in enumerate(data):
        out.append(indent + "  ".join(cell.ljust(widths[i]) if i != 2 else
                                      cell.rjust(widths[i]) for i, cell in
                                      enumerate(row)).rstrip())
        if j == 0:
            out.append(indent + "  ".join("-" * w for w in widths))
    return out


def _all_weight_rows(d):
    rows = []
    for c in d.get("cells", []):
        rows += c["weights"]
    for s in d.get("sublayers", []):
        for c in s.get("cells", []):
            rows += c["weights"]
    if not rows:
        rows = d.get("weights", [])
    return rows


def _param_line(d) -> str:
    ok = "" if d.get("formula_matches", True) else "  (differs from the built layer!)"
    if d.get("formula") in (None, "0") and d["params"] == 0:
        return "parameters: 0"
    return (f"parameters: {d['params']:,} = {d['formula']} = {d['formula_substituted']}"
            f"{ok}")


def _sublayers_to_show(d):
    subs = d.get("sublayers", [])
    return subs[:1] if d.get("directions_identical") else subs


def _sublayer_title(d, s) -> str:
    if d.get("directions_identical"):
        f, b = d["sublayers"]
        return (f"forward layer '{f['name']}' and backward layer '{b['name']}' ({s['class_name']}, "
                f"same configuration, separate weights, {s['params']:,} params each):")
    return f"{s['direction']} layer '{s['name']}' ({s['class_name']}, {s['params']:,} params):"


def _layer_text(d, level=0):
    ind = "  " * level
    lines = [ind + _layer_title(d)]
    if d.get("cells"):
        lines.append(ind + "equations (one time step):")
        for c in d["cells"]:
            lines += _cell_lines(c, ind + "  ")
    for s in _sublayers_to_show(d):
        lines.append(ind + _sublayer_title(d, s))
        for c in s["cells"]:
            lines += _cell_lines(c, ind + "  ")
    if d.get("equations"):
        lines.append(ind + "equations:")
        lines += [ind + "  " + e for e in d["equations"]]
    lines.append(ind + "weights:")
    lines += _weights_table_lines(_all_weight_rows(d), ind + "  ")
    lines.append(ind + _param_line(d))
    if d.get("variables"):
        lines.append(ind + "  where " + ", ".join(f"{k} = {v}" for k, v in
                                                   d["variables"].items()))
    lines.append(ind + "shapes for this call:")
    for o in d.get("outputs", []):
        lines.append(ind + f"  {o['name']}: {_shape_txt(o['shape'])}")
    if d.get("states") and not d.get("states_returned"):
        lines.append(ind + "  final states (not returned): " + ", ".join(
            f"{s['name']} {_shape_txt(s['shape'])}" for s in d["states"]))
    if d.get("arguments"):
        lines.append(ind + "arguments set:")
        for a in d["arguments"]:
            lines.append(ind + f"  {a['name']}={a['value']}: {a['effect']}")
    for n in d.get("notes", []):
        lines.append(ind + f"note: {n}")
    return lines


def _text_lines(d):
    if d["kind"] == "model":
        lines = [f"{d['class_name']} model '{d['name']}'" +
                 (f" from {d['source']}" if d.get("source") else ""),
                 f"inputs: {', '.join(_shape_txt(s) for s in d['inputs'])}   outputs: "
                 f"{', '.join(_shape_txt(s) for s in d['outputs'])}",
                 f"total parameters: {d['params']:,}", ""]
        for layer in d["layers"]:
            lines += _layer_text(layer, 0)
            lines.append("")
        return lines
    return _layer_text(d)


def _rich_renderable(d):
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    def layer_group(d):
        parts = []
        cells = list(d.get("cells", []))
        for s in _sublayers_to_show(d):
            parts.append(Text(_sublayer_title(d, s), style="bold"))
            cells_s = s["cells"]
            for c in cells_s:
                parts.append(Text("\n".join(_cell_lines(c, "  ")), style="cyan"))
        if cells:
            parts.append(Text("equations (one time step)", style="bold"))
            for c in cells:
                parts.append(Text("\n".join(_cell_lines(c, "  ")), style="cyan"))
        if d.get("equations"):
            parts.append(Text("equations", style="bold"))
            parts.append(Text("\n".join("  " + e for e in d["equations"]), style="cyan"))
        table = Table(title=None, show_edge=False, header_style="bold")
        for col, just in (("weight", "left"), ("shape", "left"), ("params", "right"),
                          ("formula", "left")):
            table.add_column(col, justify=just)
        for r in _all_weight_rows(d):
            f = r.get("formula", "")
            if f and "shape_formula" in r:
                f = f"{r['shape_formula']} -> {f}"
            table.add_row(Text(r["path"]), Text(_shape_txt(r["shape"])),
                          Text(f"{r['params']:,}"), Text(f))
        parts.append(table)
        line = Text(_param_line(d), style="bold green" if d.get("formula_matches", True)
                    else "bold red")
        parts.append(line)
        if d.get("variables"):
            parts.append(Text("  where " + ", ".join(f"{k} = {v}" for k, v in
                                                      d["variables"].items())))
        shapes = Table(show_header=False, show_edge=False, box=None)
        shapes.add_column()
        shapes.add_column(style="magenta")
        for o in d.get("outputs", []):
            shapes.add_row(Text(o["name"]), Text(_shape_txt(o["shape"])))
        if d.get("states") and not d.get("states_returned"):
            shapes.add_row(Text("final states (not returned)"), Text(", ".join(
                f"{s['name']} {_shape_txt(s['shape'])}" for s in d["states"])))
        parts.append(Text("shapes for this call", style="bold"))
        parts.append(shapes)
        if d.get("arguments"):
            args = Table(show_header=False, show_edge=False, box=None)
            args.add_column(style="yellow", no_wrap=True)
            args.add_column()
            for a in d["arguments"]:
                args.add_row(Text(f"{a['name']}={a['value']}"), Text(a["effect"]))
            parts.append(Text("arguments set", style="bold"))
            parts.append(args)
        for n in d.get("notes", []):
            parts.append(Text(f"note: {n}", style="dim"))
        return Panel(Group(*parts), title=Text(_layer_title(d)), title_align="left")

    if d["kind"] == "model":
        head = Text(f"{d['class_name']} model '{d['name']}'" +
                    (f" from {d['source']}" if d.get("source") else "") +
                    f" - {d['params']:,} parameters", style="bold")
        return Group(head, *[layer_group(layer) for layer in d["layers"]])
    return layer_group(d)
