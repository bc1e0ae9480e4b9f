"""Errors that end a command, each carrying the exit code DESIGN.md promises.

The CLI turns any of these into one clear sentence and its exit code; nothing below the CLI
prints or exits on its own.
"""

from __future__ import annotations

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_UNKNOWN = 4  # inconclusive: some check could not run on complete data (the verdict says why)


class ShopbenchError(Exception):
    """Base of every error shopbench reports to a user."""

    exit_code = EXIT_USAGE


class UsageError(ShopbenchError):
    """Bad flags, bad config files, bad run directories: the user can fix the input."""

    exit_code = EXIT_USAGE


class TargetError(ShopbenchError):
    """The system under test, or a fault backend, could not be reached or set up."""

    exit_code = EXIT_UNREACHABLE
