"""Config building, TOML files and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from binadd.config import Config
from binadd.configure import (
    build_config,
    config_from_dict,
    parse_lengths,
    updates_from_mapping,
)
from binadd.errors import ConfigError


def test_defaults_round_trip_through_a_dict() -> None:
    config = Config()
    assert config_from_dict(config.to_dict()) == config


def test_toml_sections_and_flat_keys(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text('n_bits = 12\nmodel = "gru"\n[train]\nlr = 0.01\nloss = "mse"\n')
    config = build_config(path=path, options={"lr": 0.02})
    assert config.task.n_bits == 12
    assert config.model.kind == "gru"
    assert config.train.loss == "mse"
    assert config.train.lr == 0.02  # options override the file


def test_unknown_key_suggests_the_nearest(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("hiden_size = 3\n")
    with pytest.raises(ConfigError, match="did you mean 'hidden_size'"):
        build_config(path=path)
    path.write_text("[train]\nepochz = 3\n")
    with pytest.raises(ConfigError, match="did you mean 'epochs'"):
        build_config(path=path)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("n_bits", 0),
        ("hidden_size", -1),
        ("lr", 0.0),
        ("lr", float("nan")),
        ("loss", "hinge"),
        ("batch_size", 2.5),
        ("eval_lengths", ()),
        ("epochs", True),
    ],
)
def test_invalid_values_name_the_field(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=key.split("_")[0]):
        build_config(options={key: value})


def test_parse_lengths() -> None:
    assert parse_lengths("1-3,10,1e3") == (1, 2, 3, 10, 1000)
    assert parse_lengths("5,5,2") == (5, 2)
    for bad in ("", "a", "3-1", "1-", "-2", "1e40", "0", "1e10", "99999999999999"):
        with pytest.raises(ConfigError):
            parse_lengths(bad)


def test_the_solved_check_refuses_huge_default_widths() -> None:
    with pytest.raises(ConfigError, match="until_solved"):
        build_config(options={"n_bits": 60_000, "batch_size": 1, "test_batches": 1})
    config = build_config(
        options={
            "n_bits": 60_000,
            "batch_size": 1,
            "test_batches": 1,
            "until_solved": False,
        }
    )
    assert config.task.n_bits == 60_000


@pytest.mark.parametrize(
    ("data", "places"),
    [
        ({"n_bits": 3, "task": {"n_bits": 4}}, "as n_bits and as [task] n_bits"),
        ({"task": {"n_bits": 4}, "n_bits": 3}, "as [task] n_bits and as n_bits"),
        ({"train": {"seed": 1}, "seed": 2}, "as [train] seed and as seed"),
    ],
)
def test_a_key_set_flat_and_in_its_section_is_refused(
    data: dict[str, object], places: str
) -> None:
    with pytest.raises(ConfigError) as error:
        updates_from_mapping(data, "run.toml")
    message = str(error.value)
    assert "set twice in run.toml" in message and places in message
    assert "\n" not in message


def test_model_alias_and_kind_resolve_once() -> None:
    assert updates_from_mapping({"model": "gru"}, "x") == {"model": "gru"}
    assert updates_from_mapping({"model": {"kind": "gru"}}, "x") == {"model": "gru"}
