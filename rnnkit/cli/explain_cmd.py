"""`rnnkit explain SPEC [--input SHAPE] [--json | --plain]`."""

from __future__ import annotations

import sys


def run(args) -> int:
    from rnnkit.explain import explain, parse_shape

    shape = parse_shape(args.input) if args.input else None
    result = explain(args.spec, shape)
    if args.json:
        sys.stdout.write(result.to_json() + "\n")
    elif args.plain:
        sys.stdout.write(result.to_text() + "\n")
    else:
        from rich.console import Console

        Console().print(result)
    sys.stdout.flush()
    return 0
