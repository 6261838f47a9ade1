"""Sweep files: a base config, a grid over config fields, and a list of seeds.

A sweep file is TOML. Its config keys have the same form as a config file's
(flat keys or ``[section]`` tables, see :mod:`binadd.configure`)::

    name = "loss"                    # optional; default: the file's stem
    description = "cross-entropy against squared error"
    preset = "notebook"              # optional named recipe
    seeds = 20                       # seeds 0-19; or a list, e.g. [0, 4, 7]

    [base]                           # optional: config keys for every trial
    n_bits = 10

    [grid]                           # each key: a non-empty list of values
    loss = ["bce", "mse"]

Each point of the grid (the product of its lists, keys in file order) is a
configuration, and each (configuration, seed) pair is a trial. Every trial's
config is built from the defaults, ``device = "cpu"``, the preset, the base,
the grid point and the seed, in that order, and evaluates at least at
``n_bits`` and ``10 * n_bits`` so that the report can judge generalization.
"""

from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from binadd.config import Config
from binadd.configure import (
    PRESETS,
    apply_updates,
    build_config,
    read_toml,
    updates_from_mapping,
)
from binadd.errors import ConfigError, UsageError

TOP_KEYS = ("name", "description", "preset", "seeds", "base", "grid")
# A sweep's name names its directory, runs/sweep-NAME: no path may hide in it.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
MAX_SEEDS = 100_000
# How far beyond the training width a trial is always evaluated.
GENERALIZATION_FACTOR = 10


@dataclass(frozen=True)
class Trial:
    """One (configuration, seed) pair of a sweep."""

    trial_id: str
    config_index: int
    label: str
    seed: int
    config: Config


@dataclass(frozen=True)
class Sweep:
    """A validated sweep file."""

    name: str
    description: str
    preset: str | None
    base: dict[str, Any]
    grid: dict[str, list[Any]]
    seeds: tuple[int, ...]

    def points(self) -> list[dict[str, Any]]:
        """The grid's points, each a mapping {flat key: value}, in file order."""
        keys = list(self.grid)
        return [
            dict(zip(keys, values, strict=True))
            for values in itertools.product(*self.grid.values())
        ]

    def configs(self) -> list[tuple[str, Config]]:
        """(label, config without its seed) for every grid point."""
        return [
            (point_label(point), self.point_config(point)) for point in self.points()
        ]

    def point_config(self, point: dict[str, Any]) -> Config:
        """The config of one grid point, evaluated at n_bits and 10 x n_bits."""
        where = point_label(point)
        try:
            config = build_config(self.preset, None, {"device": "cpu", **self.base})
            config = apply_updates(config, point)
        except ConfigError as error:
            raise ConfigError(
                f"sweep {self.name}, grid point {where}: {error}"
            ) from None
        return with_generalization_widths(config)

    def trials(self) -> list[Trial]:
        """Every (configuration, seed) pair, configurations first."""
        trials = []
        for index, (label, config) in enumerate(self.configs()):
            for seed in self.seeds:
                seeded = apply_updates(config, {"seed": seed})
                trial_id = f"c{index:02d}-s{seed:03d}"
                trials.append(Trial(trial_id, index, label, seed, seeded))
        return trials

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "preset": self.preset,
            "base": self.base,
            "grid": self.grid,
            "seeds": list(self.seeds),
        }


def point_label(point: dict[str, Any]) -> str:
    """A short readable name of a grid point, e.g. ``loss=mse, lr=0.01``."""
    if not point:
        return "base"
    return ", ".join(f"{key}={_short(value)}" for key, value in point.items())


