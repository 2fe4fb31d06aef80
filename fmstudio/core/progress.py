"""How core's long computations say what they start doing next, without printing.

A function that can run for a minute (`evaluate`, `compare`) takes an optional `progress`
callback and calls it with a short phase ("NLL of 1000 held-out points") as each phase starts;
the command line prints those on stderr with timings, a notebook may ignore them.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]


def silent(phase: str) -> None:
    """The callback of a caller that shows no progress."""
