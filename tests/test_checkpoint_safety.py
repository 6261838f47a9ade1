"""Damaged, mismatched and hostile checkpoints: one line, exit 1, nothing run."""

from __future__ import annotations

import json
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from binadd.checkpoint import load_checkpoint
from binadd.cli import main
from binadd.configure import build_config
from binadd.errors import CheckpointError
from binadd.rundir import RunDir
from binadd.train import Trainer

TINY = {"steps_per_epoch": 2, "test_batches": 1, "batch_size": 4, "epochs": 3}


def make_run(path: Path, **options) -> RunDir:
    """A run directory with a one-epoch checkpoint, trained in-process."""
    config = build_config(options={**TINY, **options})
    trainer = Trainer(config, torch.device("cpu"))
    trainer.history.append({"epoch": 1, **trainer.train_epoch()})
    run = RunDir.create(path)
    run.write_config(config)
    run.save_checkpoint(trainer.checkpoint())
    return run


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("pristine") / "run").path


class Payload:
    """Unpickling this runs code: it creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


def data_start(blob: bytes) -> int:
    return 8 + int.from_bytes(blob[:8], "little")


def zero_bytes(path: Path) -> None:
    path.write_bytes(b"")


def truncated(path: Path) -> None:
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])


def garbage_after_a_valid_header(path: Path) -> None:
    blob = path.read_bytes()
    start = data_start(blob)
    noise = torch.randint(0, 256, (len(blob) - start,), dtype=torch.uint8)
    path.write_bytes(blob[:start] + bytes(noise.tolist()))


def one_flipped_bit(path: Path) -> None:
    blob = bytearray(path.read_bytes())
    blob[data_start(bytes(blob)) + 3] ^= 0x10
    path.write_bytes(bytes(blob))


def garbage_header(path: Path) -> None:
    blob = path.read_bytes()
    path.write_bytes(
        blob[:8] + b"{" * (data_start(blob) - 8) + blob[data_start(blob) :]
    )


def torch_pickle(path: Path) -> None:
    torch.save({"rnn.weight_ih_l0": torch.zeros(20, 2)}, path)


def foreign_safetensors(path: Path) -> None:
    save_file({"weight": torch.zeros(3)}, str(path))


def damaged_config(path: Path) -> None:
    save_file(
        {"model.w": torch.zeros(1)},
        str(path),
        metadata={"format": "binadd-checkpoint-1", "config": "{not json"},
    )


def a_directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


FAULTS: dict[str, Callable[[Path], None]] = {
    "zero-byte file": zero_bytes,
    "truncated to half": truncated,
    "valid header, garbage tensors": garbage_after_a_valid_header,
    "one flipped bit": one_flipped_bit,
    "garbage header": garbage_header,
    "torch pickle renamed": torch_pickle,
    "safetensors from elsewhere": foreign_safetensors,
    "damaged config metadata": damaged_config,
    "a directory": a_directory,
}
COMMANDS = {
    "evaluate": ["evaluate", "{run}", "--lengths", "2", "--samples", "4"],
    "add": ["add", "{run}", "5", "6"],
    "plot": ["plot", "{run}"],
    "resume": ["train", "--resume", "{run}"],
}


def run_command(command: str, run: Path, capsys) -> tuple[int, list[str]]:
    argv = [part.replace("{run}", str(run)) for part in COMMANDS[command]]
    code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.strip().splitlines()


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("command", COMMANDS)
def test_a_damaged_checkpoint_is_one_line_and_left_alone(
    pristine, tmp_path, capsys, fault, command
) -> None:
    run = tmp_path / "run"
    shutil.copytree(pristine, run)
    FAULTS[fault](run / "checkpoint.safetensors")
    before = sorted((p.name, p.stat().st_size) for p in run.iterdir())

    code, err = run_command(command, run, capsys)
    assert code == 1
    assert len(err) == 1 and err[0].startswith("binadd: error:")
    assert "checkpoint" in err[0]
    assert sorted((p.name, p.stat().st_size) for p in run.iterdir()) == before


@pytest.mark.parametrize("wrap", ["pickle", "torch.save"])
def test_a_malicious_pickle_is_never_executed(tmp_path, capsys, wrap) -> None:
    # First show that the payload is live: unpickling it does create a marker.
    proof = tmp_path / "proof"
    pickle.loads(pickle.dumps(Payload(proof)))
    assert proof.exists()

    marker = tmp_path / "pwned"
    run = make_run(tmp_path / "run").path
    checkpoint = run / "checkpoint.safetensors"
    if wrap == "pickle":
        checkpoint.write_bytes(pickle.dumps(Payload(marker)))
    else:
        torch.save({"model": Payload(marker)}, checkpoint)
    for command in COMMANDS:
        code, err = run_command(command, run, capsys)
        assert code == 1 and len(err) == 1
    with pytest.raises(CheckpointError):
        load_checkpoint(checkpoint)
    assert not marker.exists()


def checkpoint_with(run: RunDir, **changes) -> None:
    """Rewrite a run's checkpoint with some of its parts replaced."""
    checkpoint = run.load_checkpoint()
    for name, value in changes.items():
        setattr(checkpoint, name, value)
    run.save_checkpoint(checkpoint)
    if "config" in changes:  # A forged pair: config.json agrees, tensors do not.
        run.write_config(changes["config"])


