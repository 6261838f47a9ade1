"""Bad input through the command line: one line, the right exit code, no loss."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
import torch

import binadd.files
import binadd.rundir
from binadd.cli import main
from binadd.errors import UsageError
from binadd.rundir import RunDir

TINY = [
    "--epochs",
    "3",
    "--steps-per-epoch",
    "2",
    "--test-batches",
    "1",
    "--batch-size",
    "4",
    "--eval-lengths",
    "1-2",
    "--eval-samples",
    "4",
]


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("binadd: error: ")
    return lines[0]


# (TOML text, words the message must hold): each a usage error, exit code 2.
BAD_CONFIGS = [
    ("n_bit = 5", ["unknown key 'n_bit'", "did you mean 'n_bits'"]),
    ("[model]\nhiden_size = 5", ["'hiden_size'", "[model]", "'hidden_size'"]),
    ("[trian]\nlr = 0.1", ["unknown key 'trian'", "did you mean 'train'"]),
    ("task = 5", ["task", "must be a table"]),
    ('n_bits = "10"', ["n_bits", "'10'"]),
    ('lr = "fast"', ["lr", "'fast'"]),
    ("lr = true", ["lr", "True"]),
    ("batch_size = 1.5", ["batch_size", "1.5"]),
    ('[model]\nbidirectional = "yes"', ["bidirectional"]),
    ("[model]\ndropout = true", ["dropout"]),
    ("n_bits = 0", ["n_bits", "0"]),
    ("hidden_size = -3", ["hidden_size", "-3"]),
    ("lr = 0", ["lr", "0"]),
    ("lr = -1e-3", ["lr"]),
    ("lr = nan", ["lr", "nan"]),
    ("lr = inf", ["lr", "inf"]),
    ("lr = 1e300", ["lr", "at most"]),
    ("epochs = 0", ["epochs"]),
    ("seed = -1", ["seed", "-1"]),
    ("n_bits = 2000000000", ["n_bits", "at most"]),
    ("hidden_size = 100000", ["hidden_size", "at most"]),
    ("n_bits = 100\nbatch_size = 1000000", ["batch_size", "bit steps"]),
    ("n_bits = 100000\ntest_batches = 1000", ["test_batches", "held-out"]),
    ("eval_lengths = []", ["eval_lengths", "at least one width"]),
    ('eval_lengths = ""', ["lengths", "cannot read"]),
    ("eval_lengths = 1.5", ["eval_lengths", "list of widths"]),
    ("train_lengths = [0]", ["train_lengths", "0"]),
    ("train_lengths = [[1]]", ["train_lengths"]),
    ("train_lengths = {a = 1}", ["train_lengths"]),
    ('train_lengths = "40-1"', ["lengths", "bad range"]),
    ('device = "tpu"', ["device", "'tpu'"]),
    ('model = "lstmm"', ["model", "'lstmm'"]),
    ("n_bits = ", ["not valid TOML"]),
    ("[[task]]\nn_bits = 3", ["task", "must be a table"]),
    ("n_bits = 3\n[task]\nn_bits = 4", ["n_bits", "set twice", "[task] n_bits"]),
]


@pytest.mark.parametrize(("text", "words"), BAD_CONFIGS)
def test_a_bad_config_file_is_one_line_naming_the_field(
    tmp_path, capsys, text, words
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n")
    out = tmp_path / "run"
    assert main(["train", "--config", str(path), *TINY, "--out", str(out)]) == 2
    message = one_line(capsys)
    for word in words:
        assert word in message
    assert not out.exists()


@pytest.mark.parametrize(
    "content", [None, "directory", b"\xff\xfe\x00garbage", b"\x00" * 10]
)
def test_an_unreadable_config_file(tmp_path, capsys, content) -> None:
    path = tmp_path / "config.toml"
    if content == "directory":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    assert main(["train", "--config", str(path), *TINY]) == 2
    assert str(path) in one_line(capsys)


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--seed", str(10**30)],
        ["train", "--eval-seed", "-4"],
        ["train", "--n-bits", "-1"],
        ["train", "--n-bits", "ten"],
        ["train", "--train-lengths", ""],
        ["train", "--eval-lengths", "1,,2"],
        ["train", "--eval-lengths", "1e99"],
        ["train", "--lr", "1e999"],
        ["train", "--threads", "0"],
        ["train", "--threads", str(2**40)],
        ["train", "--device", "tpu"],
        ["train", "--no-such-option"],
        ["evaluate"],
        ["add", "run-dir", "1"],
        [],
    ],
)
def test_bad_options_are_usage_errors(argv, capsys) -> None:
    assert main(argv) == 2
    one_line(capsys)


def test_cuda_asked_for_but_absent(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "run"
    assert main(["train", *TINY, "--device", "cuda", "--out", str(out)]) == 2
    assert "no CUDA device" in one_line(capsys)
    assert not out.exists()


def test_debug_shows_the_traceback(capsys) -> None:
    with pytest.raises(UsageError):
        main(["train", "--n-bits", "0", "--debug"])


def test_out_is_a_file(tmp_path, capsys) -> None:
    out = tmp_path / "file"
    out.write_text("mine")
    assert main(["train", *TINY, "--out", str(out)]) == 2
    assert "not a directory" in one_line(capsys)
    assert out.read_text() == "mine"


def test_out_below_a_file(tmp_path, capsys) -> None:
    (tmp_path / "file").write_text("mine")
    assert main(["train", *TINY, "--out", str(tmp_path / "file" / "run")]) == 2
    assert "cannot create" in one_line(capsys)


def test_out_in_a_read_only_place(tmp_path, capsys, monkeypatch) -> None:
    """A read-only file system, simulated: the probe write is refused."""

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(binadd.rundir.tempfile, "TemporaryFile", refuse)
    assert main(["train", *TINY, "--out", str(tmp_path / "run")]) == 2
    assert "Read-only file system" in one_line(capsys)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_out_in_a_directory_without_write_permission(tmp_path, capsys) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["train", *TINY, "--out", str(locked)]) == 2
        assert "cannot write" in one_line(capsys)
    finally:
        locked.chmod(0o700)


def test_disk_full_mid_run_keeps_the_last_checkpoint(
    tmp_path, capsys, monkeypatch
) -> None:
    real_replace, calls = os.replace, {"n": 0}

    def replace(source, target):
        calls["n"] += 1
        if calls["n"] > 5:  # config, then two epochs of checkpoint + metrics
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_replace(source, target)

    monkeypatch.setattr(binadd.files.os, "replace", replace)
    out = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(out)]) == 1
    message = one_line(capsys)
    assert "checkpoint.safetensors: No space left on device" in message
    assert RunDir(out).load_checkpoint().epoch == 2
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def test_a_damaged_lengths_csv_keeps_the_new_evaluation(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(out)]) == 0
    (out / "lengths.csv").write_text("nonsense\n1,2,3\n")
    capsys.readouterr()
    assert main(["evaluate", str(out), "--lengths", "3", "--samples", "4"]) == 1
    assert "lengths.csv is damaged" in one_line(capsys)
    assert len((out / "evaluations.jsonl").read_text().splitlines()) == 2


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bad-input") / "run"
    assert main(["train", *TINY, "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize(
    "operand", ["", " ", "-5", "+5", "12a", "0x", "0b", "0b102", "1.5", "1e3", "0x-1"]
)
@pytest.mark.parametrize("position", [0, 1])
def test_add_rejects_malformed_numbers_naming_them(
    trained, capsys, operand, position
) -> None:
    operands = ["7", "7"]
    operands[position] = operand
    assert main(["add", str(trained), *operands]) == 2
    message = one_line(capsys)
    assert f"operand {'AB'[position]}" in message


@pytest.mark.parametrize(
    "argv", [["--samples", "0"], ["--lengths", "0"], ["--lengths", "x"]]
)
def test_bad_evaluate_options(trained, capsys, argv) -> None:
    assert main(["evaluate", str(trained), *argv]) == 2
    one_line(capsys)


@pytest.mark.parametrize("seed", ["-1", str(10**24), str(2**64 - 1), str(2**63)])
def test_evaluate_refuses_a_seed_the_config_would_refuse(trained, capsys, seed) -> None:
    assert main(["evaluate", str(trained), "--seed", seed]) == 2
    message = one_line(capsys)
    assert "--seed" in message and "0 to 2**63 - 1" in message and seed in message


def test_evaluate_takes_the_largest_seed(trained) -> None:
    argv = ["evaluate", str(trained), "--seed", str(2**63 - 1), "--lengths", "1"]
    assert main([*argv, "--samples", "2"]) == 0


@pytest.mark.parametrize("flag", ["--chunk-size", "--bit-budget"])
@pytest.mark.parametrize("value", ["100000000000", "1e10", "0"])
def test_evaluate_counts_state_their_range(trained, capsys, flag, value) -> None:
    assert main(["evaluate", str(trained), flag, value]) == 2
    message = one_line(capsys)
    assert flag in message and "from 1 to 1000000000" in message


def test_add_with_a_missing_run(tmp_path, capsys) -> None:
    assert main(["add", str(tmp_path / "none"), "1", "2"]) == 2
    one_line(capsys)
