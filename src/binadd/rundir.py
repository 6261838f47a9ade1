"""The run directory: one object that owns a run's files on disk.

Layout of a run directory::

    config.json               the resolved config
    metrics.csv               one row per epoch: losses and accuracies
    lengths.csv               one row per (width, case): the latest evaluation
    evaluations.jsonl         every evaluation ever made, appended
    summary.json              generalization horizon over the widths of lengths.csv
    checkpoint.safetensors    weights, config, optimizer and generator states
    curves.png, lengths.png   figures drawn from the CSV files

Every file is written atomically (a temporary file in the same directory,
flushed to disk, then a rename, then the directory itself flushed), so a crash
or a power cut leaves either the old file or the new one, never half of one.
Checkpoints are safetensors files: tensors plus string metadata, nothing that
can execute code when loaded. Their metadata carries a SHA-256 digest of the
tensor bytes, so a file damaged on disk is refused instead of loaded as garbage.
"""

from __future__ import annotations

import csv
import hashlib
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
from binadd.errors import BinaddError, CheckpointError, ConfigError, UsageError

CHECKPOINT_FORMAT = "binadd-checkpoint-1"


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    A failure (disk full, no permission) leaves the old file untouched and is
    reported as a one-line :class:`BinaddError`.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as error:
        raise BinaddError(f"cannot write {path}: {error.strerror}") from None
    try:
        os.fchmod(handle, 0o666 & ~_umask())
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise BinaddError(f"cannot write {path}: {error.strerror}") from None
        raise
    _sync_directory(path.parent)


def _umask() -> int:
    """The process's file mode mask (mkstemp alone would give every file 0600)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _sync_directory(directory: Path) -> None:
    """Flush a directory entry to disk, so that a rename survives a power cut."""
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass  # Some file systems cannot sync a directory; the rename still holds.
    finally:
        os.close(handle)


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
    torch_rng_state: torch.Tensor | None = None


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
    if checkpoint.torch_rng_state is not None:
        tensors["rng.torch"] = checkpoint.torch_rng_state.cpu().contiguous()
    # The digest covers the tensor bytes, which do not depend on the metadata,
    # so the file is serialized once to learn them and once more to keep them.
    metadata["sha256"] = _data_digest(safetensors_save(tensors, metadata=metadata))
    write_atomic(path, safetensors_save(tensors, metadata=metadata))


def _data_digest(blob: bytes) -> str:
    """SHA-256 of a safetensors file's tensor bytes (everything after the header)."""
    header_size = int.from_bytes(blob[:8], "little")
    return hashlib.sha256(memoryview(blob)[8 + header_size :]).hexdigest()


def _file_digest(path: Path) -> str:
    """The same digest, read from a file in pieces."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        stream.seek(8 + int.from_bytes(stream.read(8), "little"))
        for piece in iter(lambda: stream.read(1 << 20), b""):
            digest.update(piece)
    return digest.hexdigest()


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
    if "sha256" in metadata and _file_digest(path) != metadata["sha256"]:
        raise CheckpointError(
            f"{path} is corrupted: its tensors do not match their checksum"
        )
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
        history = json.loads(metadata.get("history", "[]"))
        extra = json.loads(metadata.get("extra", "{}"))
        if not isinstance(history, list) or not isinstance(extra, dict):
            raise ValueError("history must be a list and extra a mapping")
        return Checkpoint(
            config=config,
            model_state=model_state,
            epoch=int(metadata.get("epoch", "0")),
            history=history,
            optimizer_state=optimizer_state,
            rng_state=tensors.get("rng.train"),
            extra=extra,
            torch_rng_state=tensors.get("rng.torch"),
        )
    except (KeyError, ValueError, TypeError, AttributeError, ConfigError) as error:
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
        run.check_writable()
        return run

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
        return load_checkpoint(self.checkpoint_path)

    def write_metrics(self, history: list[dict[str, Any]]) -> None:
        write_atomic(self.metrics_path, csv_text(history, METRIC_COLUMNS))

    def read_metrics(self) -> list[dict[str, str]]:
        return read_csv(self.metrics_path)

    def write_lengths(self, records: list[dict[str, Any]]) -> None:
        """Merge records into lengths.csv (newest per width and case wins) and
        append them to evaluations.jsonl."""
        entry = {"time": time.time(), "records": records}
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
