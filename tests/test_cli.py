"""The command line, run the way a user runs it: files in, files and JSON out, Ctrl-C safe."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from fmstudio.cli import main

TINY = ["--hidden", "32", "--depth", "2", "--batch-size", "128", "--warmup-steps", "5"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fmstudio", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    code = main(
        [
            "train",
            "--dataset",
            "moons",
            "--steps",
            "60",
            "--log-every",
            "20",
            *TINY,
            "--out",
            str(out),
        ]
    )
    assert code == 0
    return out


def test_data_writes_the_preset(tmp_path, capsys):
    assert (
        main(
            ["data", "checkerboard", "--n", "300", "--seed", "2", "--out", str(tmp_path / "c.npy")]
        )
        == 0
    )
    points = np.load(tmp_path / "c.npy")
    assert points.shape == (300, 2) and np.abs(points).max() <= 4
    assert main(["data", "rings", "--n", "50", "--out", str(tmp_path / "r.csv")]) == 0
    assert np.loadtxt(tmp_path / "r.csv", delimiter=",", skiprows=1).shape == (50, 2)


def test_train_writes_model_config_and_metrics(run_dir):
    assert (run_dir / "model.safetensors").is_file()
    config = json.loads((run_dir / "config.json").read_text())
    assert config["config"]["dataset"] == "moons" and config["step"] == 60
    lines = [json.loads(ln) for ln in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [ln["step"] for ln in lines] == [20, 40, 60]
    assert all(set(ln) == {"step", "loss", "elapsed_s"} for ln in lines)
    assert lines[0]["elapsed_s"] <= lines[-1]["elapsed_s"]


@pytest.mark.parametrize(
    ("args", "nfe"),
    [
        (["--solver", "euler", "--nfe", "10"], 10),
        (["--solver", "rk4", "--nfe", "10"], 8),
        (["--solver", "midpoint", "--steps", "6"], 12),
        (["--solver", "dopri5", "--atol", "1e-3", "--rtol", "1e-3"], None),
    ],
)
def test_sample_prints_the_nfe_used(run_dir, tmp_path, capsys, args, nfe):
    out = tmp_path / "s.npy"
    assert (
        main(["sample", str(run_dir), "--n", "256", "--seed", "1", "--out", str(out), *args]) == 0
    )
    printed = capsys.readouterr().out
    used = int(printed.split("NFE ")[1].split(";")[0])
    if nfe is not None:
        assert used == nfe
    else:
        assert used > 6
    samples = np.load(out)
    assert samples.shape == (256, 2) and np.isfinite(samples).all()


def test_eval_prints_one_json_object(run_dir, capsys):
    assert (
        main(
            [
                "eval",
                str(run_dir),
                "--n",
                "300",
                "--nll-n",
                "100",
                "--solver",
                "rk4",
                "--steps",
                "10",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert {"w2", "nll", "nfe", "straightness"} <= set(report)
    assert report["nfe"] == 40 and 0 < report["w2"] < 10 and report["straightness"] >= 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--steps", "0", "--out", "x"], "steps must be in [1, "),
        (["train", "--dataset", "nowhere.npy", "--out", "x"], "nowhere.npy"),
        (["train", "--path", "otcfm", "--coupling", "sinkhorn", "--out", "x"], "implies coupling"),
        (["sample", "missing-run", "--out", "s.npy"], "missing-run"),
        (
            ["sample", "missing-run", "--solver", "dopri5", "--steps", "5", "--out", "s.npy"],
            "adaptive",
        ),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_the_module_entry_point_runs():  # every command's --help: in-process, below
    result = run_cli("train", "--help")
    assert result.returncode == 0 and "usage: fmstudio train" in result.stdout


def test_ctrl_c_saves_a_resumable_checkpoint_and_resume_finishes(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fmstudio",
            "train",
            "--dataset",
            "moons",
            "--steps",
            "100000",
            "--log-every",
            "10",
            *TINY,
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    metrics = out / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while not (metrics.exists() and metrics.read_text().count("\n") >= 2):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume" in err
    header = json.loads((out / "config.json").read_text())
    stopped = header["step"]
    assert stopped >= 20
    header["config"]["steps"] = stopped + 30
    result = run_cli("train", "--resume", str(out), "--steps", str(stopped + 30))
    assert result.returncode == 0, result.stderr
    steps = [json.loads(ln)["step"] for ln in metrics.read_text().splitlines()]
    assert steps[-1] == stopped + 30
    assert json.loads((out / "config.json").read_text())["step"] == stopped + 30
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]


def test_eval_reports_its_phases_on_stderr_and_one_json_line_on_stdout(run_dir, capsys):
    argv = ["eval", str(run_dir), "--n", "200", "--nll-n", "50", "--solver", "euler", "--nfe", "4"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    (line,) = captured.out.splitlines()
    assert json.loads(line)["nfe"] == 4
    phases = ["sampling", "W2", "NLL", "straightness", "done"]
    at = [captured.err.find(phase) for phase in phases]
    assert -1 not in at and at == sorted(at), captured.err  # each phase, in order
    assert main([*argv, "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_compare_shows_training_then_measurement_progress(tmp_path, capsys):
    argv = ["compare", "--dataset", "moons", "--paths", "ot,icfm", "--steps", "20", *TINY]
    assert main([*argv, "--n", "100", "--out", str(tmp_path / "cmp")]) == 0
    err = capsys.readouterr().err
    assert "40/40" in err  # one bar over both configurations' steps, finished
    for name in ("ot", "icfm"):
        assert f"{name}: W2 at" in err and f"{name}: straightness" in err


def test_reflow_shows_pair_generation_then_training(run_dir, tmp_path, capsys):
    out = tmp_path / "reflowed"
    assert main(["reflow", str(run_dir), "--pairs", "200", "--steps", "10", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "200 (noise, sample) pairs" in err and "10/10" in err


@pytest.fixture
def thread_calls(monkeypatch) -> list[int]:
    """What the command asked torch for (torch itself keeps the test process's setting)."""
    import torch

    calls: list[int] = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    return calls


def test_threads_flag_sets_torchs_thread_count(run_dir, tmp_path, thread_calls, monkeypatch):
    from fmstudio.core import threads

    monkeypatch.setattr(threads, "available_cores", lambda: 9)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    sample = ["sample", str(run_dir), "--n", "10", "--out", str(tmp_path / "s.npy"), "-q"]
    sample.append("--overwrite")
    assert main([*sample, "--threads", "3"]) == 0
    assert main(sample) == 0  # all cores but one
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")  # as torchrun --nproc_per_node=2 sets it
    assert main(sample) == 0
    assert thread_calls == [3, 8, 4]


def test_bad_thread_count_is_one_clear_line(run_dir, tmp_path, capsys, thread_calls):
    assert main(["eval", str(run_dir), "--threads", "0"]) == 2
    assert "--threads must be at least 1, got 0" in capsys.readouterr().err
    assert thread_calls == []


def test_help_shows_every_default_once(capsys, monkeypatch):
    from fmstudio.core.config import SETTINGS, TrainConfig

    monkeypatch.setenv("COLUMNS", "100")
    texts = {}
    for command in ("data", "train", "sample", "eval", "compare", "reflow", "app"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        texts[command] = " ".join(capsys.readouterr().out.split())
    d = TrainConfig()
    assert "--steps STEPS Total training steps;" in texts["train"]
    assert f"(default: {d.steps}) --ema-decay" in texts["train"]
    assert "--sigma SIGMA icfm: " in texts["train"] and "(default: the path's own" in texts["train"]
    for setting in SETTINGS:  # every setting of a run has its flag wherever a run is configured
        for command in ("train", "compare", "app"):
            assert f"{setting.flag} " in texts[command], (setting.name, command)
    assert "--solver {" in texts["eval"] and "(default: dopri5)" in texts["eval"]
    for command, text in texts.items():
        assert "(default: None)" not in text, command
        options = text.split(" -")  # one chunk per option (and a few hyphenated words)
        assert all(chunk.count("default") <= 1 for chunk in options), command


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sample", "RUN", "--solver", "dopri5", "--atol", "0", "--rtol", "0"],
         "atol must be a positive"),
        (["sample", "RUN", "--solver", "dopri5", "--atol", "1e-300", "--rtol", "1e-300"],
         "loosen them"),
        (["sample", "RUN", "--device", "cuda"], "CUDA is not available"),
        (["train", "--dataset", "moons", "--log-every", "0"], "--log-every"),
    ],
)  # fmt: skip
def test_impossible_solver_device_and_log_settings_are_one_line(
    run_dir, tmp_path, capsys, argv, message
):
    """Issue 11, point 4: each was a traceback (torchdiffeq's assertion, torch's 'not compiled
    with CUDA', a ZeroDivisionError); now one line naming the setting, exit 2, nothing written."""
    if "--device" in argv and __import__("torch").cuda.is_available():
        pytest.skip("this machine has CUDA")
    out = tmp_path / "out.npy"
    argv = [str(run_dir) if a == "RUN" else a for a in argv] + ["--out", str(out)]
    assert main([*argv, "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()
