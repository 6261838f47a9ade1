"""The run directory: one object that owns a run's files on disk.

Layout of a run directory::

    config.json               the resolved config
    metrics.csv               one row per epoch: losses and accuracies
    lengths.csv               one row per (width, case): the latest evaluation
    evaluations.jsonl         every evaluation ever made, appended
    summary.json              generalization horizon over the widths of lengths.csv
    checkpoint.safetensors    weights, config, optimizer and generator states
    curves.png, lengths.png   figures drawn from the CSV files

Every file is written atomically (a temporary file in the same directory, then
a rename), so a crash leaves either the old file or the new one, never half of
one. Checkpoints are safetensors files: tensors plus string metadata, nothing
that can execute code when loaded.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_save

from binadd.config import Config, config_from_dict
from binadd.errors import CheckpointError, ConfigError, UsageError

CHECKPOINT_FORMAT = "binadd-checkpoint-1"


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def csv_text(rows: Iterable[Mapping[str, Any]], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: row.get(key, "") for key in columns})
    return buffer.getvalue()


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


@dataclass
class Checkpoint:
    """What a checkpoint holds, loaded."""

    config: Config
    model_state: dict[str, torch.Tensor]
    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    optimizer_state: dict[str, Any] | None = None
    rng_state: torch.Tensor | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], str]:
    """Split an optimizer state dict into tensors and a JSON string of the rest."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = value
    rest = {"param_groups": state["param_groups"], "scalars": scalars}
    return tensors, json.dumps(rest)


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], text: str) -> dict[str, Any]:
    rest = json.loads(text)
    state: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        _, index, key = name.split(".", 2)
        state.setdefault(int(index), {})[key] = tensor
    for index, values in rest["scalars"].items():
        state.setdefault(int(index), {}).update(values)
    return {"state": state, "param_groups": rest["param_groups"]}


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Write a checkpoint atomically as a safetensors file."""
    tensors = {
        f"model.{name}": tensor.detach().cpu().contiguous()
        for name, tensor in checkpoint.model_state.items()
    }
    metadata = {
        "format": CHECKPOINT_FORMAT,
        "config": json.dumps(checkpoint.config.to_dict()),
        "epoch": str(checkpoint.epoch),
        "history": json.dumps(checkpoint.history),
        "extra": json.dumps(checkpoint.extra),
    }
    if checkpoint.optimizer_state is not None:
        optim_tensors, metadata["optimizer"] = _flatten_optimizer(
            checkpoint.optimizer_state
        )
        tensors.update(optim_tensors)
    if checkpoint.rng_state is not None:
        tensors["rng.train"] = checkpoint.rng_state.cpu().contiguous()
    write_atomic(path, safetensors_save(tensors, metadata=metadata))


def load_checkpoint(path: Path) -> Checkpoint:
    """Load a checkpoint; any fault becomes a one-line :class:`CheckpointError`."""
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as reader:
            metadata = reader.metadata() or {}
            tensors = {name: reader.get_tensor(name) for name in reader.keys()}  # noqa: SIM118
    except Exception as error:  # safetensors raises several types on bad files.
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({reason})"
        ) from None
    if metadata.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a binadd checkpoint")
    try:
        config = config_from_dict(json.loads(metadata["config"]))
        model_state = {
            name.removeprefix("model."): tensor
            for name, tensor in tensors.items()
            if name.startswith("model.")
        }
        optim = {k: v for k, v in tensors.items() if k.startswith("optim.")}
        optimizer_state = None
        if "optimizer" in metadata:
            optimizer_state = _unflatten_optimizer(optim, metadata["optimizer"])
        return Checkpoint(
            config=config,
            model_state=model_state,
            epoch=int(metadata.get("epoch", "0")),
            history=json.loads(metadata.get("history", "[]")),
            optimizer_state=optimizer_state,
            rng_state=tensors.get("rng.train"),
            extra=json.loads(metadata.get("extra", "{}")),
        )
    except (KeyError, ValueError, TypeError, ConfigError) as error:
        raise CheckpointError(f"{path} has a damaged header ({error})") from None


METRIC_COLUMNS = [
    "epoch",
    "steps",
    "train_loss",
    "train_bit_accuracy",
    "train_sequence_accuracy",
    "test_loss",
    "test_bit_accuracy",
    "test_sequence_accuracy",
    "seconds",
]
LENGTH_COLUMNS = [
    "n_bits",
    "case",
    "samples",
    "bit_accuracy",
    "sequence_accuracy",
    "sequence_low",
    "sequence_high",
    "errors",
    "first_wrong_min",
    "first_wrong_median",
]


class RunDir:
    """A run's directory: creates it safely, and reads and writes its files."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    config_path = property(lambda self: self.path / "config.json")
    checkpoint_path = property(lambda self: self.path / "checkpoint.safetensors")
    metrics_path = property(lambda self: self.path / "metrics.csv")
    lengths_path = property(lambda self: self.path / "lengths.csv")
    evaluations_path = property(lambda self: self.path / "evaluations.jsonl")
    curves_path = property(lambda self: self.path / "curves.png")
    lengths_plot_path = property(lambda self: self.path / "lengths.png")
    summary_path = property(lambda self: self.path / "summary.json")

    @classmethod
    def create(cls, path: str | Path, force: bool = False) -> RunDir:
        """Make a new run directory; refuse a non-empty one unless ``force``."""
        run = cls(path)
        if run.path.exists() and not run.path.is_dir():
            raise UsageError(f"{run.path} exists and is not a directory")
        if run.path.is_dir() and any(run.path.iterdir()) and not force:
            raise UsageError(
                f"run directory {run.path} already exists; "
                "use --force to overwrite it or --resume to continue it"
            )
        try:
            run.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UsageError(f"cannot create {run.path}: {error.strerror}") from None
        return run

    @classmethod
    def default_path(cls, root: str | Path, config: Config) -> Path:
        """A fresh name under ``root``: time, model, width and seed."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}-{config.model.kind}-L{config.task.n_bits}-s{config.train.seed}"
        candidate, number = Path(root) / base, 1
        while candidate.exists():
            number += 1
            candidate = Path(root) / f"{base}-{number}"
        return candidate

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        """Open an existing run directory, which must hold a checkpoint."""
        run = cls(path)
        if not run.path.is_dir():
            raise UsageError(f"no run directory at {run.path}")
        if not run.checkpoint_path.is_file():
            raise CheckpointError(f"{run.path} holds no checkpoint.safetensors")
        return run

    def write_config(self, config: Config) -> None:
        text = json.dumps(config.to_dict(), indent=2) + "\n"
        write_atomic(self.config_path, text)

    def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        save_checkpoint(self.checkpoint_path, checkpoint)

    def load_checkpoint(self) -> Checkpoint:
        return load_checkpoint(self.checkpoint_path)

    def write_metrics(self, history: list[dict[str, Any]]) -> None:
        write_atomic(self.metrics_path, csv_text(history, METRIC_COLUMNS))

    def read_metrics(self) -> list[dict[str, str]]:
        return read_csv(self.metrics_path)

    def write_lengths(self, records: list[dict[str, Any]]) -> None:
        """Merge records into lengths.csv (newest per width and case wins) and
        append them to evaluations.jsonl."""
        merged: dict[tuple[int, str], dict[str, Any]] = {}
        if self.lengths_path.is_file():
            for row in read_csv(self.lengths_path):
                merged[(int(row["n_bits"]), row["case"])] = row
        for record in records:
            merged[(int(record["n_bits"]), str(record["case"]))] = record
        ordered = [merged[key] for key in sorted(merged)]
        write_atomic(self.lengths_path, csv_text(ordered, LENGTH_COLUMNS))
        entry = {"time": time.time(), "records": records}
        with self.evaluations_path.open("a", encoding="utf-8") as stream:
            stream.write(json.dumps(entry) + "\n")

    def read_lengths(self) -> list[dict[str, str]]:
        return read_csv(self.lengths_path)
