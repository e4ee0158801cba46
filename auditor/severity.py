"""Severity: the one order of `high`, `medium` and `low`, and the --fail-on test."""

from __future__ import annotations

from collections.abc import Iterable

SEVERITIES = ("high", "medium", "low")  # most severe first: reports list them in this order
FAIL_ON_CHOICES = (*SEVERITIES, "never")
_RANK = {"low": 1, "medium": 2, "high": 3}


def rank(severity: str) -> int:
    """3 for high, 2 for medium, 1 for low, 0 for anything else."""
    return _RANK.get(severity, 0)


def at_least(severity: str, floor: str | None) -> bool:
    """Whether `severity` is `floor` or above (everything is, when there is no floor)."""
    return floor is None or rank(severity) >= rank(floor)


def highest(severities: Iterable[str]) -> str | None:
    return max(severities, key=rank, default=None)


def fails(severities: Iterable[str], fail_on: str) -> bool:
    """Whether a run with findings of these severities fails `--fail-on`."""
    return fail_on != "never" and any(at_least(s, fail_on) for s in severities)