def test_tensors_of_another_size_than_the_config_says(tmp_path, capsys) -> None:
    run = make_run(tmp_path / "run", hidden_size=7)
    checkpoint_with(run, config=build_config(options={**TINY, "hidden_size": 5}))
    for command in COMMANDS:
        code, err = run_command(command, run.path, capsys)
        if command != "plot":  # Plotting reads files, never the weights.
            assert code == 1 and len(err) == 1
            assert "does not fit" in err[0] or "do not fit" in err[0]


def test_tensors_of_another_model_kind(tmp_path, capsys) -> None:
    run = make_run(tmp_path / "run", model="lstm")
    checkpoint_with(run, config=build_config(options={**TINY, "model": "gru"}))
    for command in ("evaluate", "add", "resume"):
        code, err = run_command(command, run.path, capsys)
        assert code == 1 and len(err) == 1 and "fit" in err[0]


def test_a_history_that_disagrees_with_the_epoch(tmp_path, capsys) -> None:
    run = make_run(tmp_path / "run")
    checkpoint_with(run, epoch=5)
    code, err = run_command("resume", run.path, capsys)
    assert code == 1 and "history" in err[0]


def test_optimizer_state_of_the_wrong_shape(tmp_path, capsys) -> None:
    run = make_run(tmp_path / "run")
    checkpoint = run.load_checkpoint()
    assert checkpoint.optimizer_state is not None
    state = checkpoint.optimizer_state["state"][0]
    state["exp_avg"] = torch.zeros(3, 3)
    run.save_checkpoint(checkpoint)
    code, err = run_command("resume", run.path, capsys)
    assert code == 1 and "optimizer exp_avg" in err[0]


def test_a_generator_state_from_another_device(tmp_path, capsys) -> None:
    run = make_run(tmp_path / "run")
    checkpoint_with(run, rng_state=torch.zeros(16, dtype=torch.uint8))
    code, err = run_command("resume", run.path, capsys)
    assert code == 1 and len(err) == 1


def test_a_checkpoint_from_a_cuda_run_resumes_only_on_cuda(tmp_path, capsys) -> None:
    run = make_run(tmp_path / "run")
    checkpoint_with(run, extra={"device": "cuda"})
    code, err = run_command("resume", run.path, capsys)
    assert code == 2 and len(err) == 1 and "cuda" in err[0]


def test_a_missing_checkpoint(tmp_path, capsys) -> None:
    run = make_run(tmp_path / "run")
    run.checkpoint_path.unlink()
    for command in ("evaluate", "add", "plot"):
        code, err = run_command(command, run.path, capsys)
        assert code == 1 and err == [
            f"binadd: error: {run.path} holds no checkpoint.safetensors"
        ]


def test_a_damaged_config_json_on_resume(tmp_path, capsys) -> None:
    run = make_run(tmp_path / "run")
    run.checkpoint_path.unlink()
    run.config_path.write_text(json.dumps({"task": {"n_bits": -1}}))
    code, err = run_command("resume", run.path, capsys)
    assert code == 2 and len(err) == 1 and "n_bits" in err[0]
    run.config_path.write_text("{truncated")
    code, err = run_command("resume", run.path, capsys)
    assert code == 1 and len(err) == 1 and "config.json" in err[0]


def test_the_checksum_is_written_and_checked(pristine: Path) -> None:
    checkpoint = load_checkpoint(pristine / "checkpoint.safetensors")
    assert checkpoint.epoch == 1
    blob = (pristine / "checkpoint.safetensors").read_bytes()
    header = json.loads(blob[8 : data_start(blob)])
    assert len(header["__metadata__"]["sha256"]) == 64


def test_no_module_loads_with_pickle() -> None:
    source = Path(__file__).resolve().parents[1] / "src" / "binadd"
    for path in source.glob("*.py"):
        text = path.read_text()
        assert "torch.load(" not in text and "import pickle" not in text, path


def test_a_checkpoint_copied_from_another_run_is_refused(tmp_path, capsys) -> None:
    run = make_run(tmp_path / "run", model="rnn")
    other = make_run(tmp_path / "other", model="lstm")
    before = run.config_path.read_bytes()
    shutil.copy(other.checkpoint_path, run.checkpoint_path)
    for command in ("evaluate", "add", "resume", "plot"):
        code, err = run_command(command, run.path, capsys)
        assert code == 1 and len(err) == 1 and "does not belong" in err[0], command
    assert run.config_path.read_bytes() == before
