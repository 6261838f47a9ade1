"""The sweep database: one SQLite file holding every trial and its records.

Tables of ``sweep.db``::

    meta     key, value                       the sweep file (JSON) and version
    trials   one row per trial: trial_id, config_index, label, seed,
             config (JSON), status (pending, running, done, failed), error,
             traceback, run_dir, worker, started, finished, train_seconds,
             eval_seconds
    epochs   one row per (trial, epoch): the main metrics as columns, and the
             whole epoch record as JSON
    lengths  one row per (trial, width, case): accuracies as columns, and the
             whole evaluation record as JSON

Only the sweep's parent process writes, one transaction per trial result, in
WAL mode so that ``binadd report`` can read while a sweep runs.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from binadd.errors import BinaddError, UsageError
from binadd.sweeps.spec import Sweep, Trial

SCHEMA_VERSION = "1"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    trial_id TEXT PRIMARY KEY,
    config_index INTEGER NOT NULL,
    label TEXT NOT NULL,
    seed INTEGER NOT NULL,
    config TEXT NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('pending', 'running', 'done', 'failed')),
    error TEXT NOT NULL DEFAULT '',
    traceback TEXT NOT NULL DEFAULT '',
    run_dir TEXT NOT NULL DEFAULT '',
    worker TEXT NOT NULL DEFAULT '',
    started REAL,
    finished REAL,
    train_seconds REAL,
    eval_seconds REAL
);
CREATE TABLE IF NOT EXISTS epochs (
    trial_id TEXT NOT NULL REFERENCES trials (trial_id),
    epoch INTEGER NOT NULL,
    train_loss REAL,
    test_loss REAL,
    test_bit_accuracy REAL,
    test_sequence_accuracy REAL,
    record TEXT NOT NULL,
    PRIMARY KEY (trial_id, epoch)
);
CREATE TABLE IF NOT EXISTS lengths (
    trial_id TEXT NOT NULL REFERENCES trials (trial_id),
    n_bits INTEGER NOT NULL,
    "case" TEXT NOT NULL,
    samples INTEGER,
    bit_accuracy REAL,
    sequence_accuracy REAL,
    record TEXT NOT NULL,
    PRIMARY KEY (trial_id, n_bits, "case")
);
"""
DB_NAME = "sweep.db"


