"""The command line: parse, call one step of the pipeline, print, map errors.

Exit codes: 0 success, 1 runtime failure, 2 usage error. Expected failures are
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
    DEVICES,
    LOSSES,
    LR_SCHEDULES,
    MODEL_KINDS,
    PRESETS,
    Config,
    build_config,
    parse_lengths,
)
from binadd.errors import BinaddError, UsageError

log = logging.getLogger("binadd")


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one-line :class:`UsageError`s."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _lengths(text: str) -> tuple[int, ...]:
    return parse_lengths(text)


# (flag, flat config key, type, help); choices come from the config module.
TRAIN_OPTIONS: list[tuple[str, str, Any, str]] = [
    ("--n-bits", "n_bits", int, "operand width L (default 10)"),
    (
        "--train-lengths",
        "train_lengths",
        _lengths,
        "widths to draw per batch, e.g. 1-40 (default: n_bits only)",
    ),
    ("--model", "model", MODEL_KINDS, "sequence model (default rnn)"),
    ("--hidden-size", "hidden_size", int, "hidden units per layer (default 16)"),
    ("--num-layers", "num_layers", int, "recurrent layers (default 1)"),
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
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    _add_common(evaluate)

    plot = commands.add_parser("plot", help="redraw a run's figures from its files")
    plot.add_argument("run", type=Path, help="run directory")
    _add_common(plot)

    add = commands.add_parser("add", help="add two numbers with a trained network")
    add.add_argument("run", type=Path, help="run directory")
    add.add_argument("a", help="first operand: decimal, 0b binary or 0x hex")
    add.add_argument("b", help="second operand: decimal, 0b binary or 0x hex")
    add.add_argument("--json", action="store_true", help="print one JSON object")
    _add_common(add)
    return parser


def _setup(args: argparse.Namespace) -> None:
    if args.threads < 1:
        raise UsageError("--threads must be at least 1")
    torch.set_num_threads(args.threads)


def _device(args: argparse.Namespace, config: Config) -> torch.device:
    from binadd.train import resolve_device

    return resolve_device(args.device or config.device)


def run_train(args: argparse.Namespace) -> int:
    from binadd.evaluate import evaluate, format_verdicts, verdicts
    from binadd.plots import plot_curves, plot_lengths
    from binadd.rundir import RunDir
    from binadd.train import Trainer, fit

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
    plot_curves(run)
    plot_lengths(run, config)
    print("\n".join(format_verdicts(verdicts(records))))
    print(f"run directory: {run.path}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from binadd.evaluate import evaluate, format_verdicts, restore_model, verdicts
    from binadd.layouts import Layout
    from binadd.plots import plot_lengths
    from binadd.rundir import RunDir

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
    )
    run.write_lengths(records)
    plot_lengths(run, config)
    rows = verdicts(records)
    if args.json:
        print(json.dumps({"run": str(run.path), "widths": rows, "records": records}))
    else:
        print("\n".join(format_verdicts(rows)))
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


def parse_operand(text: str, name: str) -> int:
    """Read a non-negative integer in decimal, 0b binary or 0x hex."""
    body = text.strip().replace("_", "")
    bases = {"0b": 2, "0x": 16}
    base = bases.get(body[:2].lower(), 10)
    digits = body[2:] if base != 10 else body
    allowed = {2: "01", 10: "0123456789", 16: "0123456789abcdefABCDEF"}[base]
    if not digits or any(ch not in allowed for ch in digits):
        raise UsageError(
            f"operand {name} ({text!r}) is not a non-negative number "
            "in decimal, 0b binary or 0x hex"
        )
    return int(digits, base)


def run_add(args: argparse.Namespace) -> int:
    from binadd.evaluate import predict_sums, restore_model
    from binadd.layouts import Layout
    from binadd.rundir import RunDir
    from binadd.task import bits_to_int, int_to_bits

    a, b = parse_operand(args.a, "A"), parse_operand(args.b, "B")
    run = RunDir.open(args.run)
    checkpoint = run.load_checkpoint()
    device = _device(args, checkpoint.config)
    model = restore_model(checkpoint, device)
    layout = Layout.from_config(checkpoint.config.task)
    if layout.operands != 2:
        raise UsageError(f"this network adds {layout.operands} operands, not 2")

    n_bits = max(a.bit_length(), b.bit_length(), 1)
    operand_bits = torch.stack([int_to_bits(a, n_bits), int_to_bits(b, n_bits)])
    predicted = predict_sums(model, layout, operand_bits.unsqueeze(0), device)[0]
    network, truth = bits_to_int(predicted), a + b
    wrong_bits = (predicted != int_to_bits(truth, predicted.shape[0])).nonzero()
    first_wrong = int(wrong_bits[0, 0]) if len(wrong_bits) else None
    result = {
        "a": a,
        "b": b,
        "n_bits": n_bits,
        "network_sum": network,
        "true_sum": truth,
        "agree": network == truth,
        "first_wrong_bit": first_wrong,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"network sum: {network}")
        print(f"true sum:    {truth}")
        where = "" if first_wrong is None else f" (first wrong bit: {first_wrong})"
        print(f"agree:       {'yes' if network == truth else 'no'}{where}")
    return 0


COMMANDS = {
    "train": run_train,
    "evaluate": run_evaluate,
    "plot": run_plot,
    "add": run_add,
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
        print(f"binadd: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("binadd: interrupted", file=sys.stderr)
        return 130
