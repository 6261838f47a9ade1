"""The command line: parse, call one step of the pipeline, print, map errors.

Exit codes: 0 success, 1 runtime failure, 2 usage error, 3 ``certify`` could
not prove the network correct (the verdict is printed). Expected failures are
reported in one line on stderr; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import torch

from binadd import __version__
from binadd.config import (
    BIT_ORDERS,
    DEVICES,
    LAYOUTS,
    LOSSES,
    LR_SCHEDULES,
    MODEL_KINDS,
    POSITIONS,
    Config,
)
from binadd.configure import PRESETS, build_config, parse_lengths
from binadd.errors import BinaddError, UsageError
from binadd.sweep_cli import add_parsers as add_sweep_parsers
from binadd.sweep_cli import run_report_command, run_sweep_command

log = logging.getLogger("binadd")


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one-line :class:`UsageError`s."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _lengths(text: str) -> tuple[int, ...]:
    return parse_lengths(text)


def _count(text: str) -> int:
    """A positive count such as 65536 or 1e7."""
    try:
        counts = parse_lengths(text)
    except UsageError:
        counts = ()
    if len(counts) != 1 or counts[0] < 1:
        raise argparse.ArgumentTypeError(
            f"expected one positive number such as 1e7, got {text!r}"
        )
    return counts[0]


# (flag, flat config key, type, help); choices come from the config module.
TRAIN_OPTIONS: list[tuple[str, str, Any, str]] = [
    ("--n-bits", "n_bits", int, "operand width L (default 10)"),
    (
        "--train-lengths",
        "train_lengths",
        _lengths,
        "widths to draw per batch, e.g. 1-40 (default: n_bits only)",
    ),
    ("--operands", "operands", int, "numbers added at once, 2 to 8 (default 2)"),
    ("--bit-order", "bit_order", BIT_ORDERS, "lsb or msb shown first (default lsb)"),
    (
        "--layout",
        "layout",
        LAYOUTS,
        "parallel: bits side by side; sequential: a, then b, then the sum",
    ),
    ("--model", "model", MODEL_KINDS, "sequence model (default rnn)"),
    ("--hidden-size", "hidden_size", int, "recurrent units per layer (default 16)"),
    ("--num-layers", "num_layers", int, "recurrent or attention layers (default 1)"),
    ("--dropout", "dropout", float, "dropout while training, in [0, 1) (default 0)"),
    (
        "--bidirectional",
        "bidirectional",
        bool,
        "recurrent models also read backwards (not streamable)",
    ),
    ("--d-model", "d_model", int, "transformer width (default 32)"),
    ("--num-heads", "num_heads", int, "transformer attention heads (default 4)"),
    (
        "--positions",
        "positions",
        POSITIONS,
        "transformer position code (default sinusoidal)",
    ),
    (
        "--max-positions",
        "max_positions",
        int,
        "longest input (steps) learned positions cover (default 2048)",
    ),
    ("--loss", "loss", LOSSES, "bce: cross-entropy; mse: squared error (default bce)"),
    ("--lr", "lr", float, "Adam learning rate (default 0.03)"),
    ("--batch-size", "batch_size", int, "pairs per step (default 100)"),
    ("--epochs", "epochs", int, "epochs; the cap with --until-solved (default 20)"),
    ("--steps-per-epoch", "steps_per_epoch", int, "steps per epoch (default 250)"),
    ("--test-batches", "test_batches", int, "held-out batches per epoch (default 40)"),
    ("--seed", "seed", int, "seed of weights and training pairs (default 0)"),
    ("--test-seed", "test_seed", int, "seed of the held-out set"),
    (
        "--eval-lengths",
        "eval_lengths",
        _lengths,
        "widths scored after training (default 1-20)",
    ),
    ("--eval-samples", "eval_samples", int, "random pairs per width (default 1000)"),
    ("--eval-seed", "eval_seed", int, "seed of the evaluation pairs"),
    ("--grad-clip", "grad_clip", float, "clip the gradient norm (0: off; default 1)"),
    (
        "--lr-schedule",
        "lr_schedule",
        LR_SCHEDULES,
        "learning-rate schedule (default constant)",
    ),
    (
        "--warmup-steps",
        "warmup_steps",
        int,
        "steps of linear learning-rate warmup (default 0)",
    ),
    (
        "--until-solved",
        "until_solved",
        bool,
        "stop once every held-out sum is right at n_bits and 2 n_bits"
        " (epochs is then the cap)",
    ),
    ("--solve-every", "solve_every", int, "steps between solved checks (default 25)"),
    (
        "--solve-lengths",
        "solve_lengths",
        _lengths,
        "widths a solved check tests (default: n_bits and twice it)",
    ),
    (
        "--solve-samples",
        "solve_samples",
        int,
        "pairs per width in a solved check (default 256)",
    ),
]


def _add_common(parser: argparse.ArgumentParser) -> None:
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
    parser = Parser(
        prog="binadd", description=__doc__.splitlines()[0] if __doc__ else ""
    )
    parser.add_argument("--version", action="version", version=f"binadd {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    train = commands.add_parser("train", help="train a network, evaluate it, plot it")
    train.add_argument("--config", type=Path, help="TOML config file")
    train.add_argument("--preset", choices=sorted(PRESETS), help="named recipe")
    for flag, key, kind, text in TRAIN_OPTIONS:
        if isinstance(kind, tuple):
            train.add_argument(flag, dest=key, choices=kind, help=text)
        elif kind is bool:
            action = argparse.BooleanOptionalAction
            train.add_argument(flag, dest=key, action=action, help=text)
        else:
            train.add_argument(flag, dest=key, type=kind, help=text)
    train.add_argument("--out", type=Path, help="run directory (default runs/NAME)")
    train.add_argument(
        "--force", action="store_true", help="overwrite an existing run directory"
    )
    train.add_argument(
        "--resume",
        type=Path,
        metavar="RUN",
        help="continue a stopped run from its last checkpoint, with its config",
    )
    _add_common(train)

    evaluate = commands.add_parser("evaluate", help="score a run at many widths")
    evaluate.add_argument("run", type=Path, help="run directory")
    evaluate.add_argument(
        "--lengths",
        type=_lengths,
        help="widths, e.g. 1-20,50,100,1e4 (default: the run's)",
    )
    evaluate.add_argument("--samples", type=int, help="random pairs per width")
    evaluate.add_argument("--seed", type=int, help="seed of the random pairs")
    evaluate.add_argument(
        "--bit-budget",
        type=_count,
        default=None,
        help="random operand bits scored per width at most: wide widths get "
        "budget // width pairs, at least one (default 1e7)",
    )
    evaluate.add_argument(
        "--chunk-size",
        type=_count,
        default=None,
        help="steps fed to a recurrent model at once when streaming (default 65536)",
    )
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    _add_common(evaluate)

    plot = commands.add_parser("plot", help="redraw a run's figures from its files")
    plot.add_argument("run", type=Path, help="run directory")
    _add_common(plot)

    add = commands.add_parser("add", help="add two numbers with a trained network")
    add.add_argument("run", type=Path, help="run directory")
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
    add_sweep_parsers(commands, _add_common)

    certify = commands.add_parser(
        "certify",
        help="prove a recurrent run adds right at every length (exit 3: not proved)",
    )
    certify.add_argument("run", type=Path, help="run directory")
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
    return parser


def _setup(args: argparse.Namespace) -> None:
    if not 1 <= args.threads <= 1024:
        raise UsageError(f"--threads must be from 1 to 1024, got {args.threads}")
    torch.set_num_threads(args.threads)


def _device(args: argparse.Namespace, config: Config) -> torch.device:
    from binadd.train import resolve_device

    return resolve_device(args.device or config.device)


def run_train(args: argparse.Namespace) -> int:
    from binadd.evaluate import evaluate, format_verdicts, verdicts
    from binadd.horizon import format_summary, write_summary
    from binadd.plots import plot_curves, plot_lengths
    from binadd.rundir import RunDir
    from binadd.train import Trainer, fit, resume

    if args.resume is not None:
        _check_resume_options(args)
        run, trainer = resume(args.resume, args.device)
        config, device = trainer.config, trainer.device
    else:
        options = {key: getattr(args, key) for _, key, _, _ in TRAIN_OPTIONS}
        options = {key: value for key, value in options.items() if value is not None}
        if args.device is not None:
            options["device"] = args.device
        config = build_config(args.preset, args.config, options)
        device = _device(args, config)
        out = args.out or RunDir.default_path("runs", config)
        run = RunDir.create(out, force=args.force)
        run.write_config(config)
        log.info("run directory: %s (device %s)", run.path, device)
        trainer = Trainer(config, device)

    fit(trainer, run)
    records = evaluate(
        trainer.model,
        trainer.layout,
        config.eval.eval_lengths,
        config.eval.eval_samples,
        config.eval.eval_seed,
        device,
        progress=sys.stderr.isatty(),
    )
    run.write_lengths(records)
    summary = write_summary(run, max(config.task.widths))
    plot_curves(run)
    plot_lengths(run, config)
    print("\n".join(format_verdicts(verdicts(records)) + format_summary(summary)))
    print(f"run directory: {run.path}")
    return 0


def _check_resume_options(args: argparse.Namespace) -> None:
    """--resume continues with the run's saved config: nothing may change it."""
    flags = [(flag, getattr(args, key)) for flag, key, _, _ in TRAIN_OPTIONS]
    flags += [("--config", args.config), ("--preset", args.preset)]
    flags += [("--out", args.out), ("--force", args.force or None)]
    given = [flag for flag, value in flags if value is not None]
    if given:
        raise UsageError(
            f"--resume continues a run with its saved config; drop {', '.join(given)}"
        )


