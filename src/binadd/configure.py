"""Building a config: defaults, then a preset, a TOML file, then options.

A :class:`~binadd.config.Config` is built in one place, :func:`build_config`,
from, in order of precedence: the command-line options, a TOML file, a preset,
and the defaults. Every value is validated when its dataclass is built.

A TOML file may use sections or flat keys; each flat key names one field::

    [task]
    n_bits = 10

    [model]
    kind = "lstm"      # or, flat: model = "lstm"
    hidden_size = 5

    [train]
    loss = "bce"
    lr = 0.001
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

from binadd.config import (
    MAX_LENGTH,
    Config,
    EvalConfig,
    ModelConfig,
    TaskConfig,
    TrainConfig,
)
from binadd.errors import ConfigError

SECTIONS: dict[str, type] = {
    "task": TaskConfig,
    "model": ModelConfig,
    "train": TrainConfig,
    "eval": EvalConfig,
}
# Flat keys that differ from their field's name.
ALIASES = {"model": ("model", "kind")}
PRESETS: dict[str, dict[str, Any]] = {
    # The original study's recipe, spelled out so that it survives new defaults.
    "notebook": {
        "n_bits": 10,
        "train_lengths": (),
        "operands": 2,
        "bit_order": "lsb",
        "layout": "parallel",
        "model": "lstm",
        "hidden_size": 5,
        "num_layers": 1,
        "dropout": 0.0,
        "bidirectional": False,
        "loss": "bce",
        "lr": 0.001,
        "batch_size": 100,
        "epochs": 10,
        "steps_per_epoch": 250,
        "test_batches": 40,
        "grad_clip": 0.0,
        "lr_schedule": "constant",
        "warmup_steps": 0,
        "until_solved": False,
    },
    # In the spirit of 'Neural Networks and the Chomsky Hierarchy': operands one
    # after the other, widths 1-40 drawn per batch, scored out to 500 bits, by
    # an LSTM trained with Adam for the whole budget. Its model and training
    # values are spelled out so that it does not follow the default recipe.
    "chomsky": {
        "layout": "sequential",
        "n_bits": 40,
        "train_lengths": tuple(range(1, 41)),
        "model": "lstm",
        "hidden_size": 256,
        "num_layers": 1,
        "lr": 0.001,
        "grad_clip": 1.0,
        "lr_schedule": "constant",
        "until_solved": False,
        "batch_size": 128,
        "epochs": 10,
        "steps_per_epoch": 1000,
        "eval_lengths": (*range(1, 41), *range(50, 501, 10)),
        "eval_samples": 200,
    },
    # The classic numpy tutorial's network: a plain RNN, 16 units, 8-bit operands,
    # trained with the recipe of docs/readme-recipe.md, stated here in full.
    "tiny-rnn": {
        "n_bits": 8,
        "model": "rnn",
        "hidden_size": 16,
        "lr": 0.03,
        "grad_clip": 1.0,
        "until_solved": True,
    },
}


def _flat_keys() -> dict[str, tuple[str, str]]:
    """Map each flat key to its (section, field)."""
    keys = {f.name: (s, f.name) for s, cls in SECTIONS.items() for f in fields(cls)}
    del keys["kind"]
    keys.update(ALIASES)
    keys["device"] = ("", "device")
    return keys


FLAT_KEYS = _flat_keys()


def _unknown(key: str, where: str, known: list[str]) -> ConfigError:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"unknown key {key!r} in {where}{hint}")


def parse_lengths(text: str) -> tuple[int, ...]:
    """Parse widths like ``1-20,50,1e4``: ranges, single values, powers of ten."""
    widths: list[int] = []
    for part in text.replace(" ", "").split(","):
        match = re.fullmatch(r"(\d+(?:e\d+)?)(?:-(\d+(?:e\d+)?))?", part, re.I)
        if not match:
            raise ConfigError(f"lengths: cannot read {part!r} in {text!r}")
        low = _width(match.group(1))
        high = _width(match.group(2)) if match.group(2) else low
        if high < low or high - low > 100_000:
            raise ConfigError(f"lengths: bad range {part!r}")
        widths.extend(range(low, high + 1))
    return tuple(dict.fromkeys(widths))


def _width(text: str) -> int:
    mantissa, _, exponent = text.lower().partition("e")
    mantissa = mantissa.lstrip("0") or "0"
    width = int(mantissa[:12]) * 10 ** min(int(exponent or 0), 99)
    if len(mantissa) > 12 or not 1 <= width <= MAX_LENGTH:
        raise ConfigError(f"lengths: {text!r} is not a width from 1 to {MAX_LENGTH}")
    return width


def _coerce(section: str, name: str, value: Any) -> Any:
    """Turn TOML or option values into the field's type where that is lossless."""
    if name in ("train_lengths", "eval_lengths", "solve_lengths"):
        if isinstance(value, str):
            return parse_lengths(value)
        if isinstance(value, list | tuple):
            return tuple(value)
        if isinstance(value, int):
            return (value,)
    if (
        name in ("lr", "dropout", "grad_clip")
        and isinstance(value, int)
        and value is not True
    ):
        return float(value)
    return value


