"""Checkpoints: a run's weights, config, optimizer and generator states on disk.

Checkpoints are safetensors files: tensors plus string metadata, nothing that
can execute code when loaded. Their metadata carries a SHA-256 digest of the
tensor bytes, so a file damaged on disk is refused instead of loaded as garbage.
Files are written through :func:`~binadd.files.write_atomic`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_save

from binadd.config import Config
from binadd.configure import config_from_dict
from binadd.errors import CheckpointError, ConfigError
from binadd.files import write_atomic

CHECKPOINT_FORMAT = "binadd-checkpoint-1"


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
            names = list(reader.keys())
            tensors = {name: reader.get_tensor(name) for name in names}
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