def run_evaluate(args: argparse.Namespace) -> int:
    from binadd.evaluate import (
        DEFAULT_BIT_BUDGET,
        evaluate,
        format_verdicts,
        restore_model,
        verdicts,
    )
    from binadd.horizon import format_summary, write_summary
    from binadd.layouts import Layout
    from binadd.plots import plot_lengths
    from binadd.rundir import RunDir
    from binadd.stream import DEFAULT_CHUNK_SIZE

    run = RunDir.open(args.run)
    checkpoint = run.load_checkpoint()
    config = checkpoint.config
    device = _device(args, config)
    model = restore_model(checkpoint, device)
    lengths = args.lengths or config.eval.eval_lengths
    samples = args.samples if args.samples is not None else config.eval.eval_samples
    seed = args.seed if args.seed is not None else config.eval.eval_seed
    if samples < 1:
        raise UsageError("--samples must be at least 1")
    layout = Layout.from_config(config.task)
    records = evaluate(
        model,
        layout,
        lengths,
        samples,
        seed,
        device,
        progress=sys.stderr.isatty() and not args.json,
        bit_budget=args.bit_budget or DEFAULT_BIT_BUDGET,
        chunk_size=args.chunk_size or DEFAULT_CHUNK_SIZE,
    )
    run.write_lengths(records)
    summary = write_summary(run, max(config.task.widths))
    plot_lengths(run, config)
    rows = verdicts(records)
    if args.json:
        result = {"run": str(run.path), "widths": rows, "records": records}
        print(json.dumps({**result, "summary": summary}))
    else:
        print("\n".join(format_verdicts(rows) + format_summary(summary)))
    return 0


