"""One trial of a sweep, run inside a worker: train, evaluate, return records.

A worker (a local process or a Ray task) receives a :class:`TrialTask`, trains
and evaluates through the library (:class:`~binadd.train.Trainer`,
:func:`~binadd.train.fit`, :func:`~binadd.evaluate.evaluate`) into a normal run
directory, and returns a plain dict of results. It never touches the sweep's
database: the parent process records what workers return. A trial that raises
is returned as failed with its error, so that the sweep goes on.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from binadd.config import Config
from binadd.evaluate import evaluate_into
from binadd.rundir import RunDir
from binadd.train import Trainer, fit, resolve_device


@dataclass(frozen=True)
class TrialTask:
    """What a worker needs to run one trial; small and picklable."""

    trial_id: str
    config: Config
    run_dir: str
    tensorboard_dir: str | None = None


def run_trial(task: TrialTask) -> dict[str, Any]:
    """Run one trial with one torch thread; never raises for a failing trial.

    Returns:
        ``trial_id``, ``status`` (``done`` or ``failed``), ``error`` and
        ``traceback`` (empty when done), ``history`` (one record per epoch),
        ``records`` (one per width and case), ``started``, ``finished``,
        ``train_seconds``, ``eval_seconds`` and ``worker`` (host and pid).
    """
    # One thread per trial: faster for tiny models, and identical results on
    # every backend (several threads may sum in a different order).
    torch.set_num_threads(1)
    result: dict[str, Any] = {
        "trial_id": task.trial_id,
        "status": "done",
        "error": "",
        "traceback": "",
        "history": [],
        "records": [],
        "started": time.time(),
        "train_seconds": None,
        "eval_seconds": None,
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }
    try:
        _train_and_evaluate(task, result)
    except Exception as error:  # Any fault of one trial must not stop the sweep.
        result["status"] = "failed"
        result["error"] = describe_error(error)
        result["traceback"] = traceback.format_exc()
    result["finished"] = time.time()
    return result


def describe_error(error: BaseException) -> str:
    """One line: the exception's type and the first line of its message."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _train_and_evaluate(task: TrialTask, result: dict[str, Any]) -> None:
    """Fill ``result`` with the trial's history, records and timings."""
    config = task.config
    device = resolve_device(config.device)
    run = RunDir.create(task.run_dir, force=True)
    run.write_config(config)

    start = time.perf_counter()
    trainer = Trainer(config, device)
    fit(trainer, run, progress=False)
    result["history"] = list(trainer.history)
    result["train_seconds"] = time.perf_counter() - start

    start = time.perf_counter()
    records = evaluate_into(run, trainer.model, trainer.layout, config.eval, device)
    result["records"] = records
    result["eval_seconds"] = time.perf_counter() - start
    if task.tensorboard_dir is not None:
        write_tensorboard(Path(task.tensorboard_dir), trainer.history, records)


def write_tensorboard(
    log_dir: Path, history: list[dict[str, Any]], records: list[dict[str, Any]]
) -> None:
    """Per-epoch scalars, and per-width accuracy on random pairs, for TensorBoard."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(log_dir))
    try:
        for record in history:
            for key, value in record.items():
                if key != "epoch" and isinstance(value, int | float):
                    writer.add_scalar(f"epoch/{key}", value, int(record["epoch"]))
        for record in records:
            if record["case"] == "random":
                for key in ("sequence_accuracy", "bit_accuracy"):
                    writer.add_scalar(
                        f"width/{key}", float(record[key]), int(record["n_bits"])
                    )
    finally:
        writer.close()
