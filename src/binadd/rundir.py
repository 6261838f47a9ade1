"""The run directory: one object that owns a run's files on disk.

Layout of a run directory::

    config.json               the resolved config
    metrics.csv               one row per epoch: losses and accuracies
    lengths.csv               one row per (width, case): the latest evaluation
    evaluations.jsonl         every evaluation ever made, appended
    summary.json              generalization horizon over the widths of lengths.csv
    checkpoint.safetensors    weights, config, optimizer and generator states
    curves.png, lengths.png   figures drawn from the CSV files

Every file is written atomically through :func:`~binadd.files.write_atomic`,
and the checkpoint is the safetensors file of :mod:`binadd.checkpoint`.
"""

from __future__ import annotations

import csv
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from binadd.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from binadd.config import Config
from binadd.configure import config_from_dict
from binadd.errors import BinaddError, CheckpointError, UsageError
from binadd.files import csv_text, read_csv, write_atomic

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
    certificate_path = property(lambda self: self.path / "certificate.json")
    states_plot_path = property(lambda self: self.path / "states.png")

    @classmethod
    def create(cls, path: str | Path, force: bool = False) -> RunDir:
        """Make a new run directory; refuse a non-empty one unless ``force``."""
        if not str(path).strip():
            raise UsageError("the run directory's name is empty")
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
        run.check_writable()
        if force:
            run.clear()
        return run

    def clear(self) -> None:
        """Delete every file a run writes, so an overwritten run starts clean.

        Files that binadd does not write are left alone.
        """
        for path in self.run_files:
            try:
                path.unlink(missing_ok=True)
            except OSError as error:
                raise UsageError(f"cannot remove {path}: {error.strerror}") from None

    def check_writable(self) -> None:
        """Fail now, in one line, if files cannot be written here."""
        try:
            with tempfile.TemporaryFile(dir=self.path):
                pass
        except OSError as error:
            raise UsageError(f"cannot write in {self.path}: {error.strerror}") from None

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
    def open(cls, path: str | Path, need_checkpoint: bool = True) -> RunDir:
        """Open an existing run directory, which must hold a checkpoint unless
        ``need_checkpoint`` is false (a run stopped before its first epoch)."""
        run = cls(path)
        if not run.path.is_dir():
            raise UsageError(f"no run directory at {run.path}")
        if need_checkpoint and not run.checkpoint_path.is_file():
            raise CheckpointError(f"{run.path} holds no checkpoint.safetensors")
        return run

    def read_config(self) -> Config:
        """The config saved in config.json; a fault is a one-line error."""
        try:
            data = json.loads(self.config_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CheckpointError(f"{self.path} holds no config.json") from None
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise CheckpointError(f"cannot read {self.config_path}: {error}") from None
        return config_from_dict(data)

    def remove_stale_temporaries(self) -> list[Path]:
        """Delete half-written temporary files left by a killed process."""
        owned = [path.name for path in self.owned_files]
        stale = [
            path
            for path in self.path.iterdir()
            if path.is_file() and any(path.name.startswith(f".{n}.") for n in owned)
        ]
        for path in stale:
            path.unlink(missing_ok=True)
        return stale

    @property
    def run_files(self) -> tuple[Path, ...]:
        """Every file a run directory may hold."""
        return (
            *self.owned_files,
            self.evaluations_path,
            self.summary_path,
            self.curves_path,
            self.lengths_plot_path,
            self.certificate_path,
            self.states_plot_path,
        )

    @property
    def owned_files(self) -> tuple[Path, ...]:
        """The files written through :func:`write_atomic`."""
        return (
            self.config_path,
            self.checkpoint_path,
            self.metrics_path,
            self.lengths_path,
        )

    def write_config(self, config: Config) -> None:
        text = json.dumps(config.to_dict(), indent=2) + "\n"
        write_atomic(self.config_path, text)

    def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        save_checkpoint(self.checkpoint_path, checkpoint)

    def load_checkpoint(self) -> Checkpoint:
        """The run's checkpoint, which must have been made with its config.json.

        A checkpoint copied in from another run is refused, so that its
        results never mix with this run's files.
        """
        checkpoint = load_checkpoint(self.checkpoint_path)
        if self.config_path.is_file() and self.read_config() != checkpoint.config:
            raise CheckpointError(
                f"{self.checkpoint_path} does not belong to this run: its config "
                f"differs from {self.config_path.name} (copied from another run?)"
            )
        return checkpoint

    def write_metrics(self, history: list[dict[str, Any]]) -> None:
        write_atomic(self.metrics_path, csv_text(history, METRIC_COLUMNS))

    def read_metrics(self) -> list[dict[str, str]]:
        return read_csv(self.metrics_path)

    def write_lengths(
        self, records: list[dict[str, Any]], settings: dict[str, Any] | None = None
    ) -> None:
        """Merge records into lengths.csv (newest per width and case wins) and
        append them to evaluations.jsonl with the settings that made them."""
        entry = {"time": time.time(), **(settings or {}), "records": records}
        try:
            with self.evaluations_path.open("a", encoding="utf-8") as stream:
                stream.write(json.dumps(entry) + "\n")
        except OSError as error:
            raise BinaddError(
                f"cannot write {self.evaluations_path}: {error.strerror}"
            ) from None
        merged = self._previous_lengths()
        for record in records:
            merged[(int(record["n_bits"]), str(record["case"]))] = record
        ordered = [merged[key] for key in sorted(merged)]
        write_atomic(self.lengths_path, csv_text(ordered, LENGTH_COLUMNS))

    def _previous_lengths(self) -> dict[tuple[int, str], dict[str, Any]]:
        """lengths.csv keyed by (width, case); a damaged file is a one-line error."""
        if not self.lengths_path.is_file():
            return {}
        try:
            return {
                (int(row["n_bits"]), str(row["case"])): dict(row)
                for row in read_csv(self.lengths_path)
            }
        except (
            OSError,
            csv.Error,
            UnicodeDecodeError,
            KeyError,
            TypeError,
            ValueError,
        ):
            raise BinaddError(
                f"{self.lengths_path} is damaged; move it away and evaluate again "
                f"(every evaluation is also in {self.evaluations_path.name})"
            ) from None

    def read_lengths(self) -> list[dict[str, str]]:
        return read_csv(self.lengths_path)
