"""Run a sweep: register its trials, run those not done, record every result.

A sweep directory holds::

    sweep.db            the database (see :mod:`binadd.sweeps.store`)
    trials/<id>/        one normal run directory per trial
    tensorboard/<id>/   per-trial TensorBoard logs, with --tensorboard
    report/             written by ``binadd report`` (and at the end of a sweep)

Running a sweep again in the same directory skips the trials that are done and
runs the rest: those that failed and those that an interruption left running.
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from binadd.errors import UsageError
from binadd.sweeps.backends import BACKENDS, import_ray, run_local, run_ray
from binadd.sweeps.spec import Sweep, Trial
from binadd.sweeps.store import Store
from binadd.sweeps.trial import TrialTask

log = logging.getLogger(__name__)


def check_tensorboard() -> None:
    """Fail in one line, before anything runs, when TensorBoard is missing."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise UsageError(
            "--tensorboard needs TensorBoard: pip install 'binadd[tb]' "
            "(or pip install tensorboard)"
        ) from None


def _task(trial: Trial, sweep_dir: Path, tensorboard: bool) -> TrialTask:
    board = sweep_dir / "tensorboard" / trial.trial_id if tensorboard else None
    return TrialTask(
        trial_id=trial.trial_id,
        config=trial.config,
        run_dir=str((sweep_dir / "trials" / trial.trial_id).resolve()),
        tensorboard_dir=None if board is None else str(board.resolve()),
    )


def _describe(result: dict[str, Any]) -> str:
    """One log line for a finished trial."""
    if result["status"] != "done":
        return f"trial {result['trial_id']} failed: {result.get('error', '')}"
    random = [r for r in result["records"] if r["case"] == "random"]
    scores = " ".join(
        f"{int(r['n_bits'])}:{float(r['sequence_accuracy']):.3f}" for r in random[-2:]
    )
    seconds = float(result["finished"]) - float(result["started"])
    return f"trial {result['trial_id']} done in {seconds:6.1f}s | seq acc {scores}"


def run_sweep(
    sweep: Sweep,
    sweep_dir: Path,
    backend: str = "local",
    workers: int = 1,
    address: str | None = None,
    tensorboard: bool = False,
    progress: bool | None = None,
) -> Counter[str]:
    """Run every trial of ``sweep`` that is not done yet into ``sweep_dir``.

    Args:
        sweep: the validated sweep file.
        sweep_dir: where the database and the trials' run directories go.
        backend: ``local`` (worker processes) or ``ray``.
        workers: parallel trials (local processes, or CPUs of a local Ray).
        address: a Ray cluster to join; None starts a local Ray.
        tensorboard: also write TensorBoard logs of every trial.
        progress: show a progress bar (default: when stderr is a terminal).

    Returns:
        How many trials of the sweep ended in each status.
    """
    if workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    if backend not in BACKENDS:
        raise UsageError(f"--backend must be one of {', '.join(BACKENDS)}")
    if address is not None and backend != "ray":
        raise UsageError("--address is only for --backend ray")
    if backend == "ray":
        import_ray()
    if tensorboard:
        check_tensorboard()
    trials = sweep.trials()
    store = Store.create(sweep_dir)
    try:
        store.register(trials, sweep_dir)
        store.save_sweep(sweep)
        done = {k for k, v in store.statuses().items() if v == "done"}
        todo = [trial for trial in trials if trial.trial_id not in done]
        log.info(
            "sweep %s: %d trials, %d done, %d to run (%s backend, %d workers)",
            *(sweep.name, len(trials), len(trials) - len(todo), len(todo)),
            *(backend, workers),
        )
        tasks = [_task(trial, sweep_dir, tensorboard) for trial in todo]
        store.mark_running(task.trial_id for task in tasks)
        results = _results(tasks, backend, workers, address)
        _record_all(store, results, len(tasks), progress)
        statuses = store.statuses()
    finally:
        store.close()
    return Counter(statuses[trial.trial_id] for trial in trials)


def _results(
    tasks: list[TrialTask], backend: str, workers: int, address: str | None
) -> Iterator[dict[str, Any]]:
    if not tasks:
        return iter(())
    if backend == "ray":
        return run_ray(tasks, workers, address)
    return run_local(tasks, workers)


def _record_all(
    store: Store,
    results: Iterator[dict[str, Any]],
    total: int,
    progress: bool | None,
) -> None:
    """Write each result as it comes: a bar when interactive, else a log line."""
    if progress is None:
        progress = sys.stderr.isatty()
    bar = tqdm(total=total, unit="trial", disable=not progress)
    failed = 0
    try:
        for result in results:
            store.record(result)
            failed += result["status"] != "done"
            bar.update(1)
            bar.set_postfix(failed=failed)
            if not progress:
                log.info(_describe(result))
    finally:
        bar.close()
        close = getattr(results, "close", None)
        if close is not None:
            close()
