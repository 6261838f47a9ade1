"""The ``train`` command's options: one row per config field it can set.

Each row of :data:`TRAIN_OPTIONS` is (flag, flat config key, type, help): the
parser adds one option per row, and ``train`` turns the options given into
config updates, so a field gains its option in one place. Choices come from
:mod:`binadd.config`.
"""

from __future__ import annotations

import argparse
from typing import Any

from binadd.config import (
    BIT_ORDERS,
    LAYOUTS,
    LOSSES,
    LR_SCHEDULES,
    MAX_LENGTH,
    MODEL_KINDS,
    POSITIONS,
)
from binadd.configure import parse_lengths
from binadd.errors import UsageError


def lengths_arg(text: str) -> tuple[int, ...]:
    """Widths such as ``1-20,50,1e4``: ranges, single values, powers of ten."""
    return parse_lengths(text)


def count_arg(text: str) -> int:
    """A positive count such as 65536 or 1e7, at most ``MAX_LENGTH``."""
    try:
        counts = parse_lengths(text)
    except UsageError:
        counts = ()
    if len(counts) != 1 or counts[0] < 1:
        raise argparse.ArgumentTypeError(
            f"expected one number from 1 to {MAX_LENGTH} such as 1e7, got {text!r}"
        )
    return counts[0]


# (flag, flat config key, type, help); choices come from the config module.
TRAIN_OPTIONS: list[tuple[str, str, Any, str]] = [
    ("--n-bits", "n_bits", int, "operand width L (default 10)"),
    (
        "--train-lengths",
        "train_lengths",
        lengths_arg,
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
        lengths_arg,
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
        lengths_arg,
        "widths a solved check tests (default: n_bits and twice it)",
    ),
    (
        "--solve-samples",
        "solve_samples",
        int,
        "pairs per width in a solved check (default 256)",
    ),
]
