"""Settings are described once (core/schema.py): these tests walk the descriptions, so a new
setting is checked by adding it, not by adding it to a list here."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
import torch

from fmstudio.cli import _given_config, build_parser
from fmstudio.core import choices, couplings, path_specs, paths
from fmstudio.core.config import (
    LIVE_SETTINGS,
    RESUME_SETTINGS,
    SETTINGS,
    UNET_PRESETS,
    ConfigError,
    TrainConfig,
)
from fmstudio.core.config_text import parse_configs
from fmstudio.core.io import load_trainer, save_checkpoint
from fmstudio.core.models.mlp import ACTIVATIONS
from fmstudio.core.schema import Change
from fmstudio.core.training import Trainer

BOUNDED = [d for d in SETTINGS if d.base in (int, float) and not d.setting.choices]


def test_every_field_of_a_run_config_is_a_described_setting():
    fields = [f.name for f in dataclasses.fields(TrainConfig)]
    assert [d.name for d in SETTINGS] == fields
    for d in SETTINGS:
        assert (d.setting.label and d.setting.help.endswith((".", ")"))) or d.name == "dataset"
        assert d.problem(d.default) is None, d.name
    TrainConfig().validate()


@pytest.mark.parametrize("d", BOUNDED, ids=lambda d: d.name)
def test_each_bound_is_enforced_by_validate_and_names_the_setting(d):
    s = d.setting
    for bound, is_open, outside in ((s.low, s.low_open, -1), (s.high, s.high_open, +1)):
        if bound is None:
            continue
        step = 1 if d.base is int else max(abs(bound) * 1e-6, 1e-9)
        inside = bound if not is_open else bound - outside * step
        beyond = bound + outside * step if not is_open else bound
        try:  # a value at the edge is allowed unless another setting forbids it
            TrainConfig(**{d.name: d.base(inside)}).validate()
        except ConfigError as exc:
            assert f"{d.name} must be in" not in str(exc), exc
        with pytest.raises(ConfigError, match=d.name):
            TrainConfig(**{d.name: d.base(beyond)}).validate()
    with pytest.raises(ConfigError, match=d.name):
        TrainConfig(**{d.name: float("nan") if d.base is float else "3"}).validate()


@pytest.mark.parametrize("d", [d for d in SETTINGS if d.setting.choices], ids=lambda d: d.name)
def test_each_choice_is_accepted_and_anything_else_refused(d):
    for choice in d.setting.choices:
        config = TrainConfig(**{d.name: choice.value})
        if d.name == "coupling":
            config.path = "ot"
        config.validate()
    with pytest.raises(ConfigError, match=f"unknown {d.name}"):
        TrainConfig(**{d.name: "no-such-thing" if d.base is str else 2}).validate()


def test_what_implements_a_choice_covers_the_catalogue_exactly():
    assert tuple(couplings.COUPLINGS) == choices.names(choices.COUPLINGS)
    assert tuple(ACTIVATIONS) == choices.names(choices.ACTIVATIONS)
    assert tuple(UNET_PRESETS) == choices.names(choices.UNET_SIZES)
    assert set(paths.PATHS) == set(path_specs.PATH_PARAMS)
    for name, cls in paths.PATHS.items():
        assert issubclass(cls, path_specs.PATH_PARAMS[name]), name
    for schedule in choices.names(choices.SCHEDULES):
        Trainer(TrainConfig(schedule=schedule, steps=3, hidden=8, depth=1, batch_size=8)).run(3)
    for optimizer in choices.names(choices.OPTIMIZERS):
        trainer = Trainer(TrainConfig(optimizer=optimizer, steps=1, hidden=8, batch_size=8))
        assert type(trainer.optimizer).__name__.lower() == optimizer


def test_a_path_declares_and_checks_its_own_parameters():
    stored = {d.name for d in SETTINGS if d.setting.group.name == "PATH"} - {"path", "coupling"}
    assert stored == set(path_specs.all_parameter_names())
    assert [d.name for d in path_specs.parameters("ot")] == ["sigma_min"]
    assert [d.name for d in path_specs.parameters("sbcfm")] == ["sigma"]
    assert path_specs.parameters("cosine") == ()
    with pytest.raises(ValueError, match="sigma_min"):
        paths.make_path("ot", sigma_min=1.0)
    with pytest.raises(ValueError, match="beta_min <= beta_max"):
        paths.make_path("vp", beta_min=5.0, beta_max=1.0)
    with pytest.raises(ConfigError, match="sigma must be in"):
        TrainConfig(path="sb", sigma=0.0).validate()
    TrainConfig(path="icfm", sigma=0.0).validate()  # the same σ = 0 is fine for icfm


@pytest.mark.parametrize("command", ["train", "app", "compare"])
def test_a_path_takes_its_parameters_inline_in_every_command(command):
    extra = ["--paths", "ot"] if command == "compare" else []
    extra += ["--out", "x"] if command in ("train", "compare") else []
    args = build_parser().parse_args([command, "--path", "vp:beta_min=0.5;beta_max=8", *extra])
    config = TrainConfig(**_given_config(args)).validate()
    assert (config.path, config.beta_min, config.beta_max) == ("vp", 0.5, 8.0)
    assert paths.make_path("vp", **config.path_params()).beta_max == 8.0
    with pytest.raises(SystemExit):  # another path's parameter is refused by argparse
        build_parser().parse_args([command, "--path", "ot:beta_min=0.5", *extra])


def test_compare_items_parse_each_value_as_its_setting_s_type():
    configs = dict(parse_configs("ot:sigma_min=0.05,icfm:sigma=none;steps=20", TrainConfig()))
    assert configs["ot:sigma_min=0.05"].sigma_min == 0.05
    assert configs["icfm:sigma=none;steps=20"].sigma is None
    assert configs["icfm:sigma=none;steps=20"].steps == 20
    for bad, words in (("ot:steps=1e3", "whole number"), ("ot:nope=1", "no setting 'nope'")):
        with pytest.raises(ConfigError, match=words):
            parse_configs(bad, TrainConfig())


def test_live_settings_are_what_a_running_trainer_takes_and_a_resume_may_change():
    assert set(LIVE_SETTINGS) <= set(RESUME_SETTINGS)
    assert {d.name for d in SETTINGS if d.setting.change is Change.NEW_RUN}.isdisjoint(
        RESUME_SETTINGS
    )
    trainer = Trainer(TrainConfig(steps=4, hidden=8, depth=1, batch_size=8))
    trainer.run(1)
    for d in SETTINGS:
        value = d.default
        if d.name in LIVE_SETTINGS:
            trainer.update_settings(**{d.name: value})
        else:
            with pytest.raises(ConfigError, match="cannot change during a run"):
                trainer.update_settings(**{d.name: value})


def test_a_resume_applies_live_settings_that_live_in_the_saved_state(tmp_path):
    trainer = Trainer(TrainConfig(steps=4, hidden=8, depth=1, batch_size=8, optimizer="adamw"))
    trainer.run(2)
    save_checkpoint(tmp_path, trainer)
    resumed = load_trainer(tmp_path, weight_decay=0.25, jitter=0.5)
    assert [g["weight_decay"] for g in resumed.optimizer.param_groups] == [0.25]
    assert resumed.config.jitter == 0.5 and resumed.dataset.jitter == 0.5
    with pytest.raises(ConfigError, match="hidden cannot change when a run resumes"):
        load_trainer(tmp_path, hidden=16)
    assert torch.equal(resumed.model.net[0].weight, trainer.model.net[0].weight)


def test_the_settings_and_their_texts_load_without_torch():
    code = (
        "import sys, fmstudio.core.config, fmstudio.core.config_text, fmstudio.core.path_specs\n"
        "print(sorted(m for m in ('torch', 'ot', 'PySide6') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_setting_added_in_one_place_reaches_the_cli_the_run_and_old_files(tmp_path):
    """adam_beta2 was added as one field of TrainConfig (plus its use in the optimizer): its
    flag, its range check and its live change come from that one description, and a 0.1.0
    config without it loads with torch's default, so old runs train on exactly as before."""
    args = build_parser().parse_args(["train", "--adam-beta2", "0.95", "--out", "x"])
    config = TrainConfig(**_given_config(args), steps=4, hidden=8, depth=1, batch_size=8)
    trainer = Trainer(config.validate())
    assert trainer.optimizer.param_groups[0]["betas"] == (0.9, 0.95)
    trainer.update_settings(adam_beta2=0.9)  # live, as the settings form sends it
    assert trainer.optimizer.param_groups[0]["betas"] == (0.9, 0.9)
    with pytest.raises(ConfigError, match="adam_beta2 must be in"):
        TrainConfig(adam_beta2=1.0).validate()
    old = {k: v for k, v in TrainConfig().to_dict().items() if k != "adam_beta2"}
    assert TrainConfig.from_dict(old).adam_beta2 == 0.999  # torch's own default
