"""The command line: parse, call one step of the pipeline, print, map errors.

Exit codes: 0 success, 1 runtime failure, 2 usage error, 3 ``certify`` could
not prove the network correct (the verdict is printed). Expected failures are
reported in one line on stderr; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

from binadd import __version__
from binadd.config import DEVICES
from binadd.configure import PRESETS
from binadd.errors import BinaddError, UsageError
from binadd.options import TRAIN_OPTIONS, count_arg, lengths_arg


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one-line :class:`UsageError`s."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def path_arg(text: str) -> Path:
    """A file or directory path; an empty one is refused rather than read as '.'."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty string")
    return Path(text)


def _add_common(parser: argparse.ArgumentParser) -> None:
    """The options every subcommand takes: --device, --threads, --debug."""
    parser.add_argument(
        "--device",
        choices=DEVICES,
        default=None,
        help="where to compute (default auto: cuda if available)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: fastest for tiny models)",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show tracebacks instead of one-line errors",
    )


def build_parser() -> Parser:
    """The ``binadd`` parser with one subcommand per entry of :data:`COMMANDS`."""
    parser = Parser(
        prog="binadd", description=__doc__.splitlines()[0] if __doc__ else ""
    )
    parser.add_argument("--version", action="version", version=f"binadd {__version__}")
    subparsers = parser.add_subparsers(
        dest="command", required=True, parser_class=Parser
    )
    for add_parser in SUBPARSERS:
        add_parser(subparsers)
    return parser


def _add_train(subparsers: Any) -> None:
    """Options of ``train``: a config source, one per field, where to."""
    train = subparsers.add_parser("train", help="train a network, evaluate it, plot it")
    train.add_argument("--config", type=path_arg, help="TOML config file")
    train.add_argument("--preset", choices=sorted(PRESETS), help="named recipe")
    for flag, key, kind, text in TRAIN_OPTIONS:
        if isinstance(kind, tuple):
            train.add_argument(flag, dest=key, choices=kind, help=text)
        elif kind is bool:
            action = argparse.BooleanOptionalAction
            train.add_argument(flag, dest=key, action=action, help=text)
        else:
            train.add_argument(flag, dest=key, type=kind, help=text)
    train.add_argument("--out", type=path_arg, help="run directory (default runs/NAME)")
    train.add_argument(
        "--force", action="store_true", help="overwrite an existing run directory"
    )
    train.add_argument(
        "--resume",
        type=path_arg,
        metavar="RUN",
        help="continue a stopped run from its last checkpoint, with its config",
    )
    _add_common(train)


def _add_evaluate(subparsers: Any) -> None:
    """Options of ``evaluate``: which widths, how many pairs, how."""
    evaluate = subparsers.add_parser("evaluate", help="score a run at many widths")
    evaluate.add_argument("run", type=path_arg, help="run directory")
    evaluate.add_argument(
        "--lengths",
        type=lengths_arg,
        help="widths, e.g. 1-20,50,100,1e4 (default: the run's)",
    )
    evaluate.add_argument("--samples", type=int, help="random pairs per width")
    evaluate.add_argument("--seed", type=int, help="seed of the random pairs")
    evaluate.add_argument(
        "--bit-budget",
        type=count_arg,
        default=None,
        help="random operand bits scored per width at most: wide widths get "
        "budget // width pairs, at least one (default 1e7)",
    )
    evaluate.add_argument(
        "--chunk-size",
        type=count_arg,
        default=None,
        help="steps fed to a recurrent model at once when streaming (default 65536)",
    )
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    _add_common(evaluate)


def _add_plot(subparsers: Any) -> None:
    """Options of ``plot``."""
    plot = subparsers.add_parser("plot", help="redraw a run's figures from its files")
    plot.add_argument("run", type=path_arg, help="run directory")
    _add_common(plot)


def _add_add(subparsers: Any) -> None:
    """Options of ``add``: the run and two operands."""
    add = subparsers.add_parser("add", help="add two numbers with a trained network")
    add.add_argument("run", type=path_arg, help="run directory")
    operand_help = "operand: decimal, 0b binary or 0x hex; @FILE reads a file, - stdin"
    add.add_argument("a", help=f"first {operand_help}")
    add.add_argument("b", help=f"second {operand_help}")
    add.add_argument(
        "--output",
        choices=("dec", "bin", "hex"),
        default="dec",
        help="base of the sums printed (default dec)",
    )
    add.add_argument("--json", action="store_true", help="print one JSON object")
    _add_common(add)


