"""What the command line tells a person while it works: progress on stderr, never on stdout.

stdout carries results (`fmstudio eval` prints one JSON line for scripts), so phases and bars go
to stderr. In a terminal a bar redraws in place. In a log (stderr redirected or piped) those
redraws would pile up behind carriage returns on one endless line, so there a bar prints a plain
line at most every `LOG_INTERVAL` seconds, and at its end: a long job in a log still shows that
it is alive and how far it has got.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm

LOG_INTERVAL = 10.0
"""Seconds between a bar's lines when stderr is not a terminal."""


class _Lines:
    """A stream for tqdm that writes each redraw of the bar as one plain line."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> None:
        line = text.replace("\r", "").strip()
        if line:
            self.stream.write(line + "\n")

    def flush(self) -> None:
        self.stream.flush()


class Console:
    """Phases with the time since the command started, and bars over steps; silent when quiet.

    Core functions take a `progress(phase)` callback instead of printing; `phase` is that
    callback.
    """

    def __init__(self, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.quiet = quiet
        self.stream = sys.stderr if stream is None else stream
        self.start = time.perf_counter()

    def phase(self, text: str) -> None:
        """One line: '[  12.3 s] text', so each phase's duration is the gap to the next."""
        if not self.quiet:
            elapsed = time.perf_counter() - self.start
            print(f"[{elapsed:7.1f} s] {text}", file=self.stream, flush=True)

    def bar(self, total: int, initial: int = 0, unit: str = "step") -> tqdm:
        """A tqdm bar on stderr: redrawn in place in a terminal, plain lines in a log."""
        terminal = self.stream.isatty()
        return tqdm(
            total=total,
            initial=initial,
            unit=unit,
            disable=self.quiet,
            file=self.stream if terminal else _Lines(self.stream),
            mininterval=0.1 if terminal else LOG_INTERVAL,
            dynamic_ncols=terminal,
            ascii=None if terminal else True,
        )
