"""Every model trains, evaluates, adds and plots on every layout from the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from binadd import plots
from binadd.cli import main
from binadd.config import MODEL_KINDS
from binadd.rundir import RunDir

TINY = [
    "--n-bits", "3", "--hidden-size", "4", "--d-model", "8", "--num-heads", "2",
    "--batch-size", "8", "--epochs", "1", "--steps-per-epoch", "3",
    "--test-batches", "1", "--eval-lengths", "2,5", "--eval-samples", "8",
]  # fmt: skip
LAYOUTS = {
    "parallel": [],
    "msb": ["--bit-order", "msb"],
    "sequential": ["--layout", "sequential", "--train-lengths", "1-4"],
    "three": ["--operands", "3", "--layout", "sequential", "--bit-order", "msb"],
}


@pytest.fixture
def no_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip drawing (the slow part, and the same for every model)."""
    monkeypatch.setattr(plots, "plot_curves", lambda run: run.curves_path)
    monkeypatch.setattr(plots, "plot_lengths", lambda run, c: run.lengths_plot_path)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("model", MODEL_KINDS)
@pytest.mark.usefixtures("no_figures")
def test_every_model_trains_on_every_layout(
    model: str, layout: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    argv = ["train", *TINY, "--model", model, *LAYOUTS[layout], "--out", str(out)]
    assert main(argv) == 0
    config = RunDir.open(out).load_checkpoint().config
    assert (config.model.kind, config.task.layout) == (
        model,
        "sequential" if "sequential" in LAYOUTS[layout] else "parallel",
    )
    assert main(["evaluate", str(out), "--lengths", "7", "--samples", "4"]) == 0
    capsys.readouterr()
    if layout != "three":
        assert main(["add", str(out), "5", "0b1011", "--json"]) == 0
        result = json.loads(capsys.readouterr().out)
        assert (result["true_sum"], result["n_bits"]) == ("16", 4)


def test_bidirectional_is_a_flag_and_only_for_recurrent_models(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    argv = ["train", *TINY, "--bit-order", "msb", "--bidirectional", "--out", str(out)]
    assert main(argv) == 0
    assert RunDir.open(out).load_checkpoint().config.model.bidirectional
    assert main(["plot", str(out)]) == 0
    capsys.readouterr()
    argv = ["train", *TINY, "--model", "transformer", "--bidirectional"]
    assert main([*argv, "--out", str(tmp_path / "other")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "bidirectional" in error


@pytest.mark.usefixtures("no_figures")
def test_learned_positions_refuse_long_inputs_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    options = ["--model", "transformer", "--positions", "learned"]
    assert (
        main(["train", *TINY, *options, "--max-positions", "8", "--out", str(out)]) == 0
    )
    before = (out / "lengths.csv").read_text()
    capsys.readouterr()
    assert main(["evaluate", str(out), "--lengths", "20", "--samples", "4"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "cannot read 21 steps" in error and "at most 8 steps" in error
    assert (out / "lengths.csv").read_text() == before