def _add_sweep(subparsers: Any) -> None:
    """Options of ``sweep``: the sweep file and how to run trials."""
    sweep = subparsers.add_parser(
        "sweep", help="train many (config, seed) trials and record them"
    )
    sweep.add_argument("sweep_file", type=path_arg, help="sweep TOML file")
    sweep.add_argument(
        "--out", type=path_arg, help="sweep directory (default runs/sweep-NAME)"
    )
    sweep.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="trials at once, one torch thread each (default: the CPU count)",
    )
    sweep.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="local worker processes, or Ray tasks (default local)",
    )
    sweep.add_argument(
        "--address", help="Ray cluster to join (default: start a local Ray)"
    )
    sweep.add_argument(
        "--tensorboard",
        action="store_true",
        help="also write TensorBoard logs under SWEEP_DIR/tensorboard",
    )
    _add_common(sweep)


def _add_report(subparsers: Any) -> None:
    """Options of ``report``."""
    report = subparsers.add_parser(
        "report", help="statistics over seeds of a sweep: table, CSV, plots, HTML"
    )
    report.add_argument("sweep_dir", type=path_arg, help="sweep directory")
    report.add_argument(
        "--out", type=path_arg, help="where the report goes (default SWEEP_DIR/report)"
    )
    _add_common(report)


def _add_certify(subparsers: Any) -> None:
    """Options of ``certify``: the visited inputs and the search."""
    certify = subparsers.add_parser(
        "certify",
        help="prove a recurrent run adds right at every length (exit 3: not proved)",
    )
    certify.add_argument("run", type=path_arg, help="run directory")
    certify.add_argument(
        "--n-bits", type=int, default=500, help="width of the visited inputs (500)"
    )
    certify.add_argument(
        "--sequences", type=int, default=32, help="random pairs visited (32)"
    )
    certify.add_argument("--seed", type=int, default=0, help="seed of those pairs")
    certify.add_argument(
        "--max-depth",
        type=int,
        default=3,
        help="finest partition tried: states grouped by the last N steps (3)",
    )
    certify.add_argument(
        "--search-bits",
        type=int,
        default=1 << 16,
        help="widest counterexample searched for (65536)",
    )
    certify.add_argument("--json", action="store_true", help="print one JSON object")
    _add_common(certify)


# Each subcommand's options, in the order ``binadd --help`` lists them.
SUBPARSERS: list[Callable[[Any], None]] = [
    _add_train,
    _add_evaluate,
    _add_plot,
    _add_add,
    _add_sweep,
    _add_report,
    _add_certify,
]


def _setup(args: argparse.Namespace) -> None:
    if not 1 <= args.threads <= 1024:
        raise UsageError(f"--threads must be from 1 to 1024, got {args.threads}")
    import torch

    torch.set_num_threads(args.threads)


# Each subcommand's function in binadd.commands, imported only once parsing
# is done, inside main's error handling: torch takes a second or two to import,
# and a Ctrl-C meanwhile must end in one line too.
COMMANDS = {
    "train": "run_train",
    "evaluate": "run_evaluate",
    "plot": "run_plot",
    "add": "run_add",
    "sweep": "run_sweep",
    "report": "run_report",
    "certify": "run_certify",
}


def _import_commands() -> ModuleType:
    """Import the commands, and with them torch, holding Ctrl-C until done.

    An import cut short leaves torch half set up, and its exit hooks then print
    to the terminal; a Ctrl-C held until the import ends is raised right after,
    where main reports it in one line.
    """
    hold = signal.pthread_sigmask if hasattr(signal, "pthread_sigmask") else None
    if hold is None or threading.current_thread() is not threading.main_thread():
        return importlib.import_module("binadd.commands")
    previous = hold(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        return importlib.import_module("binadd.commands")
    finally:
        hold(signal.SIG_SETMASK, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``binadd``; returns the exit code."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        commands = _import_commands()
        _setup(args)
        return int(getattr(commands, COMMANDS[args.command])(args))
    except BinaddError as error:
        if debug:
            raise
        print(f"binadd: error: {one_line(str(error))}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("binadd: interrupted", file=sys.stderr)
        return 130
    except (OSError, MemoryError, RuntimeError) as error:
        # Faults of the machine rather than of binadd: a file system that
        # refuses a write, or memory running out. Anything else is a bug and
        # keeps its traceback.
        if debug or not _is_environment_fault(error):
            raise
        print(f"binadd: error: {one_line(_describe_fault(error))}", file=sys.stderr)
        return 1


def one_line(text: str) -> str:
    """Escape line breaks and other control characters that echoed input may
    carry, so that an error stays one line on the terminal."""
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


def _is_environment_fault(error: BaseException) -> bool:
    torch = sys.modules.get("torch")
    out_of_memory = (torch.OutOfMemoryError,) if torch is not None else ()
    if isinstance(error, (OSError, MemoryError, *out_of_memory)):
        return True
    return "can't allocate memory" in str(error)


def _describe_fault(error: BaseException) -> str:
    if isinstance(error, OSError):
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror or error}{where}"
    return "out of memory; try a smaller batch_size, width or model"