def updates_from_mapping(data: dict[str, Any], where: str) -> dict[str, Any]:
    """Flat updates from a mapping in the TOML file's form (flat keys or sections).

    Args:
        data: a mapping such as a parsed TOML table.
        where: names the source in error messages, e.g. ``"sweep.toml [base]"``.

    Returns:
        {flat key: value}, ready for :func:`apply_updates`.
    """
    flat: dict[str, Any] = {}
    places: dict[str, str] = {}
    for key, value in data.items():
        if key in SECTIONS and isinstance(value, dict):
            cls = SECTIONS[key]
            names = [f.name for f in fields(cls)]
            for name, item in value.items():
                if name not in names:
                    raise _unknown(name, f"{where} [{key}]", names)
                flat_key = _flat_name(key, name)
                _set_once(places, flat_key, f"[{key}] {name}", where)
                flat[flat_key] = item
        elif key in FLAT_KEYS:
            _set_once(places, key, key, where)
            flat[key] = value
        elif key in SECTIONS:
            raise ConfigError(f"{key} in {where} must be a table, like [{key}]")
        else:
            raise _unknown(key, where, [*FLAT_KEYS, *SECTIONS])
    return flat


def _set_once(places: dict[str, str], key: str, place: str, where: str) -> None:
    """Record where flat ``key`` was set; a second place is a one-line error."""
    if key in places:
        raise ConfigError(
            f"{key} is set twice in {where}: as {places[key]} and as {place}; keep one"
        )
    places[key] = place


def _flat_name(section: str, name: str) -> str:
    for flat, target in FLAT_KEYS.items():
        if target == (section, name):
            return flat
    raise ConfigError(f"no flat key for {section}.{name}")


def read_toml(path: str | Path, kind: str = "config file") -> dict[str, Any]:
    """Parse a TOML file; a missing, unreadable or invalid file is a one-line error.

    Args:
        path: the file.
        kind: what the file is, for the messages, e.g. ``"sweep file"``.

    Returns:
        The file's top-level table.
    """
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{kind} not found: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {kind} {path}: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file into flat updates."""
    return updates_from_mapping(read_toml(path), str(path))


def apply_updates(config: Config, updates: dict[str, Any]) -> Config:
    """Return a new config with flat updates applied, validated."""
    parts: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    top: dict[str, Any] = {}
    for key, value in updates.items():
        if key not in FLAT_KEYS:
            raise _unknown(key, "options", list(FLAT_KEYS))
        section, name = FLAT_KEYS[key]
        value = _coerce(section, name, value)
        if section:
            parts[section][name] = value
        else:
            top[name] = value
    try:
        changed = {
            section: dataclasses.replace(getattr(config, section), **values)
            for section, values in parts.items()
            if values
        }
        return dataclasses.replace(config, **changed, **top)
    except TypeError as error:
        raise ConfigError(f"bad config value: {error}") from None


def build_config(
    preset: str | None = None,
    path: str | Path | None = None,
    options: dict[str, Any] | None = None,
) -> Config:
    """Build a config: defaults, then a preset, a TOML file, then options."""
    config = Config()
    if preset is not None:
        if preset not in PRESETS:
            raise _unknown(preset, "presets", list(PRESETS))
        config = apply_updates(config, PRESETS[preset])
    if path is not None:
        config = apply_updates(config, load_toml(path))
    return apply_updates(config, options or {})


def config_from_dict(data: dict[str, Any]) -> Config:
    """Rebuild a config saved with :meth:`Config.to_dict`, validating it."""
    if not isinstance(data, dict):
        raise ConfigError("saved config is not a mapping")
    return apply_updates(Config(), updates_from_mapping(data, "saved config"))
