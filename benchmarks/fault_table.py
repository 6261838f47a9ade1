"""Try every fault and bad input of issue 3 and print the README's table.

Each row runs the command line in-process (a SIGKILL row runs a subprocess),
records the exit code and the one line it printed, and checks that nothing
already on disk was lost. Run from the repository root::

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/fault_table.py
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import torch
from safetensors.torch import save_file

import binadd.files
import binadd.rundir
import binadd.train
from binadd.cli import main
from binadd.configure import build_config
from binadd.rundir import RunDir
from binadd.train import Trainer

BUDGET = "--epochs 4 --steps-per-epoch 6 --test-batches 2 --batch-size 8"
BUDGET += " --eval-lengths 1-3 --eval-samples 10"
ROWS: list[tuple[str, str, str, str, str]] = []


def run_cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    lines = [line for line in err.getvalue().splitlines() if "binadd:" in line]
    assert "Traceback" not in err.getvalue()
    return code, lines[-1] if lines else ""


def row(fault: str, argv: list[str], code: int, line: str, kept: str) -> None:
    shown = " ".join(argv).replace(str(WORK), "…")
    line = line.replace(str(WORK), "…")
    ROWS.append((fault, f"`binadd {shown}`", str(code), f"`{line}`", kept))


def train(out: Path, *extra: str) -> list[str]:
    return ["train", *BUDGET.split(), *extra, "--out", str(out)]


def fingerprint(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()}


def interrupted(signum: int, reference: Path) -> None:
    out = WORK / f"stop-{signum}"
    original = Trainer.train_epoch

    def train_epoch(self, progress=False):
        if self.epoch == 2:
            os.kill(os.getpid(), signum)
        return original(self, progress)

    with mock.patch.object(Trainer, "train_epoch", train_epoch):
        code, line = run_cli(train(out))
    kept = RunDir(out).load_checkpoint().epoch
    resumed, _ = run_cli(["train", "--resume", str(out)])
    same = metrics(out) == metrics(reference) and resumed == 0
    name = signal.Signals(signum).name
    row(
        f"{name} in epoch 3",
        ["train", "…"],
        code,
        line,
        f"epoch {kept} kept; resumed run identical: {same}",
    )


def metrics(run: Path) -> list[list[str]]:
    lines = (run / "metrics.csv").read_text().splitlines()
    return [line.split(",")[:-1] for line in lines]  # all but seconds


def killed(reference: Path) -> None:
    out = WORK / "killed"
    env = {**os.environ, "PYTHONPATH": "src", "OMP_NUM_THREADS": "1"}
    argv = train(out)
    argv[argv.index("--epochs") + 1] = "4"
    process = subprocess.Popen(
        [sys.executable, "-m", "binadd", *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while not (out / "checkpoint.safetensors").exists():
        time.sleep(0.01)
    time.sleep(random.uniform(0, 0.1))
    process.kill()
    process.wait()
    kept = RunDir(out).load_checkpoint().epoch
    code, _ = run_cli(["train", "--resume", str(out)])
    same = metrics(out) == metrics(reference) and code == 0
    row(
        "SIGKILL at a random moment",
        ["train", "…"],
        process.returncode,
        "(none: killed)",
        f"epoch {kept} loads; resumed run identical: {same}",
    )


def diverged() -> None:
    out = WORK / "nan"
    real, calls = binadd.train.masked_loss, [0]

    def loss(logits, example, kind):
        calls[0] += 1
        return real(logits, example, kind) * (float("nan") if calls[0] > 16 else 1)

    with mock.patch.object(binadd.train, "masked_loss", loss):
        code, line = run_cli(train(out))
    kept = RunDir(out).load_checkpoint().epoch
    kept_text = f"epoch {kept} kept"
    row("loss becomes NaN in epoch 3", ["train", "…"], code, line, kept_text)


def disk_full() -> None:
    out = WORK / "full"
    real, calls = os.replace, [0]

    def replace(source, target):
        calls[0] += 1
        if calls[0] > 5:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(source, target)

    with mock.patch.object(binadd.files.os, "replace", replace):
        code, line = run_cli(train(out))
    kept = RunDir(out).load_checkpoint().epoch
    row(
        "disk full while saving epoch 3",
        ["train", "…"],
        code,
        line,
        f"epoch {kept} kept, no temporary left",
    )


def usage(fault: str, argv: list[str], guard: Path | None = None) -> None:
    before = fingerprint(guard) if guard else None
    code, line = run_cli(argv)
    kept = "n/a" if guard is None else str(fingerprint(guard) == before)
    row(fault, argv, code, line, "unchanged" if kept == "True" else kept)


def config_file(fault: str, text: str) -> None:
    path = WORK / "bad.toml"
    path.write_text(text + "\n")
    code, line = run_cli(["train", "--config", str(path)])
    shown = text.replace("\n", " ")
    row(
        f"{fault}: `{shown}`",
        ["train", "--config", "bad.toml"],
        code,
        line,
        "nothing created",
    )


def damaged(fault: str, damage: Callable[[Path], None], pristine: Path) -> None:
    run = WORK / f"damaged-{len(ROWS)}"
    shutil.copytree(pristine, run)
    damage(run / "checkpoint.safetensors")
    before = fingerprint(run)
    code, line = run_cli(["evaluate", str(run)])
    same = fingerprint(run) == before
    row(
        f"checkpoint: {fault}",
        ["evaluate", "RUN"],
        code,
        line,
        "run unchanged" if same else "CHANGED",
    )


class Payload:
    def __reduce__(self):
        return (exec, (f"open({str(WORK / 'pwned')!r}, 'w').close()",))


def mismatched(path: Path, **options) -> None:
    run = RunDir(path.parent)
    checkpoint = run.load_checkpoint()
    checkpoint.config = build_config(options={**TINY, **options})
    run.save_checkpoint(checkpoint)


def flip(path: Path) -> None:
    blob = bytearray(path.read_bytes())
    blob[-5] ^= 0x10
    path.write_bytes(bytes(blob))


def garbage_tensors(path: Path) -> None:
    blob = path.read_bytes()
    start = 8 + int.from_bytes(blob[:8], "little")
    path.write_bytes(blob[:start] + os.urandom(len(blob) - start))


TINY = {"steps_per_epoch": 2, "test_batches": 1, "batch_size": 4, "hidden_size": 7}


def make_pristine() -> Path:
    config = build_config(options=TINY)
    trainer = Trainer(config, torch.device("cpu"))
    trainer.history.append({"epoch": 1, **trainer.train_epoch()})
    run = RunDir.create(WORK / "pristine")
    run.write_config(config)
    run.save_checkpoint(trainer.checkpoint())
    return run.path


def checkpoint_rows(pristine: Path) -> None:
    damaged("missing", lambda p: p.unlink(), pristine)
    damaged("zero bytes", lambda p: p.write_bytes(b""), pristine)
    damaged(
        "truncated to half",
        lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
        pristine,
    )
    damaged("valid header, random tensor bytes", garbage_tensors, pristine)
    damaged("one flipped bit", flip, pristine)
    damaged(
        "torch pickle renamed", lambda p: torch.save({"w": torch.zeros(2)}, p), pristine
    )
    damaged(
        "malicious pickle (would create a file)",
        lambda p: p.write_bytes(pickle.dumps(Payload())),
        pristine,
    )
    damaged(
        "malicious torch.save zip",
        lambda p: torch.save({"model": Payload()}, p),
        pristine,
    )
    damaged(
        "safetensors of another program",
        lambda p: save_file({"w": torch.zeros(2)}, str(p)),
        pristine,
    )
    damaged(
        "config says hidden 5, tensors hidden 7",
        lambda p: mismatched(p, hidden_size=5),
        pristine,
    )
    damaged(
        "config says gru, tensors lstm", lambda p: mismatched(p, model="gru"), pristine
    )
    assert not (WORK / "pwned").exists()


def input_rows(pristine: Path) -> None:
    existing = WORK / "existing"
    shutil.copytree(pristine, existing)
    usage(
        "existing run directory",
        ["train", "--out", str(existing)],
        existing,
    )
    usage(
        "--resume with a changed option",
        ["train", "--resume", str(existing), "--lr", "0.1"],
        existing,
    )
    (WORK / "a-file").write_text("mine")
    usage("--out is a file", ["train", "--out", str(WORK / "a-file")])
    usage("--out below a file", ["train", "--out", str(WORK / "a-file" / "run")])
    refuse = OSError(errno.EROFS, os.strerror(errno.EROFS))
    with mock.patch.object(binadd.rundir.tempfile, "TemporaryFile", side_effect=refuse):
        usage(
            "--out on a read-only file system (simulated)",
            ["train", "--out", str(WORK / "ro")],
        )
    with mock.patch.object(torch.cuda, "is_available", return_value=False):
        usage("CUDA asked for, none present", ["train", "--device", "cuda"])
    for argv in (
        ["train", "--lr", "abc"],
        ["train", "--n-bits", "0"],
        ["train", "--seed", str(10**30)],
        ["train", "--threads", "0"],
        ["train", "--eval-lengths", "3-1"],
        ["train", "--epohcs", "3"],
        ["evaluate", str(existing), "--samples", "0"],
    ):
        usage("bad option", argv)
    for operand in ("12a", "-5", "0x", "", "0b102"):
        usage("malformed number for add", ["add", str(existing), operand, "1"])
    for fault, text in (
        ("unknown key", "hiden_size = 5"),
        ("unknown key in a section", "[train]\nepochz = 3"),
        ("unknown section", "[trian]\nlr = 0.1"),
        ("string for an int", 'n_bits = "10"'),
        ("bool for a float", "lr = true"),
        ("zero", "n_bits = 0"),
        ("negative", "hidden_size = -3"),
        ("huge", "n_bits = 2000000000"),
        ("huge lr", "lr = 1e300"),
        ("batch too large to hold", "n_bits = 100\nbatch_size = 1000000"),
        ("empty list", "eval_lengths = []"),
        ("not a list", "eval_lengths = 1.5"),
        ("section as a value", "task = 5"),
        ("not TOML", "n_bits = "),
    ):
        config_file(fault, text)
    usage("config file missing", ["train", "--config", str(WORK / "none.toml")])


def main_table() -> None:
    torch.set_num_threads(1)
    reference = WORK / "reference"
    assert run_cli(train(reference))[0] == 0
    pristine = make_pristine()
    interrupted(signal.SIGINT, reference)
    interrupted(signal.SIGTERM, reference)
    killed(reference)
    diverged()
    disk_full()
    input_rows(pristine)
    checkpoint_rows(pristine)
    print("| fault or input | command | exit | message | on disk |")
    print("|---|---|---|---|---|")
    for fields in ROWS:
        print("| " + " | ".join(f.replace("|", "\\|") for f in fields) + " |")


WORK = Path(tempfile.mkdtemp(prefix="binadd-faults-"))
if __name__ == "__main__":
    try:
        main_table()
    finally:
        shutil.rmtree(WORK)
