"""Run directories an attacker crafted or a crash cut short: a clear CheckpointError, never a
segfault, a huge allocation or a mix of two saves.

Every case runs in a child under a memory limit (`probe`): a regression that reaches fused
Adam with a wrong shape kills the child (SIGSEGV), not the test session.
"""

from __future__ import annotations

import textwrap

import pytest
from limited import probe

SETUP = """
import json, os, pathlib, shutil, signal
import torch
torch.set_num_threads(1)
from fmstudio.core import io, run_dir
from fmstudio.core.config import TrainConfig
from fmstudio.core.training import Trainer

def fresh_trainer(steps=3):
    config = TrainConfig(dataset="moons", steps=50, hidden=16, depth=2, batch_size=64,
                         warmup_steps=1, device="cpu", coupling="ot")
    trainer = Trainer(config)
    trainer.run(steps)
    return trainer

def outcome(call):
    try:
        call()
    except io.CheckpointError as exc:
        return "CheckpointError: " + str(exc)
    except Exception as exc:  # anything else is a failure the test reports
        return type(exc).__name__ + ": " + str(exc)
    return "loaded"
"""


def run_probe(body: str, tmp_path, **kwargs):
    code = SETUP + f"\nroot = pathlib.Path({str(tmp_path)!r})\n" + body
    return probe(code, **kwargs)


TAMPERED_STATE = """
run = root / "run"
io.save_checkpoint(run, fresh_trainer())
header = json.loads((run / "config.json").read_text())
original = io.read_tensors(run / "train_state.safetensors")

def bent(change):
    state = {k: v.clone() for k, v in original.items()}
    change(state)
    io.write_tensors(run / "train_state.safetensors", state, header["generation"])
    return outcome(lambda: io.load_trainer(run))

big = max((k for k in original if k.endswith(".exp_avg")), key=lambda k: original[k].numel())
cases = {
    "moment of 3 elements": lambda s: s.__setitem__(big, torch.zeros(3)),
    "moment as float64": lambda s: s.__setitem__(big, s[big].double()),
    "NaN moment": lambda s: s[big].fill_(float("nan")),
    "negative second moment": lambda s: s[big + "_sq"].fill_(-1.0),
    "step -1": lambda s: s["optim.0.step"].fill_(-1.0),
    "step of 2 elements": lambda s: s.__setitem__("optim.0.step", torch.zeros(2)),
    "unknown state name": lambda s: s.__setitem__("optim.0.evil", torch.zeros(3)),
    "parameter index out of range": lambda s: s.__setitem__("optim.999.step", torch.zeros(())),
    "state of one parameter dropped": lambda s: [s.pop(k) for k in list(s) if "optim.1." in k],
    "rng of the wrong size": lambda s: s.__setitem__("rng.generator", torch.zeros(7).byte()),
    "pool of 3 columns": lambda s: s.__setitem__("data.pool", torch.zeros(10, 3)),
    "pool with inf": lambda s: s["data.pool"].fill_(float("inf")),
    "pool missing": lambda s: s.pop("data.pool"),
    "coupled batch of another shape": lambda s: s.__setitem__("coupled.x1", torch.zeros(5, 2)),
    "losses as int": lambda s: s.__setitem__("losses", torch.zeros(3, dtype=torch.int64)),
}
results = {name: bent(change) for name, change in cases.items()}
io.write_tensors(run / "train_state.safetensors", original, header["generation"])
for key, value in {"lr": "fast", "betas": [0.9], "params": [0, 1], "amsgrad": 1}.items():
    groups = json.loads(json.dumps(header["optimizer"]))
    groups[0][key] = value
    (run / "config.json").write_text(json.dumps({**header, "optimizer": groups}))
    results[f"param group {key}={value!r}"] = outcome(lambda: io.load_trainer(run))
(run / "config.json").write_text(json.dumps(header))
results["untouched"] = outcome(lambda: io.load_trainer(run))
return results
"""

CRAFTED_CONFIGS = """
run = root / "run"
io.save_checkpoint(run, fresh_trainer())
header = json.loads((run / "config.json").read_text())
results = {}

def with_header(change):
    bent = json.loads(json.dumps(header))
    change(bent)
    (run / "config.json").write_text(json.dumps(bent))
    return outcome(lambda: io.load_flow(run)), outcome(lambda: io.load_trainer(run))

results["model hidden 2e7"] = with_header(lambda h: h["model"].update(hidden=20_000_000))
results["config hidden 2e7"] = with_header(lambda h: h["config"].update(hidden=20_000_000))
results["images on a 2-D model"] = with_header(lambda h: h.update(data_shape=[3, 4096, 4096]))
results["infinite lr"] = with_header(lambda h: h["config"].update(lr=1e999))
# the weights fit the model entry, so sampling works; resuming would build the config's
results["config naming another model"] = with_header(lambda h: h["config"].update(hidden=32))[1:]
(run / "config.json").write_text(json.dumps(header))
for name, make in {
    "config.json -> /dev/zero": lambda p: p.symlink_to("/dev/zero"),
    "config.json a FIFO": lambda p: os.mkfifo(p),
    "config.json of 2 MB": lambda p: p.write_text(" " * (2 << 20) + "{}"),
    "config.json nested deeply": lambda p: p.write_text("[" * 200_000 + "]" * 200_000),
}.items():
    target = run / "config.json"
    target.unlink()
    make(target)
    results[name] = (outcome(lambda: io.load_flow(run)), outcome(lambda: io.read_header(run)))
    target.unlink()
    target.write_text(json.dumps(header))
weights = run / "model.safetensors"
weights.rename(run / "kept")
weights.symlink_to("/dev/zero")
results["model -> /dev/zero"] = (outcome(lambda: io.load_flow(run)),)
weights.unlink()
other = root / "other"
io.save_checkpoint(other, fresh_trainer())
shutil.copy(other / "model.safetensors", weights)
results["model of another save"] = (outcome(lambda: io.load_flow(run)),)
return results
"""


