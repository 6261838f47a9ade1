"""The command line, in-process, on tiny budgets."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from binadd.cli import main

TINY = [
    "--epochs",
    "2",
    "--steps-per-epoch",
    "5",
    "--test-batches",
    "2",
    "--batch-size",
    "16",
    "--eval-lengths",
    "1-4,12",
    "--eval-samples",
    "20",
]
RUN_FILES = [
    "config.json",
    "metrics.csv",
    "lengths.csv",
    "evaluations.jsonl",
    "checkpoint.safetensors",
    "curves.png",
    "lengths.png",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", *TINY, "--out", str(out)]) == 0
    return out


def test_train_leaves_every_file(trained: Path) -> None:
    for name in RUN_FILES:
        assert (trained / name).is_file(), name
    rows = list(csv.DictReader((trained / "metrics.csv").open()))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    widths = {row["n_bits"] for row in csv.DictReader((trained / "lengths.csv").open())}
    assert widths == {"1", "2", "3", "4", "12"}
    assert (trained / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_same_seed_same_numbers(trained: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    assert main(["train", *TINY, "--out", str(again)]) == 0
    for name in ("metrics.csv", "lengths.csv"):
        first = [
            {k: v for k, v in row.items() if k != "seconds"}
            for row in csv.DictReader((trained / name).open())
        ]
        second = [
            {k: v for k, v in row.items() if k != "seconds"}
            for row in csv.DictReader((again / name).open())
        ]
        assert first == second


def test_evaluate_json_is_one_object(trained: Path, capsys) -> None:
    assert (
        main(
            ["evaluate", str(trained), "--lengths", "5,6", "--samples", "10", "--json"]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert [row["n_bits"] for row in result["widths"]] == [5, 6]


def test_add_json(trained: Path, capsys) -> None:
    assert main(["add", str(trained), "0b1011", "0x1f", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["true_sum"] == str(11 + 31)  # strings: sums may be huge
    assert result["agree"] == (result["network_sum"] == "42")


def test_plot_redraws(trained: Path) -> None:
    (trained / "curves.png").unlink()
    assert main(["plot", str(trained)]) == 0
    assert (trained / "curves.png").is_file()


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--n-bits", "0"],
        ["train", "--lr", "abc"],
        ["train", "--loss", "x"],
        ["evaluate", "/nonexistent/run"],
        ["add", "/nonexistent/run", "1", "2"],
        ["frobnicate"],
        ["train", "--eval-lengths", "3-1"],
    ],
)
def test_bad_input_is_one_line_with_exit_2(argv: list[str], capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("binadd: error:")


@pytest.mark.parametrize("operand", ["", "-5", "12a", "0x", "0b102", "1.5"])
def test_add_rejects_malformed_operands(trained: Path, operand: str, capsys) -> None:
    assert main(["add", str(trained), operand, "1"]) == 2
    assert "operand A" in capsys.readouterr().err


def test_refuses_to_overwrite_a_run(trained: Path, capsys) -> None:
    before = (trained / "metrics.csv").read_bytes()
    assert main(["train", *TINY, "--out", str(trained)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (trained / "metrics.csv").read_bytes() == before


def test_force_starts_a_clean_run(trained: Path, tmp_path: Path) -> None:
    run = tmp_path / "forced"
    shutil.copytree(trained, run)
    (run / "certificate.json").write_text("{}")
    (run / "notes.txt").write_text("mine")
    assert main(["evaluate", str(run), "--lengths", "30", "--samples", "5"]) == 0
    assert (
        main(["train", *TINY, "--eval-lengths", "3", "--out", str(run), "--force"]) == 0
    )
    widths = {row["n_bits"] for row in csv.DictReader((run / "lengths.csv").open())}
    assert widths == {"3"}
    assert len((run / "evaluations.jsonl").read_text().splitlines()) == 1
    assert not (run / "certificate.json").exists()
    assert (run / "notes.txt").read_text() == "mine"


def test_an_empty_out_is_refused(capsys) -> None:
    assert main(["train", *TINY, "--out", "", "--force"]) == 2
    assert "empty" in capsys.readouterr().err


def test_evaluations_record_their_settings(trained: Path, tmp_path: Path) -> None:
    run = tmp_path / "settings"
    shutil.copytree(trained, run)
    assert (
        main(
            [
                "evaluate",
                str(run),
                "--lengths",
                "7",
                "--samples",
                "9",
                "--seed",
                "5",
                "--chunk-size",
                "3",
            ]
        )
        == 0
    )
    entry = json.loads((run / "evaluations.jsonl").read_text().splitlines()[-1])
    assert (entry["seed"], entry["samples"], entry["chunk_size"]) == (5, 9, 3)
    assert entry["records"][0]["n_bits"] == 7
