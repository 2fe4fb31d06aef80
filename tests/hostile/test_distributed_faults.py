"""A rank that dies or stalls under the real torchrun ends the run promptly and cleanly.

Two CPU ranks train under `torchrun`; once rank 0 has logged some steps the test kills
(SIGKILL) or stops (SIGSTOP) rank 1, or kills rank 0. A surviving rank 0 must then save what
it has, say so in one line and exit, leaving a run directory that loads; a surviving rank 1
says so and writes nothing; all within the process group's timeout plus a margin. Each rank's
output goes to its own file (`--redirects`), read apart from torchrun's report of the failure.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fmstudio.core import io

RANK_TIMEOUT = 5
"""FMSTUDIO_DIST_TIMEOUT of the runs here: how long a rank waits for a stalled peer."""
MARGIN = 15
"""Seconds on top of the timeout for rank 0 to save and everything to exit on 2 busy cores."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(out: Path, logs: Path) -> subprocess.Popen:
    """torchrun with 2 CPU ranks training far more steps than the test waits for."""
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
        f"--master_port={_free_port()}", f"--log-dir={logs}", "--redirects=3",
        "-m", "fmstudio", "train", "--dataset", "moons", "--hidden", "32", "--depth", "2",
        "--batch-size", "64", "--device", "cpu", "--threads", "1", "--quiet",
        "--steps", "1000000", "--log-every", "10", "--out", str(out),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "FMSTUDIO_DIST_TIMEOUT": str(RANK_TIMEOUT)}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)  # fmt: skip


def _rank_pids(parent: int) -> dict[int, int]:
    """{rank: pid} of torchrun's children, read from their environment."""
    pids = {}
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit():
                continue
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) != parent:
                continue
            environ = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue  # ended meanwhile
        for item in environ:
            if item.startswith(b"RANK="):
                pids[int(item[5:])] = int(entry.name)
    return pids


def _wait_for_steps(proc: subprocess.Popen, metrics: Path, deadline: float) -> int:
    """The step of rank 0's first metrics line, once it is written."""
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if metrics.is_file() and (lines := metrics.read_text().splitlines()):
            return json.loads(lines[0])["step"]
        time.sleep(0.1)
    pytest.fail(f"no metrics in {metrics} in time")


def _wait_gone(pid: int, parent: int, deadline: float) -> None:
    """Until process `pid`, a child of `parent`, has exited (a zombie counts) or the deadline."""
    while time.monotonic() < deadline:
        try:
            state, ppid = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            return  # reaped
        if state == "Z" or int(ppid) != parent:
            return
        time.sleep(0.05)


def _said(logs: Path, rank: int) -> list[str]:
    """The non-empty lines a rank wrote to stderr."""
    (path,) = logs.glob(f"*/attempt_0/{rank}/stderr.log")
    return [line for line in path.read_text().splitlines() if line.strip()]


FAULTS = [(1, signal.SIGKILL), (1, signal.SIGSTOP), (0, signal.SIGKILL)]
"""(rank, signal) of each run: rank 1 killed, rank 1 stalled, rank 0 killed."""


def test_a_killed_or_stalled_rank_ends_the_run_with_its_last_step_saved(tmp_path):
    """The three runs go side by side (each start of torchrun costs seconds on 2 cores).

    A stopped rank cannot end, and torch 2.13's torchrun waits a fixed 30 s (whatever its
    --shutdown-timeout) before it SIGKILLs it; that wait is torchrun's, so once rank 0 is gone
    the test resumes the stopped rank (SIGCONT), which then ends on torchrun's SIGTERM.
    """
    dirs = [tmp_path / f"{victim}-{fault.name}" for victim, fault in FAULTS]
    procs = [_start(d / "run", d / "logs") for d in dirs]
    logged, took = [], []
    try:
        deadline = time.monotonic() + 90
        for proc, d in zip(procs, dirs, strict=True):
            logged.append(_wait_for_steps(proc, d / "run" / "metrics.jsonl", deadline))
        pids = [_rank_pids(proc.pid) for proc in procs]
        for ranks, (victim, fault) in zip(pids, FAULTS, strict=True):
            os.kill(ranks[victim], fault)
        start = time.monotonic()
        _wait_gone(pids[1][0], procs[1].pid, start + RANK_TIMEOUT + MARGIN)
        took.append(time.monotonic() - start)  # until rank 0 ended, beside a stopped rank 1
        os.kill(pids[1][1], signal.SIGCONT)
        for proc in procs:
            proc.communicate(timeout=max(start + RANK_TIMEOUT + MARGIN - time.monotonic(), 1))
        took.append(time.monotonic() - start)  # until every torchrun ended
    finally:
        for proc in procs:
            if proc.poll() is None:  # its ranks are still its children, so still ours
                for pid in _rank_pids(proc.pid).values():
                    os.kill(pid, signal.SIGKILL)
                proc.kill()
                proc.wait()
    assert took[0] < RANK_TIMEOUT + MARGIN and took[1] < RANK_TIMEOUT + MARGIN, took
    assert all(proc.returncode != 0 for proc in procs)
    for d in dirs:
        for rank in (0, 1):
            assert not [line for line in _said(d / "logs", rank) if "Traceback" in line], d.name

    reasons = ["exited or crashed (its connection closed)", "stopped responding (no reply in 5 s)"]
    for d, step, reason in zip(dirs[:2], logged[:2], reasons, strict=True):
        run = d / "run"
        trainer = io.load_trainer(run)
        assert trainer.step_count >= step > 0, d.name
        assert _said(d / "logs", 0) == [
            f"fmstudio train: error: rank 1 {reason}: saved step {trainer.step_count} to {run}; "
            f"continue with fmstudio train --resume {run}"
        ]

    # rank 0 killed: rank 1 says so and writes nothing (nothing was saved: --save-every 300)
    assert _said(dirs[2] / "logs", 1) == [
        "fmstudio train: error: rank 0 exited or crashed (its connection closed); stopping this "
        "rank, which writes nothing"
    ]
    assert not (dirs[2] / "run" / "config.json").exists()
