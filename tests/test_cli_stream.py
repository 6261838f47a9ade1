"""The command line at scale: `binadd add` and a streamed `binadd evaluate`."""

from __future__ import annotations

import io
import json
import random
import re
from pathlib import Path

import pytest
import torch

import binadd.evaluate
from binadd.checkpoint import Checkpoint
from binadd.cli import main
from binadd.config import Config
from binadd.models import build_model
from binadd.rundir import RunDir
from stream_oracle import OracleAdder


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A run directory holding an untrained two-operand LSTM."""
    run = RunDir.create(tmp_path / "run")
    config = Config()
    run.write_config(config)
    model = build_model(config.model, 2)
    run.save_checkpoint(Checkpoint(config=config, model_state=model.state_dict()))
    return run.path


@pytest.fixture
def oracle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every restored model an exact adder."""
    monkeypatch.setattr(binadd.evaluate, "restore_model", lambda *_: OracleAdder())


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    output = capsys.readouterr().out
    assert output.count("\n") == 1  # one JSON object, nothing else
    return json.loads(output)


@pytest.mark.parametrize(
    ("output", "expected"),
    [("dec", "1000"), ("bin", "0b1111101000"), ("hex", "0x3e8")],
)
def test_add_prints_sums_in_each_base(
    run_dir: Path,
    oracle: None,
    capsys: pytest.CaptureFixture[str],
    output: str,
    expected: str,
) -> None:
    assert main(["add", str(run_dir), "999", "0b1", "--output", output]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"network sum: {expected}",
        f"true sum:    {expected}",
        "agree:       yes",
    ]


def test_add_reads_files_and_stdin_at_a_million_bits(
    run_dir: Path,
    oracle: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rng = random.Random(4)
    a, b = rng.getrandbits(10**6), rng.getrandbits(10**6)
    (tmp_path / "a.txt").write_text(f"{a:#x}\n")
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{b:#b}"))
    args = ["add", str(run_dir), f"@{tmp_path / 'a.txt'}", "-"]
    assert main([*args, "--json", "--output", "hex"]) == 0
    result = _json(capsys)
    assert int(result["true_sum"], 16) == a + b
    assert result["network_sum"] == result["true_sum"]
    assert result["agree"] is True and result["first_wrong_bit"] is None
    assert result["n_bits"] == max(a.bit_length(), b.bit_length())


def test_add_reports_where_a_real_network_goes_wrong(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["add", str(run_dir), "123456789" * 40, "987654321", "--json"]) == 0
    result = _json(capsys)
    assert int(result["true_sum"]) == int("123456789" * 40) + 987654321
    network_ok = result["network_sum"] == result["true_sum"]
    assert result["agree"] is network_ok
    assert (result["first_wrong_bit"] is None) is network_ok


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        ("", "1", "operand A is empty"),
        ("1", "-3", "operand B is not a non-negative number"),
        ("0x", "1", "operand A has no digits"),
        ("12z", "1", "operand A is not"),
        ("@missing.txt", "1", "operand A: no file"),
        ("-", "-", "only one operand"),
    ],
)
def test_malformed_operands_exit_2_in_one_line(
    run_dir: Path, capsys: pytest.CaptureFixture[str], a: str, b: str, message: str
) -> None:
    assert main(["add", str(run_dir), a, b]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert message in error


def test_evaluate_streams_and_saves_its_summary(
    run_dir: Path, oracle: None, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["evaluate", str(run_dir), "--lengths", "1-3,2e5", "--samples", "50"]
    assert main([*args, "--bit-budget", "1e6", "--chunk-size", "4096", "--json"]) == 0
    result = _json(capsys)
    run = RunDir(run_dir)
    saved = json.loads(run.summary_path.read_text())
    assert result["summary"] == saved
    assert saved["horizon"] == 200_000
    assert saved["horizon_ratio"] == 200_000 / Config().task.n_bits
    wide = [r for r in result["records"] if r["n_bits"] == 200_000]
    assert wide[0]["samples"] == 5  # the bit budget, not --samples
    assert all(r["sequence_accuracy"] == 1.0 for r in wide)
    assert run.lengths_plot_path.is_file()


def test_evaluate_prints_the_summary(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["evaluate", str(run_dir), "--lengths", "1-4", "--samples", "20"]
    assert main(args) == 0
    output = capsys.readouterr().out
    assert re.search(r"^horizon .*: \d+ bits", output, re.M)
    assert "within the training width: 4 widths, 80 pairs" in output
    assert (RunDir(run_dir).path / "summary.json").is_file()
    assert main([*args, "--chunk-size", "0"]) == 2


def test_streamed_add_matches_whole_forward(run_dir: Path) -> None:
    checkpoint = RunDir(run_dir).load_checkpoint()
    model = binadd.evaluate.restore_model(checkpoint, torch.device("cpu"))
    bits = torch.randint(0, 2, (1, 2, 3000), dtype=torch.uint8)
    layout = binadd.evaluate.Layout()
    streamed = binadd.evaluate.predict_sums(
        model, layout, bits, torch.device("cpu"), 100
    )
    whole = layout.decode(model(layout.encode(bits).inputs)[0] > 0)
    assert torch.equal(streamed, whole)