def run_plot(args: argparse.Namespace) -> int:
    from binadd.plots import plot_curves, plot_lengths
    from binadd.rundir import RunDir

    run = RunDir.open(args.run)
    config = run.load_checkpoint().config
    drawn = []
    if run.metrics_path.is_file():
        drawn.append(plot_curves(run))
    if run.lengths_path.is_file():
        drawn.append(plot_lengths(run, config))
    if not drawn:
        raise UsageError(f"{run.path} has no metrics.csv or lengths.csv to plot")
    for path in drawn:
        print(path)
    return 0


def _add_result(a: int, b: int, predicted: torch.Tensor, output: str) -> dict[str, Any]:
    """What ``binadd add`` reports: both sums in base ``output``, where they part."""
    from binadd.operands import format_int
    from binadd.task import bits_to_int, int_to_bits

    truth = a + b
    wrong_bits = (predicted != int_to_bits(truth, predicted.shape[0])).nonzero()
    first_wrong = int(wrong_bits[0, 0]) if len(wrong_bits) else None
    values = {"a": a, "b": b, "network_sum": bits_to_int(predicted), "true_sum": truth}
    result: dict[str, Any] = {
        name: format_int(value, output) for name, value in values.items()
    }
    result.update(
        output=output,
        n_bits=max(a.bit_length(), b.bit_length(), 1),
        agree=first_wrong is None,
        first_wrong_bit=first_wrong,
    )
    return result