@pytest.fixture(scope="module")
def crafted(tmp_path_factory) -> dict:
    """Both sets of crafted run directories, tried in one limited child (one torch import)."""
    functions = ""
    for name, body in (("tampered", TAMPERED_STATE), ("configs", CRAFTED_CONFIGS)):
        functions += f"def {name}(root):\n" + textwrap.indent(body, "    ") + "\n"
    body = functions + 'return {"state": tampered(root / "a"), "config": configs(root / "b")}'
    return run_probe(body, tmp_path_factory.mktemp("crafted"), timeout=90)


def test_tampered_training_state_is_refused_before_anything_is_loaded(crafted):
    """Each tensor of train_state.safetensors bent in one way; the file keeps the save's
    generation, so only the checks of its content can catch it."""
    result = crafted["state"]
    assert result.pop("untouched") == "loaded"
    for case, message in result.items():
        assert message.startswith("CheckpointError:"), (case, message)
        assert "train_state.safetensors" in message or "config.json" in message, (case, message)


def test_config_json_cannot_make_a_loader_allocate_or_hang(crafted):
    """A config naming a huge model or data shape, config.json as a device, a FIFO or a big
    file, weights from another save: refused, under a 2 GiB limit, within the timeout."""
    result = crafted["config"]
    for case, messages in result.items():
        for message in messages:
            assert message.startswith("CheckpointError:"), (case, message)
    assert "another save" in result["model of another save"][0]
    assert "character device" in result["config.json -> /dev/zero"][0]
    assert "FIFO" in result["config.json a FIFO"][0]


def test_a_save_killed_at_any_file_operation_leaves_one_whole_save(tmp_path):
    """SIGKILL the saving process before each file operation of a save (mkdir, fsync, rename,
    unlink, rmdir) in turn: the directory then reads, without writing, as exactly the old or
    the new save, and resuming (which finishes or drops the cut save) gives the same one."""
    result = run_probe(
        """
run, pristine = root / "run", root / "pristine"
trainer = fresh_trainer()
io.save_checkpoint(run, trainer)
shutil.copytree(run, pristine)
old = {k: v.clone() for k, v in trainer.ema.model.state_dict().items()}
trainer.run(2)
new = {k: v.clone() for k, v in trainer.ema.model.state_dict().items()}
real = {name: getattr(os, name) for name in ("replace", "fsync", "unlink", "rmdir", "mkdir")}

def counting(limit):
    count = [0]
    def wrap(name):
        def op(*args, **kwargs):
            count[0] += 1
            if count[0] == limit:
                os.kill(os.getpid(), signal.SIGKILL)
            return real[name](*args, **kwargs)
        return op
    for name in real:
        setattr(os, name, wrap(name))

def which(weights):
    for step, ref in ((3, old), (5, new)):
        if all(torch.equal(weights[k], ref[k]) for k in ref):
            return step
    return None

seen = []
for limit in range(1, 60):
    shutil.rmtree(run)
    shutil.copytree(pristine, run)
    pid = os.fork()
    if pid == 0:
        counting(limit)
        io.save_checkpoint(run, trainer)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    finished = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    header = io.read_header(run)  # read-only: through .commit while a save is half moved
    weights = io.read_tensors(run_dir.locate(run, io.MODEL_FILE), header["generation"])
    read_step = (header["step"], which(weights))
    resumed = io.load_trainer(run)
    resumed_step = (resumed.step_count, which(resumed.ema.model.state_dict()))
    leftovers = sorted(p.name for p in run.iterdir() if p.name.startswith("."))
    seen.append([limit, finished, read_step, resumed_step, leftovers])
    if finished:
        break
return seen
""",
        tmp_path,
        timeout=120,
    )
    *killed, (last, finished, *_) = result
    assert finished and last > 10, result  # a save is more than ten file operations
    steps = set()
    for limit, _, read_step, resumed_step, leftovers in killed:
        assert read_step in ([3, 3], [5, 5]), (limit, read_step)
        assert resumed_step == read_step, (limit, resumed_step, read_step)
        assert leftovers == [], (limit, leftovers)
        steps.add(read_step[0])
    assert steps == {3, 5}  # some kills came before the commit point, some after
