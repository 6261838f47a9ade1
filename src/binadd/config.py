"""Configuration: the frozen dataclasses every step of a run receives.

A :class:`Config` has four parts (task, model, train, eval) and a device. Every
value is validated when its dataclass is built, and errors name the field.
Every later step receives a ``Config``; none reads options itself. How a config
is built from defaults, a preset, a TOML file and options is
:mod:`binadd.configure`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from binadd.errors import ConfigError

LOSSES = ("bce", "mse")
LR_SCHEDULES = ("constant", "cosine")
# The names of binadd.models.MODELS (a test checks that the two agree).
MODEL_KINDS = ("lstm", "gru", "rnn", "transformer")
RECURRENT_KINDS = ("lstm", "gru", "rnn")
POSITIONS = ("sinusoidal", "learned", "none")
BIT_ORDERS = ("lsb", "msb")
LAYOUTS = ("parallel", "sequential")
DEVICES = ("auto", "cpu", "cuda")
MAX_LENGTH = 10**9
# Beyond this a learning rate overflows the optimizer's float32 arithmetic.
MAX_LR = 1e6
# Seeds must fit the 64-bit integer that torch's generators take.
MAX_SEED = 2**63 - 1
# Bit steps training holds at once (a batch, or the whole held-out set): beyond
# this a run would exhaust memory. Evaluation streams and is not bound by it.
MAX_TRAINING_STEPS = 2**26


def _require(ok: bool, name: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{name}: {message}")


def _choice(value: str, name: str, choices: tuple[str, ...]) -> None:
    _require(value in choices, name, f"{value!r} is not one of {', '.join(choices)}")


def _positive_int(value: Any, name: str, upper: int | None = None) -> None:
    is_int = isinstance(value, int) and not isinstance(value, bool)
    _require(is_int and value >= 1, name, f"must be an integer >= 1, got {value!r}")
    if upper is not None:
        _require(value <= upper, name, f"must be at most {upper}, got {value}")


def _seed(value: Any, name: str) -> None:
    is_int = isinstance(value, int) and not isinstance(value, bool)
    _require(
        is_int and 0 <= value <= MAX_SEED,
        name,
        f"must be an integer from 0 to 2**63 - 1, got {value!r}",
    )


def check_seed(value: Any, name: str) -> None:
    """Refuse, as a one-line ConfigError naming ``name``, a value that is no seed.

    A seed is an integer from 0 to 2**63 - 1, the rule of every seed in a config.
    """
    _seed(value, name)


def _lengths(value: tuple[int, ...], name: str, allow_empty: bool = False) -> None:
    _require(isinstance(value, tuple), name, f"must be a list of widths, got {value!r}")
    _require(allow_empty or len(value) > 0, name, "must list at least one width")
    for width in value:
        _positive_int(width, name, MAX_LENGTH)


@dataclass(frozen=True)
class TaskConfig:
    """The arithmetic and how it is laid out in time."""

    n_bits: int = 10
    train_lengths: tuple[int, ...] = ()
    operands: int = 2
    bit_order: str = "lsb"
    layout: str = "parallel"

    def __post_init__(self) -> None:
        _positive_int(self.n_bits, "n_bits", MAX_LENGTH)
        _lengths(self.train_lengths, "train_lengths", allow_empty=True)
        _positive_int(self.operands, "operands", 8)
        _require(self.operands >= 2, "operands", "must be at least 2")
        _choice(self.bit_order, "bit_order", BIT_ORDERS)
        _choice(self.layout, "layout", LAYOUTS)

    @property
    def widths(self) -> tuple[int, ...]:
        """The widths training draws from: ``train_lengths`` or just ``n_bits``."""
        return self.train_lengths or (self.n_bits,)


@dataclass(frozen=True)
class ModelConfig:
    """Which network, and its sizes.

    ``hidden_size`` and ``bidirectional`` apply to the recurrent models;
    ``d_model``, ``num_heads``, ``positions`` and ``max_positions`` to the
    Transformer; ``num_layers`` and ``dropout`` to both.
    """

    kind: str = "rnn"
    hidden_size: int = 16
    num_layers: int = 1
    dropout: float = 0.0
    bidirectional: bool = False
    d_model: int = 32
    num_heads: int = 4
    positions: str = "sinusoidal"
    max_positions: int = 2048

    def __post_init__(self) -> None:
        _choice(self.kind, "model", MODEL_KINDS)
        _positive_int(self.hidden_size, "hidden_size", 4096)
        _positive_int(self.num_layers, "num_layers", 64)
        _require(
            isinstance(self.dropout, int | float)
            and not isinstance(self.dropout, bool)
            and 0.0 <= self.dropout < 1.0,
            "dropout",
            f"must be in [0, 1), got {self.dropout!r}",
        )
        _require(
            isinstance(self.bidirectional, bool),
            "bidirectional",
            "must be true or false",
        )
        _require(
            not self.bidirectional or self.kind in RECURRENT_KINDS,
            "bidirectional",
            f"only {', '.join(RECURRENT_KINDS)} can be bidirectional, not {self.kind}",
        )
        self._check_transformer()

    def _check_transformer(self) -> None:
        _positive_int(self.d_model, "d_model", 4096)
        _positive_int(self.num_heads, "num_heads", 256)
        _require(
            self.d_model % self.num_heads == 0,
            "d_model",
            f"{self.d_model} is not a multiple of num_heads ({self.num_heads})",
        )
        _choice(self.positions, "positions", POSITIONS)
        _positive_int(self.max_positions, "max_positions", 1 << 20)


@dataclass(frozen=True)
class TrainConfig:
    """Loss, optimizer, budget and when to stop.

    The defaults are the recipe measured in docs/readme-recipe.md: Adam at a
    high learning rate with the gradient norm clipped, stopping once solved;
    ``epochs`` is then only the cap. The original study's recipe is the
    ``notebook`` preset.
    """

    loss: str = "bce"
    lr: float = 0.03
    batch_size: int = 100
    epochs: int = 20
    steps_per_epoch: int = 250
    test_batches: int = 40
    seed: int = 0
    test_seed: int = 1_000_003
    grad_clip: float = 1.0
    lr_schedule: str = "constant"
    warmup_steps: int = 0
    until_solved: bool = True
    solve_every: int = 25
    solve_samples: int = 256
    solve_lengths: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        _choice(self.loss, "loss", LOSSES)
        is_number = isinstance(self.lr, int | float) and not isinstance(self.lr, bool)
        _require(
            is_number and math.isfinite(self.lr) and 0 < self.lr <= MAX_LR,
            "lr",
            f"must be a number > 0 and at most {MAX_LR:g}, got {self.lr!r}",
        )
        _positive_int(self.batch_size, "batch_size", 1_000_000)
        _positive_int(self.epochs, "epochs", 1_000_000)
        _positive_int(self.steps_per_epoch, "steps_per_epoch", 10_000_000)
        _positive_int(self.test_batches, "test_batches", 1_000_000)
        _seed(self.seed, "seed")
        _seed(self.test_seed, "test_seed")
        self._check_recipe()

    def _check_recipe(self) -> None:
        """Validate the schedule, clipping and stopping fields."""
        _require(
            isinstance(self.grad_clip, int | float)
            and math.isfinite(self.grad_clip)
            and self.grad_clip >= 0,
            "grad_clip",
            f"must be a finite number >= 0 (0: off), got {self.grad_clip!r}",
        )
        _choice(self.lr_schedule, "lr_schedule", LR_SCHEDULES)
        _require(
            isinstance(self.warmup_steps, int)
            and not isinstance(self.warmup_steps, bool)
            and self.warmup_steps >= 0,
            "warmup_steps",
            f"must be an integer >= 0, got {self.warmup_steps!r}",
        )
        _require(
            isinstance(self.until_solved, bool),
            "until_solved",
            "must be true or false",
        )
        _positive_int(self.solve_every, "solve_every", 10_000_000)
        _positive_int(self.solve_samples, "solve_samples", 1_000_000)
        _lengths(self.solve_lengths, "solve_lengths", allow_empty=True)
        _require(
            max(self.solve_lengths, default=0) <= 100_000,
            "solve_lengths",
            "widths above 100000 would make each check slow",
        )


@dataclass(frozen=True)
class EvalConfig:
    """Which widths to score after training, on how many fixed-seed pairs."""

    eval_lengths: tuple[int, ...] = tuple(range(1, 21))
    eval_samples: int = 1000
    eval_seed: int = 2_000_003

    def __post_init__(self) -> None:
        _lengths(self.eval_lengths, "eval_lengths")
        _positive_int(self.eval_samples, "eval_samples", 10_000_000)
        _seed(self.eval_seed, "eval_seed")


@dataclass(frozen=True)
class Config:
    """Everything a run needs; stored in every run directory and checkpoint."""

    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    device: str = "auto"

    def __post_init__(self) -> None:
        _choice(self.device, "device", DEVICES)
        _check_training_memory(self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _check_training_memory(config: Config) -> None:
    """Refuse a batch or held-out set too large to hold, naming the fields."""
    train, task = config.train, config.task
    per_batch = train.batch_size * max(task.widths)
    _require(
        per_batch <= MAX_TRAINING_STEPS,
        "batch_size",
        f"{train.batch_size} pairs x {max(task.widths)} bits = {per_batch} bit "
        f"steps per batch, more than {MAX_TRAINING_STEPS}; train on narrower "
        "widths (evaluation streams long ones)",
    )
    held_out = train.test_batches * train.batch_size * task.n_bits
    _require(
        held_out <= MAX_TRAINING_STEPS,
        "test_batches",
        f"the held-out set of {train.test_batches} x {train.batch_size} pairs "
        f"x {task.n_bits} bits is more than {MAX_TRAINING_STEPS} bit steps",
    )
    solve_widths = train.solve_lengths or (task.n_bits, 2 * task.n_bits)
    _require(
        not train.until_solved or max(solve_widths) <= 100_000,
        "until_solved",
        f"the solved check would score widths up to {max(solve_widths)} bits "
        "(2 x n_bits), and above 100000 every check is slow; "
        "pass --solve-lengths or --no-until-solved",
    )
