"""The Ray backend gives the local backend's rows: local Ray, and a 2-node cluster.

Needs the optional extra ``binadd[ray]``; every test here is marked ``ray`` and
skipped when Ray cannot be imported. The cluster test starts both nodes itself
on loopback with token authentication, and stops exactly the two processes it
started (``ray start --block`` tears its node down on SIGTERM), so that it never
touches another Ray running on the machine as ``ray stop`` would.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import binadd
from binadd.sweeps.runner import run_sweep
from sweep_fixtures import result_rows, tiny_sweep, write_tiny

if importlib.util.find_spec("ray") is None:
    pytest.skip(
        "Ray is not installed (pip install 'binadd[ray]')", allow_module_level=True
    )
pytestmark = pytest.mark.ray
START_TIMEOUT = 120
SWEEP_TIMEOUT = 300


@pytest.fixture(scope="module")
def ray_env() -> Iterator[dict[str, str]]:
    """An environment with token authentication and one shared token file.

    Ray reads these settings once per process when it is imported, so every
    Ray here runs in a child process: the nodes, and the ``binadd sweep``
    driver, never this test process.
    """
    # A short folder: Ray's Unix socket paths must stay under ~100 characters.
    folder = Path(tempfile.mkdtemp(prefix="binadd-ray-", dir="/tmp"))
    token = folder / "token"
    token.write_text(secrets.token_hex(32), encoding="ascii")
    source = str(Path(binadd.__file__).resolve().parents[1])
    yield {
        **os.environ,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(token),
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",
        "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")]),
        "BINADD_TEST_FOLDER": str(folder),
    }
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("reference")
    run_sweep(tiny_sweep(), out, workers=1, progress=False)
    return result_rows(out)


def _sweep_with_ray(env: dict[str, str], out: Path, *options: str) -> None:
    """Run ``binadd sweep --backend ray`` in a child process."""
    sweep_file = write_tiny(out.parent / "tiny.toml")
    command = [sys.executable, "-m", "binadd", "sweep", str(sweep_file)]
    command += ["--out", str(out), "--backend", "ray", *options]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=SWEEP_TIMEOUT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "sweep tiny: 4 done, 0 failed of 4 trials" in done.stdout


def test_local_ray_gives_the_same_rows(
    ray_env: dict[str, str], reference: dict, tmp_path: Path
):
    _sweep_with_ray(ray_env, tmp_path / "out", "--workers", "2")
    assert result_rows(tmp_path / "out") == reference


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_node(
    arguments: list[str], env: dict[str, str], log: Path
) -> subprocess.Popen:
    """Start one Ray node in the foreground; wait until it says it is up."""
    ray = shutil.which("ray", path=str(Path(sys.executable).parent)) or "ray"
    stream = log.open("wb")
    node = subprocess.Popen(
        [ray, "start", "--block", "--node-ip-address=127.0.0.1", *arguments],
        env=env,
        stdout=stream,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while b"Ray runtime started" not in log.read_bytes():
        if node.poll() is not None or time.monotonic() > deadline:
            _stop_node(node)
            pytest.fail(f"ray start failed: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.5)
    return node


def _stop_node(node: subprocess.Popen) -> None:
    node.terminate()
    try:
        node.wait(timeout=60)
    except subprocess.TimeoutExpired:
        node.kill()
        node.wait(timeout=30)


@pytest.fixture
def ray_cluster(ray_env: dict[str, str]) -> Iterator[str]:
    """A head node with no CPUs and a worker node with 2, on 127.0.0.1."""
    folder, env = Path(ray_env["BINADD_TEST_FOLDER"]), ray_env
    port = _free_port()
    nodes = []
    try:
        nodes.append(
            _start_node(
                [
                    "--head",
                    f"--port={port}",
                    "--num-cpus=0",
                    "--include-dashboard=false",
                    "--disable-usage-stats",
                    f"--temp-dir={folder / 'ray'}",
                ],
                env,
                folder / "head.log",
            )
        )
        nodes.append(
            _start_node(
                [f"--address=127.0.0.1:{port}", "--num-cpus=2"],
                env,
                folder / "worker.log",
            )
        )
        yield f"127.0.0.1:{port}"
    finally:
        for node in reversed(nodes):
            _stop_node(node)


def test_two_node_cluster_gives_the_same_rows(
    ray_env: dict[str, str], reference: dict, ray_cluster: str, tmp_path: Path
):
    _sweep_with_ray(ray_env, tmp_path / "out", "--address", ray_cluster)
    assert result_rows(tmp_path / "out") == reference
    # The head has no CPUs, so every trial ran on the worker node.
    workers = [row["worker"] for row in _trials(tmp_path / "out")]
    assert len({worker.split(" node ")[1] for worker in workers}) == 1


def _trials(sweep_dir: Path) -> list[dict]:
    from binadd.sweeps.store import Store

    store = Store.open(sweep_dir)
    try:
        return store.trials()
    finally:
        store.close()