def run_add(args: argparse.Namespace) -> int:
    from binadd.evaluate import predict_sums, restore_model
    from binadd.layouts import Layout
    from binadd.operands import read_operands
    from binadd.rundir import RunDir
    from binadd.task import int_to_bits

    a, b = read_operands(args.a, args.b)
    run = RunDir.open(args.run)
    checkpoint = run.load_checkpoint()
    device = _device(args, checkpoint.config)
    model = restore_model(checkpoint, device)
    layout = Layout.from_config(checkpoint.config.task)
    if layout.operands != 2:
        raise UsageError(f"this network adds {layout.operands} operands, not 2")

    # The network reads the operands in chunks; its sum comes back as bits.
    n_bits = max(a.bit_length(), b.bit_length(), 1)
    operand_bits = torch.stack([int_to_bits(a, n_bits), int_to_bits(b, n_bits)])
    predicted = predict_sums(model, layout, operand_bits.unsqueeze(0), device)[0]
    result = _add_result(a, b, predicted, args.output)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"network sum: {result['network_sum']}")
    print(f"true sum:    {result['true_sum']}")
    first = result["first_wrong_bit"]
    where = "" if first is None else f" (first wrong bit: {first})"
    print(f"agree:       {'yes' if first is None else 'no'}{where}")
    return 0


# Exit code of `binadd certify` when the proof does not go through.
NOT_CERTIFIED = 3


def run_certify(args: argparse.Namespace) -> int:
    from binadd.certify import CertifyOptions, certify_model, write_certificate
    from binadd.evaluate import restore_model
    from binadd.rundir import RunDir

    options = CertifyOptions(
        args.n_bits, args.sequences, args.seed, args.max_depth, args.search_bits
    )
    run = RunDir.open(args.run)
    checkpoint = run.load_checkpoint()
    model = restore_model(checkpoint, torch.device("cpu"))
    certificate, visits, best = certify_model(model, checkpoint.config, options)
    paths = write_certificate(run.path, certificate, visits, best)
    found = certificate["counterexample"]
    if args.json:
        keep = ("verdict", "reason", "partition", "seconds", "counterexample")
        print(json.dumps({key: certificate[key] for key in keep}))
    else:
        print(f"verdict: {certificate['verdict']} ({certificate['reason']})")
        if found:
            print(
                f"counterexample: {found['a']} + {found['b']} at {found['n_bits']} "
                f"bits, first wrong bit {found['first_wrong_bit']}"
                f" ({found['found_by']})"
            )
        print(f"written: {paths[0]}, {paths[1]}")
    return 0 if certificate["verdict"] == "certified" else NOT_CERTIFIED


COMMANDS = {
    "train": run_train,
    "evaluate": run_evaluate,
    "plot": run_plot,
    "add": run_add,
    "sweep": run_sweep_command,
    "report": run_report_command,
    "certify": run_certify,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``binadd``; returns the exit code."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        _setup(args)
        return COMMANDS[args.command](args)
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
    if isinstance(error, OSError | MemoryError | torch.OutOfMemoryError):
        return True
    return "can't allocate memory" in str(error)


def _describe_fault(error: BaseException) -> str:
    if isinstance(error, OSError):
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror or error}{where}"
    return "out of memory; try a smaller batch_size, width or model"
