"""Executors for sweep trials: local worker processes, or tasks on a Ray cluster.

Both take a list of :class:`~binadd.sweeps.trial.TrialTask` and yield one result dict
per trial as trials finish, in any order. Every worker runs a trial with one
torch thread, so both give the same numbers for the same seeds. A worker that
dies is reported as a failed trial; the others go on.

``local``: a pool of ``workers`` processes started with ``forkserver`` (or
``spawn`` where there is none), never ``fork``, which is unsafe once torch has
started threads. With one worker, trials run in this process.

``ray``: one Ray task per trial (one CPU each). With no address a local Ray is
started for the sweep and stopped after it; with an address (``HOST:PORT`` or
``auto``) the sweep joins that cluster. Ray is imported only here, only then.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from types import ModuleType
from typing import Any

import torch

from binadd.errors import BinaddError, UsageError
from binadd.sweeps.trial import TrialTask, describe_error, run_trial

BACKENDS = ("local", "ray")


def failed_result(task: TrialTask, error: BaseException) -> dict[str, Any]:
    """The result of a trial whose worker itself failed."""
    now = time.time()
    return {
        "trial_id": task.trial_id,
        "status": "failed",
        "error": f"worker failed: {describe_error(error)}",
        "started": now,
        "finished": now,
    }


def _init_worker() -> None:
    torch.set_num_threads(1)
    # Ctrl-C reaches the whole process group: a worker then stops at once
    # instead of finishing the trials already queued to it. The parent records
    # nothing for those trials, so the next run of the sweep runs them again.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        # Import torch and binadd once in the server, not once per worker.
        context.set_forkserver_preload(["binadd.sweeps.trial"])
        return context
    return multiprocessing.get_context("spawn")


def run_local(tasks: list[TrialTask], workers: int) -> Iterator[dict[str, Any]]:
    """Run trials in ``workers`` processes (in this one when ``workers`` is 1)."""
    if workers == 1 or len(tasks) <= 1:
        for task in tasks:
            yield run_trial(task)
        return
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(tasks)),
        mp_context=_context(),
        initializer=_init_worker,
    )
    try:
        futures: dict[Future[dict[str, Any]], TrialTask] = {
            pool.submit(run_trial, task): task for task in tasks
        }
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception as error:  # A dead worker fails only its trials.
                yield failed_result(futures[future], error)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def import_ray() -> ModuleType:
    """Import Ray, or explain in one line how to install it."""
    try:
        import ray
    except ImportError:
        raise UsageError(
            "--backend ray needs Ray: pip install 'binadd[ray]' (or pip install ray)"
        ) from None
    return ray


def _ray_trial(task: TrialTask) -> dict[str, Any]:
    """Run a trial as a Ray task, noting the node it ran on."""
    import ray

    result = run_trial(task)
    result["worker"] += f" node {ray.get_runtime_context().get_node_id()[:12]}"
    return result


def _start_ray(ray: ModuleType, workers: int, address: str | None) -> None:
    options: dict[str, Any] = {"logging_level": logging.WARNING}
    try:
        if address is None:
            ray.init(num_cpus=workers, include_dashboard=False, **options)
        else:
            ray.init(address=address, **options)
    except Exception as error:  # Ray raises several types for a bad address.
        where = address or "a local Ray"
        raise BinaddError(f"cannot start {where}: {describe_error(error)}") from None


def run_ray(
    tasks: list[TrialTask], workers: int, address: str | None = None
) -> Iterator[dict[str, Any]]:
    """Run each trial as a one-CPU Ray task; yield results as they finish."""
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        _start_ray(ray, workers, address)
    try:
        remote = ray.remote(num_cpus=1, max_retries=1, scheduling_strategy="SPREAD")
        trial = remote(_ray_trial)
        refs = {trial.remote(task): task for task in tasks}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                try:
                    yield ray.get(ref)
                except ray.exceptions.RayError as error:
                    yield failed_result(refs[ref], error)
    finally:
        if started:
            ray.shutdown()
