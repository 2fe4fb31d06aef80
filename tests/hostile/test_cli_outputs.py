"""Where the CLI writes, and what an unlucky user meets: existing runs are never overwritten by
surprise, a resume changes only what it may, a crash loses seconds of training, a write that
fails is one line and leaves nothing behind, impossible settings are refused up front."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from limited import assert_one_line_error, run_cli_limited

from fmstudio.cli import main
from fmstudio.core import io
from fmstudio.core.outputs import signals_held

TINY = ["--dataset", "moons", "--hidden", "16", "--depth", "2", "--batch-size", "64",
        "--warmup-steps", "2", "--device", "cpu", "-q"]  # fmt: skip


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", *TINY, "--steps", "20", "--log-every", "10", "--out", str(out)]) == 0
    return out


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def one_line(capsys, *words: str) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def test_an_existing_run_is_replaced_only_with_overwrite(finished, tmp_path, capsys):
    before = snapshot(finished)
    assert main(["train", *TINY, "--steps", "5", "--out", str(finished)]) == 2
    one_line(capsys, "holds a run", "--overwrite", "--resume")
    assert snapshot(finished) == before
    other = tmp_path / "folder"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert main(["train", *TINY, "--steps", "5", "--out", str(other)]) == 2
    one_line(capsys, "is not empty")
    assert main(["train", *TINY, "--steps", "5", "--out", ""]) == 2
    one_line(capsys, "--out is empty")
    assert main(["train", *TINY, "--steps", "5", "--out", str(other), "--overwrite"]) == 0
    assert (other / "notes.txt").read_text() == "mine"  # --overwrite replaces a run, not yours
    assert io.read_header(other)["step"] == 5


def test_resume_changes_only_what_it_may_and_never_the_original_elsewhere(
    finished, tmp_path, capsys
):
    before = snapshot(finished)
    assert main(["train", "--resume", str(finished), "-q"]) == 0  # no --steps: nothing to do
    assert "nothing to do" in capsys.readouterr().out
    assert main(["train", "--resume", str(finished), "--hidden", "64", "-q"]) == 2
    one_line(capsys, "hidden cannot change when a run resumes")
    assert main(["train", "--resume", str(finished), "--lr", "inf", "--steps", "30", "-q"]) == 2
    one_line(capsys, "lr must be a finite number")
    assert snapshot(finished) == before

    copy = tmp_path / "continued"
    argv = ["train", "--resume", str(finished), "--steps", "30", "--out", str(copy), "-q"]
    assert main(argv) == 0
    assert snapshot(finished) == before  # the original run is left as it was
    assert io.load_trainer(copy).step_count == 30
    log = (copy / "metrics.jsonl").read_text().splitlines()
    steps = [json.loads(line)["step"] for line in log]
    assert steps == [10, 20, 30]  # the log carries on from the original's


def test_outputs_of_other_commands_are_checked_before_any_work(finished, tmp_path, capsys):
    argv = ["reflow", str(finished), "--pairs", "100", "--steps", "2", "-q"]
    assert main([*argv, "--out", str(finished)]) == 2
    one_line(capsys, "is the run being reflowed")
    samples = tmp_path / "s.npy"
    samples.write_bytes(b"keep me")
    assert main(["sample", str(finished), "--n", "5", "--out", str(samples), "-q"]) == 2
    one_line(capsys, "exists", "--overwrite")
    assert samples.read_bytes() == b"keep me"
    assert main(["sample", str(finished), "--n", "0", "--out", str(tmp_path / "t.npy")]) == 2
    one_line(capsys, "--n must be at least 1")
    assert main(["eval", str(finished), "--nll-n", "0"]) == 2
    one_line(capsys, "--nll-n must be at least 1")
    assert main(["data", "moons", "--out", str(samples)]) == 2
    one_line(capsys, "exists")
    argv = ["sample", str(finished), "--n", "5", "--out", str(samples), "--overwrite", "-q"]
    assert main(argv) == 0 and np.load(samples).shape == (5, 2)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["train", *TINY, "--sigma", "inf", "--path", "icfm", "--out", "x"], ["sigma", "finite"]),
        (["train", *TINY, "--lr", "nan", "--out", "x"], ["lr", "finite"]),
        (["train", *TINY, "--hidden", "20000000", "--out", "x"], ["hidden must be in"]),
        (["train", "--dataset", "digits", "--image-size", "100000", "--out", "x"], ["image_size"]),
        (["train", *TINY, "--save-every", "-1", "--out", "x"], ["--save-every"]),
        (["app", "--size", "60000x60000"], ["--size must be from"]),
        (["app", "--time", "nan", "--screenshot", "x.png"], ["--time must be between"]),
        (["app", "--reflow", "ot"], ["--reflow needs --compare"]),
    ],
)
def test_impossible_settings_are_refused_before_anything_runs(
    tmp_path, capsys, monkeypatch, argv, words
):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    one_line(capsys, *words)
    assert list(tmp_path.iterdir()) == []


def test_image_samples_upscale_is_bounded_and_written_whole(tmp_path, capsys):
    run = tmp_path / "digits"
    argv = ["train", "--dataset", "digits", "--steps", "1", "--batch-size", "8", "--held-out",
            "16", "--device", "cpu", "--warmup-steps", "0", "-q", "--out", str(run)]  # fmt: skip
    assert main(argv) == 0
    out = tmp_path / "pictures"
    sample = ["sample", str(run), "--n", "2", "--steps", "1", "--out", str(out), "-q"]
    assert main([*sample, "--upscale", "100000"]) == 2
    one_line(capsys, "--upscale must be 1 to 512")
    assert not out.exists()
    assert main([*sample, "--upscale", "2"]) == 0
    assert {"grid.png", "samples.npy"} <= {p.name for p in out.iterdir()}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_failed_write_is_one_line_and_leaves_nothing(finished, tmp_path):
    """A file-size limit stands in for a full disk: the write fails part-way."""
    out = tmp_path / "s.npy"
    proc = run_cli_limited(
        "sample", str(finished), "--n", "5000", "--out", str(out), "-q",
        preexec=lambda: _limit_file_size(1024),
    )  # fmt: skip
    assert_one_line_error(proc, str(out), "cannot write it")
    assert list(tmp_path.iterdir()) == []


def _limit_file_size(limit: int) -> None:
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_symlinked_metrics_log_is_not_followed(finished, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *TINY, "--steps", "4", "--out", str(run)]) == 0
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (run / "metrics.jsonl").unlink()
    (run / "metrics.jsonl").symlink_to(victim)
    assert main(["train", "--resume", str(run), "--steps", "8", "-q"]) == 2
    one_line(capsys, "metrics.jsonl", "symbolic link")
    assert victim.read_text() == "precious\n"


def test_signals_held_defers_a_signal_until_the_block_ends():
    with pytest.raises(KeyboardInterrupt), signals_held():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        finished_inside = True
    assert finished_inside
    with signals_held(reraise=False):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)


def test_a_killed_run_keeps_its_last_periodic_save_and_a_second_writer_is_refused(tmp_path):
    """SIGKILL (no chance to save) after periodic saves: the run resumes from the last one.
    While it trains, a second `train --out` on the same folder is refused."""
    run = tmp_path / "run"
    argv = [sys.executable, "-m", "fmstudio", "train", *TINY, "--steps", "1000000",
            "--save-every", "0.5", "--log-every", "20", "--out", str(run)]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (run / "config.json").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (run / "config.json").exists(), "no periodic save within a minute"
        second = main(["train", *TINY, "--steps", "5", "--out", str(run), "--overwrite"])
        assert second == 2  # locked by the running trainer
        time.sleep(1.5)  # a few more saves
    finally:
        proc.kill()
        proc.wait(30)
    resumed = io.load_trainer(run)
    assert resumed.step_count > 0
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []


def test_a_second_sigterm_during_the_final_save_does_not_lose_it(tmp_path):
    run = tmp_path / "run"
    argv = [sys.executable, "-m", "fmstudio", "train", *TINY, "--steps", "1000000",
            "--log-every", "10", "--out", str(run)]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    log = run / "metrics.jsonl"
    while not (log.exists() and log.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGTERM)  # while it saves, or after: never a half-written save
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (130, -signal.SIGTERM), err
    assert "Traceback" not in err and "interrupted at step" in err
    assert io.load_trainer(run).step_count > 0