def _short(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ",".join(str(item) for item in value) + "]"
    return str(value)


def with_generalization_widths(config: Config) -> Config:
    """Add ``n_bits`` and ``10 * n_bits`` to the config's evaluation widths."""
    n_bits = config.task.n_bits
    wanted = (n_bits, GENERALIZATION_FACTOR * n_bits)
    lengths = tuple(sorted(set(config.eval.eval_lengths) | set(wanted)))
    return apply_updates(config, {"eval_lengths": lengths})


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file; every fault is a one-line error."""
    path = Path(path)
    return parse_sweep(read_toml(path, "sweep file"), path.stem, str(path))


def parse_sweep(data: dict[str, Any], default_name: str, where: str) -> Sweep:
    """Validate a parsed sweep file (see the module docstring for its form)."""
    for key in data:
        if key not in TOP_KEYS:
            close = difflib.get_close_matches(key, TOP_KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UsageError(f"{where}: unknown key {key!r}{hint}")
    name = _name(data, default_name, where)
    preset = data.get("preset")
    if preset is not None and (not isinstance(preset, str) or preset not in PRESETS):
        choices = ", ".join(sorted(PRESETS))
        raise UsageError(f"{where}: preset {preset!r} is not one of {choices}")
    sweep = Sweep(
        name=name,
        description=_text(data, "description", "", where),
        preset=preset,
        base=_base(data.get("base", {}), where),
        grid=_grid(data.get("grid", {}), where),
        seeds=parse_seeds(data.get("seeds"), where),
    )
    sweep.configs()  # Validate every grid point now, before anything runs.
    return sweep


def _text(data: dict[str, Any], key: str, default: str, where: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or (key == "name" and not value.strip()):
        raise UsageError(f"{where}: {key} must be a non-empty string")
    return value


def _name(data: dict[str, Any], default: str, where: str) -> str:
    """The sweep's name: letters, digits, '.', '_', '-'; no leading '.', no '..'."""
    name = _text(data, "name", default, where)
    if NAME_PATTERN.fullmatch(name) and ".." not in name:
        return name
    source = "name" if "name" in data else "name (the file's stem; set name = ...)"
    raise UsageError(
        f"{where}: {source} {name!r} may hold only letters, digits, '.', '_' and"
        " '-', and may not start with '.' or hold '..'"
    )


def _table(value: Any, key: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UsageError(f"{where}: [{key}] must be a table of config keys")
    return value


def _no_seed(updates: dict[str, Any], where: str) -> None:
    if "seed" in updates:
        raise UsageError(f"{where}: seed is set by 'seeds', not as a config key")


def _base(value: Any, where: str) -> dict[str, Any]:
    updates = updates_from_mapping(_table(value, "base", where), f"{where} [base]")
    _no_seed(updates, f"{where} [base]")
    return updates


def _grid(value: Any, where: str) -> dict[str, list[Any]]:
    grid = updates_from_mapping(_table(value, "grid", where), f"{where} [grid]")
    _no_seed(grid, f"{where} [grid]")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise UsageError(
                f"{where} [grid]: {key} must be a non-empty list of values, "
                f"got {values!r}"
            )
        if len({repr(item) for item in values}) != len(values):
            raise UsageError(f"{where} [grid]: {key} lists a value twice")
    return grid


def parse_seeds(value: Any, where: str) -> tuple[int, ...]:
    """``seeds = N`` (seeds 0 to N-1) or a list of distinct integers >= 0."""
    if value is None:
        raise UsageError(f"{where}: seeds is missing (a count like 20, or a list)")
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= MAX_SEEDS:
            raise UsageError(f"{where}: seeds must be 1 to {MAX_SEEDS}, got {value}")
        return tuple(range(value))
    is_list = isinstance(value, list) and len(value) > 0
    if not is_list or not all(_seed_ok(seed) for seed in value):
        raise UsageError(
            f"{where}: seeds must be a count or a non-empty list of integers >= 0, "
            f"got {value!r}"
        )
    if len(set(value)) != len(value):
        raise UsageError(f"{where}: seeds lists a seed twice")
    return tuple(value)


def _seed_ok(seed: Any) -> bool:
    return isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0
