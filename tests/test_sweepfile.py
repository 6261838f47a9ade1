"""Sweep files: validation with one-line errors, and the trials they expand to."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from binadd.errors import UsageError
from binadd.sweeps.spec import load_sweep, parse_seeds, parse_sweep
from sweep_fixtures import TINY_SWEEP, tiny_sweep


def _parse(text: str):
    return parse_sweep(tomllib.loads(text), "s", "s.toml")


def test_tiny_sweep_expands_to_configs_times_seeds():
    sweep = tiny_sweep()
    trials = sweep.trials()
    assert [t.trial_id for t in trials] == [
        "c00-s000",
        "c00-s001",
        "c01-s000",
        "c01-s001",
    ]
    assert [t.label for t in trials] == ["lr=0.01"] * 2 + ["lr=0.001"] * 2
    assert [t.config.train.seed for t in trials] == [0, 1, 0, 1]
    assert {t.config.train.lr for t in trials} == {0.01, 0.001}
    first = trials[0].config
    assert first.task.n_bits == 3 and first.train.epochs == 1
    assert first.device == "cpu"


def test_trials_always_evaluate_at_train_width_and_ten_times_it():
    config = tiny_sweep().trials()[0].config
    assert config.eval.eval_lengths == (1, 2, 3, 30)
    wide = tiny_sweep(TINY_SWEEP.replace('eval_lengths = "1-3"', "eval_lengths = 1"))
    assert wide.trials()[0].config.eval.eval_lengths == (1, 3, 30)


def test_grid_is_a_product_in_file_order():
    sweep = _parse(
        'seeds = [5, 7]\n[grid]\nloss = ["bce", "mse"]\nhidden_size = [2, 3]'
    )
    labels = [label for label, _ in sweep.configs()]
    assert labels == [
        "loss=bce, hidden_size=2",
        "loss=bce, hidden_size=3",
        "loss=mse, hidden_size=2",
        "loss=mse, hidden_size=3",
    ]
    assert [t.seed for t in sweep.trials()][:2] == [5, 7]


def test_no_grid_is_one_configuration():
    sweep = _parse("seeds = 3\n[base]\nhidden_size = 4")
    assert [label for label, _ in sweep.configs()] == ["base"]
    assert len(sweep.trials()) == 3


def test_sectioned_keys_in_base_and_grid():
    sweep = _parse("seeds = 1\n[base.model]\nhidden_size = 4\n[grid.train]\nlr = [0.1]")
    config = sweep.trials()[0].config
    assert config.model.hidden_size == 4 and config.train.lr == 0.1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("seed = 3", "unknown key 'seed' (did you mean 'seeds'?)"),
        ("seeds = 2\n[grid]\nhiden_size = [2]", "did you mean 'hidden_size'?"),
        ("seeds = 2\n[base]\nlosss = 'mse'", "did you mean 'loss'?"),
        ("seeds = 2\n[grid]\nloss = []", "loss must be a non-empty list"),
        ("seeds = 2\n[grid]\nloss = 'mse'", "loss must be a non-empty list"),
        ("seeds = 2\n[grid]\nloss = ['mse', 'mse']", "lists a value twice"),
        ("seeds = 2\n[grid]\nhidden_size = [2, 0]", "hidden_size: must be"),
        ("seeds = 2\n[grid]\nseed = [1, 2]", "seed is set by 'seeds'"),
        ("seeds = 2\n[base]\nseed = 1", "seed is set by 'seeds'"),
        ("seeds = 2\ngrid = 3", "[grid] must be a table"),
        ("seeds = 2\npreset = 'nope'", "preset 'nope' is not one of"),
        ("seeds = 2\nname = ''", "name must be a non-empty string"),
        ("[grid]\nloss = ['mse']", "seeds is missing"),
    ],
)
def test_bad_sweep_files_are_one_line_usage_errors(text, message):
    with pytest.raises(UsageError) as error:
        _parse(text)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "name",
    [
        "../../x",
        "a/b",
        "a\\\\b",
        "..",
        ".hidden",
        "a..b",
        "sp ace",
        "é",
        "x\\n",
    ],
)
def test_a_sweep_name_that_is_no_plain_file_name_is_refused(name):
    with pytest.raises(UsageError) as error:
        _parse(f'seeds = 1\nname = "{name}"')
    message = str(error.value)
    assert "may hold only letters, digits" in message and "\n" not in message


@pytest.mark.parametrize("name", ["loss", "lr-0.01_v2", "A.b", "_x", "-y"])
def test_plain_sweep_names_are_kept(name):
    assert _parse(f'seeds = 1\nname = "{name}"').name == name


def test_a_default_name_from_an_odd_file_stem_says_to_set_name(tmp_path: Path):
    path = tmp_path / "my sweep.toml"
    path.write_text("seeds = 1\n", encoding="utf-8")
    with pytest.raises(UsageError, match="file's stem; set name"):
        load_sweep(path)


@pytest.mark.parametrize("seeds", [0, -1, True, [], [1, 1], [-2], ["a"], 1.5, 10**6])
def test_bad_seeds(seeds):
    with pytest.raises(UsageError, match="seeds"):
        parse_seeds(seeds, "s.toml")


def test_seeds_as_count_or_list():
    assert parse_seeds(3, "s") == (0, 1, 2)
    assert parse_seeds([9, 4], "s") == (9, 4)


def test_load_sweep_file_errors(tmp_path: Path):
    with pytest.raises(UsageError, match="not found"):
        load_sweep(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("seeds = [", encoding="utf-8")
    with pytest.raises(UsageError, match="not valid TOML"):
        load_sweep(bad)
    good = tmp_path / "good.toml"
    good.write_text(TINY_SWEEP.replace('name = "tiny"\n', ""), encoding="utf-8")
    assert load_sweep(good).name == "good"
