"""Continuing a stopped run: check its checkpoint and restore the trainer.

Every epoch of :func:`~binadd.train.fit` ends with a checkpoint holding the
weights, the optimizer, both random generators and the history, so
:func:`resume` rebuilds the trainer exactly where the last complete epoch left
it, and on the CPU the continued run equals, bit for bit, one never stopped.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from binadd.checkpoint import Checkpoint
from binadd.errors import CheckpointError, UsageError
from binadd.rundir import RunDir
from binadd.train import Trainer, resolve_device

log = logging.getLogger(__name__)


def resume(path: str | Path, device_name: str | None = None) -> tuple[RunDir, Trainer]:
    """Reopen a stopped run where its last checkpoint left it.

    A run stopped before its first epoch ended has no checkpoint yet; it starts
    again from its saved config. The run continues on the kind of device it
    was trained on, since a generator's state does not move between kinds.

    Args:
        path: the run directory.
        device_name: ``cpu``, ``cuda``, ``auto`` or None for the run's own.

    Returns:
        The run directory and a trainer ready for :func:`fit`.
    """
    run = RunDir.open(path, need_checkpoint=False)
    run.remove_stale_temporaries()
    checkpoint = run.load_checkpoint() if run.checkpoint_path.exists() else None
    config = checkpoint.config if checkpoint else run.read_config()
    trained_on = checkpoint.extra.get("device") if checkpoint else None
    if trained_on not in (None, "cpu", "cuda"):
        raise CheckpointError(f"checkpoint names an unknown device {trained_on!r}")
    device = resolve_device(device_name or trained_on or config.device)
    if trained_on is not None and device.type != trained_on:
        raise UsageError(
            f"this run was trained on {trained_on} and can only continue there "
            f"(--device {trained_on}): its random generator belongs to that device"
        )

    trainer = Trainer(config, device)
    if checkpoint is not None:
        restore(trainer, checkpoint)
    run.write_metrics(trainer.history)
    log.info(
        "resuming %s after epoch %d of %d",
        run.path,
        trainer.epoch,
        config.train.epochs,
    )
    return run, trainer


def restore(trainer: Trainer, checkpoint: Checkpoint) -> None:
    """Put a checkpoint's weights, optimizer, generators and history into a trainer.

    Raises:
        CheckpointError: in one line, when the checkpoint does not fit this
            trainer's model, optimizer or device.
    """
    _check_history(checkpoint)
    try:
        trainer.model.load_state_dict(checkpoint.model_state)
        if checkpoint.optimizer_state is not None:
            trainer.optimizer.load_state_dict(checkpoint.optimizer_state)
            _check_optimizer_shapes(trainer.optimizer)
        if checkpoint.rng_state is not None:
            trainer.generator.set_state(checkpoint.rng_state.to(torch.uint8))
        if checkpoint.torch_rng_state is not None:
            torch.set_rng_state(checkpoint.torch_rng_state.to(torch.uint8))
    except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = lines[1] if len(lines) > 1 else (lines or [type(error).__name__])[0]
        raise CheckpointError(f"checkpoint does not fit its config: {reason}") from None
    trainer.history = list(checkpoint.history)
    trainer.steps = int(checkpoint.extra.get("steps", 0))
    trainer.solved_at = checkpoint.extra.get("solved_at")


def _check_history(checkpoint: Checkpoint) -> None:
    """The history must be one record (a mapping) per finished epoch."""
    history = checkpoint.history
    if (
        not isinstance(history, list)
        or len(history) != checkpoint.epoch
        or not all(isinstance(record, dict) for record in history)
    ):
        raise CheckpointError(
            f"checkpoint history does not match its epoch ({checkpoint.epoch})"
        )


def _check_optimizer_shapes(optimizer: torch.optim.Optimizer) -> None:
    """Per-parameter optimizer tensors must have their parameter's shape."""
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            for name, value in optimizer.state.get(parameter, {}).items():
                if (
                    isinstance(value, torch.Tensor)
                    and value.dim() > 0
                    and value.shape != parameter.shape
                ):
                    raise ValueError(
                        f"optimizer {name} of shape {tuple(value.shape)} "
                        f"for a parameter of shape {tuple(parameter.shape)}"
                    )
