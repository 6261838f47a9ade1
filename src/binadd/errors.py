"""Errors that the command line turns into one-line messages and exit codes.

A :class:`UsageError` (exit code 2) means the user asked for something that
cannot be done as asked: a bad option, config value or operand. A
:class:`BinaddError` (exit code 1) is any other expected failure at run time:
a missing or corrupt checkpoint, a run that diverged, a device that is absent.
"""

from __future__ import annotations


class BinaddError(Exception):
    """An expected failure, reported in one line with exit code 1."""

    exit_code = 1


class UsageError(BinaddError):
    """The user's input is wrong; reported in one line with exit code 2."""

    exit_code = 2


class ConfigError(UsageError):
    """A config value or key is invalid; the message names the field."""


class CheckpointError(BinaddError):
    """A checkpoint is missing, truncated, corrupt or does not fit."""


class TrainingDiverged(BinaddError):
    """The loss became NaN or infinite."""
