"""The `rnnkit` command: explain, train, generate, tour.

    rnnkit tour                                    # the tutorials' examples, run and explained
    rnnkit explain "LSTM(64, return_sequences=True)" --input 1,3,5
    rnnkit train                                   # char-level GRU on Python's own sources
    rnnkit generate runs/charlm --prompt "def " --length 200

`main(argv)` returns the exit code (0 ok, 1 training diverged, 2 bad input, 130
interrupted) instead of exiting, so it can be called from Python and tests. Bad input gives
ONE line on stderr, never a traceback (set RNNKIT_DEBUG=1 to see one).
"""

from __future__ import annotations

import argparse
import math
import os
import sys

from rnnkit.cli._common import (EXIT_DIVERGED, EXIT_INTERRUPTED, EXIT_OK,  # noqa: F401
                                EXIT_USAGE, CLIError, one_line)

_EPILOG = """examples:
  rnnkit tour
  rnnkit explain "LSTM(64, return_sequences=True)" --input 1,3,5
  rnnkit explain "Bidirectional(GRU(32))" --json
  rnnkit train                      # about 80 s on 2 CPU cores
  rnnkit train --text book.txt --epochs 10
  rnnkit train --csv prices.csv --column close --window 30
  rnnkit generate runs/charlm --prompt "def " --length 200
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one usage line + one error line, exit 2 (argparse's way)
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {one_line(message)}\n")


def _positive_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return v


def _nonneg_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 0")
    return v


def _positive_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (v > 0 and math.isfinite(v)):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number > 0")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="rnnkit", description="Keras-compatible recurrent networks on JAX: "
                "explain layers, train and sample small models, tour the tutorials.",
                epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    from rnnkit import __version__

    p.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    sub = p.add_subparsers(dest="command", metavar="{explain,train,generate,tour}",
                           parser_class=_Parser)

    e = sub.add_parser("explain", help="equations, weights, parameter counts and shapes "
                       "of a layer spec or a saved model",
                       description="Explain a layer spec such as \"LSTM(64, "
                       "return_sequences=True)\" or a saved model file / run directory.")
    e.add_argument("spec", help="a layer spec, e.g. \"Bidirectional(GRU(32))\", or the path "
                   "of a saved model (model.rnnkit) or of a run directory")
    e.add_argument("--input", "-i", metavar="SHAPE",
                   help="input shape, e.g. 1,3,5 = batch,timesteps,features (default: the "
                   "tutorials' 1,3,5); 3,5 means any batch")
    fmt = e.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON")
    fmt.add_argument("--plain", action="store_true", help="print plain text (no colors/boxes)")
    e.set_defaults(func=_run_explain)

    t = sub.add_parser("train", help="train a character language model (default: on "
                       "Python's standard library sources) or a CSV time-series forecaster",
                       description="Train a character-level language model on text files "
                       "(default: ~1.5 MB of Python's own standard library sources, no "
                       "download), or a forecaster on one numeric CSV column. Checkpoints "
                       "are written atomically every epoch; Ctrl-C saves and exits (130).")
    src = t.add_argument_group("data (default: Python standard library sources)")
    src.add_argument("--text", nargs="+", metavar="FILE", help="train on these text files")
    src.add_argument("--csv", metavar="FILE", help="train a forecaster on a CSV file")
    src.add_argument("--column", help="the CSV column to forecast (with --csv)")
    src.add_argument("--window", type=_positive_int, help="past values per prediction "
                     "(with --csv; default 24)")
    src.add_argument("--max-chars", type=_positive_int, metavar="N",
                     help="use at most N characters of text (default 900000)")
    m = t.add_argument_group("model and training")
    m.add_argument("--cell", choices=("lstm", "gru", "simple_rnn", "mingru", "minlstm", "lru"),
                   help="recurrent layer (default gru for text, lstm for a series)")
    m.add_argument("--units", type=_positive_int, help="units per recurrent layer "
                   "(default 256 for text, 32 for a series)")
    m.add_argument("--layers", type=_positive_int, help="stacked recurrent layers "
                   "(default 1)")
    m.add_argument("--embed", type=_positive_int, help="embedding size (text; default 48)")
    m.add_argument("--seq-len", type=_positive_int, help="characters per training window "
                   "(default 64)")
    m.add_argument("--epochs", type=_positive_int, help="total epochs (default 3 for text, "
                   "30 for a series); with --resume, training continues up to this number")
    m.add_argument("--batch-size", type=_positive_int, help="default 32")
    m.add_argument("--lr", type=_positive_float, help="Adam learning rate (default 0.003)")
    m.add_argument("--val-fraction", type=float, default=None,
                   help="fraction held out for validation (default 0.1 text, 0.2 series)")
    m.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    m.add_argument("--devices", type=_positive_int, metavar="N", help="train data-parallel "
                   "over N devices (rnnkit.distribution.DataParallel; on a CPU-only machine "
                   "N host devices); --batch-size must be a multiple of N")
    o = t.add_argument_group("output")
    o.add_argument("--out", metavar="DIR", help="run directory (default runs/charlm or "
                   "runs/forecast)")
    o.add_argument("--resume", action="store_true", help="continue the run in --out from "
                   "its last checkpoint")
    o.add_argument("--no-plot", action="store_true", help="do not write loss.png")
    o.add_argument("--prompt", help="prompt of the sample printed at the end (text)")
    o.add_argument("--sample-length", type=_nonneg_int, default=300,
                   help="characters sampled at the end (default 300; 0 for none)")
    t.add_argument("--interrupt-after-batches", type=_positive_int, help=argparse.SUPPRESS)
    t.set_defaults(func=_run_train)

    g = sub.add_parser("generate", help="sample text (or forecast values) from a checkpoint",
                       description="Sample from a model trained by `rnnkit train`, one "
                       "step at a time.")
    g.add_argument("checkpoint", help="run directory (e.g. runs/charlm) or its model.rnnkit")
    g.add_argument("--prompt", default=None, help="text to start from (default: 'def ' "
                   "for the default corpus, else a newline)")
    g.add_argument("--length", type=_nonneg_int, default=200,
                   help="characters (or future values) to generate (default 200)")
    g.add_argument("--temperature", type=_positive_float, default=0.8,
                   help="sampling temperature (default 0.8; lower = more conservative)")
    g.add_argument("--top-k", type=_positive_int, default=None,
                   help="sample only among the k most likely characters")
    g.add_argument("--greedy", action="store_true", help="always take the most likely "
                   "character (deterministic)")
    g.add_argument("--seed", type=int, default=None, help="random seed for sampling")
    g.set_defaults(func=_run_generate)

    r = sub.add_parser("tour", help="run the tutorials' examples with rnnkit: code, shapes, "
                       "one-line explanations, and the fixes for their broken snippets",
                       description="Runs each example of the RNN tutorials in order.")
    r.add_argument("--only", nargs="+", metavar="NAME", help="run only these sections "
                   "(see --list)")
    r.add_argument("--list", action="store_true", help="list the sections and exit")
    r.add_argument("--plain", action="store_true", help="plain text (no colors)")
    r.set_defaults(func=_run_tour)
    return p


def _run_explain(args):
    from rnnkit.cli.explain_cmd import run

    return run(args)


def _run_train(args):
    from rnnkit.cli.train import run

    return run(args)


def _run_generate(args):
    from rnnkit.cli.generate_cmd import run

    return run(args)


def _run_tour(args):
    from rnnkit.cli.tour import run

    return run(args)


def _user_errors():
    from rnnkit.data.errors import DataError
    from rnnkit.explain import SpecError
    from rnnkit.io.run_dir import RunDirError

    return (CLIError, DataError, SpecError, RunDirError)


def main(argv=None) -> int:
    """Runs the `rnnkit` command line; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if getattr(args, "func", None) is None:
        parser.print_help()
        return EXIT_OK
    debug = bool(os.environ.get("RNNKIT_DEBUG"))
    try:
        code = args.func(args)
    except KeyboardInterrupt:
        print(f"rnnkit {args.command}: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - user-facing errors become one line
        if debug or not isinstance(exc, _user_errors() + (OSError,)):
            raise
        print(f"rnnkit {args.command}: error: {one_line(exc)}", file=sys.stderr, flush=True)
        return getattr(exc, "exit_code", EXIT_USAGE)
    return EXIT_OK if code is None else int(code)