class Store:
    """A sweep directory's database."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection = connection
        self.path = path

    @classmethod
    def create(cls, sweep_dir: Path) -> Store:
        """Open the database of ``sweep_dir``, creating both if needed."""
        try:
            sweep_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UsageError(f"cannot create {sweep_dir}: {error.strerror}") from None
        store = cls._connect(sweep_dir / DB_NAME)
        try:
            with store.connection:
                store.connection.executescript(SCHEMA)
                store._set_meta("schema_version", SCHEMA_VERSION)
        except sqlite3.DatabaseError as error:
            raise BinaddError(
                f"{store.path} is not a sweep database ({error})"
            ) from None
        return store

    @classmethod
    def open(cls, sweep_dir: Path) -> Store:
        """Open an existing sweep directory's database for reading."""
        path = sweep_dir / DB_NAME
        if not path.is_file():
            raise UsageError(f"{sweep_dir} is not a sweep directory (no {DB_NAME})")
        store = cls._connect(path)
        if store.meta("schema_version") != SCHEMA_VERSION:
            raise BinaddError(f"{path} is not a binadd sweep database")
        return store

    @classmethod
    def _connect(cls, path: Path) -> Store:
        try:
            connection = sqlite3.connect(path, timeout=30)
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as error:
            raise BinaddError(f"cannot open {path}: {error}") from None
        return cls(connection, path)

    def close(self) -> None:
        self.connection.close()

    def meta(self, key: str) -> str | None:
        try:
            row = self.connection.execute(
                "SELECT value FROM meta WHERE key = ?", (key,)
            ).fetchone()
        except sqlite3.DatabaseError as error:
            raise BinaddError(
                f"{self.path} is not a sweep database ({error})"
            ) from None
        return None if row is None else str(row["value"])

    def _set_meta(self, key: str, value: str) -> None:
        self.connection.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value)
        )

    def save_sweep(self, sweep: Sweep) -> None:
        with self.connection:
            self._set_meta("sweep", json.dumps(sweep.to_dict()))

    def sweep(self) -> dict[str, Any]:
        """The sweep file last run into this directory, as a dict."""
        text = self.meta("sweep")
        return {} if text is None else dict(json.loads(text))

    def register(self, trials: Iterable[Trial], sweep_dir: Path) -> None:
        """Add new trials as pending; refuse a trial id whose config changed."""
        with self.connection:
            for trial in trials:
                config = json.dumps(trial.config.to_dict(), sort_keys=True)
                row = self.connection.execute(
                    "SELECT config FROM trials WHERE trial_id = ?", (trial.trial_id,)
                ).fetchone()
                change = None if row is None else config_change(row["config"], config)
                if change is not None:
                    raise UsageError(
                        f"{sweep_dir} holds a different sweep (trial "
                        f"{trial.trial_id}: {change}); use another --out"
                    )
                if row is None:
                    self.connection.execute(
                        "INSERT INTO trials (trial_id, config_index, label, seed,"
                        " config, status, run_dir) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            trial.trial_id,
                            trial.config_index,
                            trial.label,
                            trial.seed,
                            config,
                            "pending",
                            str(Path("trials") / trial.trial_id),
                        ),
                    )

    def statuses(self) -> dict[str, str]:
        rows = self.connection.execute("SELECT trial_id, status FROM trials")
        return {row["trial_id"]: row["status"] for row in rows}

    def mark_running(self, trial_ids: Iterable[str]) -> None:
        with self.connection:
            self.connection.executemany(
                "UPDATE trials SET status = 'running' WHERE trial_id = ?",
                [(trial_id,) for trial_id in trial_ids],
            )

    def record(self, result: dict[str, Any]) -> None:
        """Store a worker's result (see :func:`~binadd.sweeps.trial.run_trial`) now."""
        trial_id = result["trial_id"]
        with self.connection:
            self.connection.execute(
                "DELETE FROM epochs WHERE trial_id = ?", (trial_id,)
            )
            self.connection.execute(
                "DELETE FROM lengths WHERE trial_id = ?", (trial_id,)
            )
            self.connection.execute(
                "UPDATE trials SET status = ?, error = ?, traceback = ?, worker = ?,"
                " started = ?, finished = ?, train_seconds = ?, eval_seconds = ?"
                " WHERE trial_id = ?",
                (
                    result["status"],
                    result.get("error", ""),
                    result.get("traceback", ""),
                    result.get("worker", ""),
                    result.get("started"),
                    result.get("finished"),
                    result.get("train_seconds"),
                    result.get("eval_seconds"),
                    trial_id,
                ),
            )
            self.connection.executemany(
                "INSERT INTO epochs VALUES (?, ?, ?, ?, ?, ?, ?)",
                [_epoch_row(trial_id, record) for record in result.get("history", [])],
            )
            self.connection.executemany(
                "INSERT INTO lengths VALUES (?, ?, ?, ?, ?, ?, ?)",
                [_length_row(trial_id, record) for record in result.get("records", [])],
            )

    def trials(self) -> list[dict[str, Any]]:
        """Every trial row, ordered by configuration and seed."""
        rows = self.connection.execute(
            "SELECT * FROM trials ORDER BY config_index, seed"
        )
        return [dict(row) for row in rows]

    def epochs(self) -> list[dict[str, Any]]:
        rows = self.connection.execute("SELECT * FROM epochs ORDER BY trial_id, epoch")
        return [dict(row) for row in rows]

    def lengths(self) -> list[dict[str, Any]]:
        rows = self.connection.execute(
            'SELECT * FROM lengths ORDER BY trial_id, n_bits, "case"'
        )
        return [dict(row) for row in rows]


def _flat(config: dict[str, Any]) -> dict[str, Any]:
    """``{"train": {"lr": 0.1}}`` -> ``{"train.lr": 0.1}``."""
    flat: dict[str, Any] = {}
    for section, values in config.items():
        if isinstance(values, dict):
            flat.update({f"{section}.{key}": value for key, value in values.items()})
        else:
            flat[section] = values
    return flat


def config_change(stored: str, wanted: str) -> str | None:
    """How a trial's new config differs from its stored one, or None.

    Fields that only one of them has are ignored, so that a sweep directory
    still resumes after binadd gains a config field (whose default keeps the
    old behaviour); a field whose value differs is a different trial.
    """
    old, new = _flat(json.loads(stored)), _flat(json.loads(wanted))
    for key in sorted(old.keys() & new.keys()):
        if old[key] != new[key]:
            return f"{key} was {old[key]!r}, now {new[key]!r}"
    return None


def _epoch_row(trial_id: str, record: dict[str, Any]) -> tuple[Any, ...]:
    return (
        trial_id,
        int(record["epoch"]),
        record.get("train_loss"),
        record.get("test_loss"),
        record.get("test_bit_accuracy"),
        record.get("test_sequence_accuracy"),
        json.dumps(record),
    )


def _length_row(trial_id: str, record: dict[str, Any]) -> tuple[Any, ...]:
    return (
        trial_id,
        int(record["n_bits"]),
        str(record["case"]),
        record.get("samples"),
        record.get("bit_accuracy"),
        record.get("sequence_accuracy"),
        json.dumps(record),
    )
