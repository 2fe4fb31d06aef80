"""Helpers for hostile and unlucky inputs: a child process under a memory limit.

A loader that trusts a lying header would try to allocate gigabytes; in the test process that
could pass unnoticed (Linux overcommits) or take the machine down. Under RLIMIT_AS such an
allocation fails at once, so a test sees a MemoryError instead of the clean one-line error
it asserts. Batch several cases into one child: each costs a torch import (~2 s on 2 cores).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable

import pytest

MEMORY_LIMIT = 2 << 30
"""Address space a child may map: torch and numpy take ~0.8 GiB, a hostile file gets the rest."""


def _limit_memory(limit: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def run_limited(
    args: list[str],
    limit: int = MEMORY_LIMIT,
    timeout: float = 120,
    preexec: Callable[[], None] | None = None,
    **kwargs,
) -> subprocess.CompletedProcess:
    """`python ARGS` in a child under a memory limit (text output captured); `preexec` sets
    further limits in the child before it starts."""
    env = {**os.environ, "PYTHONFAULTHANDLER": "1", **kwargs.pop("env", {})}

    def limits() -> None:
        _limit_memory(limit)
        if preexec is not None:
            preexec()

    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        preexec_fn=limits,
        **kwargs,
    )


def run_cli_limited(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """`fmstudio ARGS` under the memory limit."""
    return run_limited(["-m", "fmstudio", *args], **kwargs)


def probe(code: str, **kwargs) -> dict:
    """Run `code` (a function body that returns a JSON-able value) in a limited child and
    return what it returned; fails the test with the child's stderr if it crashed."""
    script = "import json, sys\ndef _body():\n" + textwrap.indent(textwrap.dedent(code), "    ")
    script += "\nprint('@@' + json.dumps(_body()))\n"
    proc = run_limited(["-c", script], **kwargs)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("@@")]
    if proc.returncode != 0 or not lines:
        pytest.fail(f"probe exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][2:])


def assert_one_line_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    """Exit code 2, no traceback, and one line on stderr that holds every word."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
