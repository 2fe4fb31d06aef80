"""Fixtures every test directory shares."""

from __future__ import annotations

import dataclasses

import pytest

from fmstudio.core.config import TrainConfig

SMALL_CONFIG = TrainConfig(
    hidden=32, depth=2, batch_size=128, steps=40, warmup_steps=5, device="cpu"
)
"""A run that trains in about a second on 2 CPU cores and still learns its target."""


@pytest.fixture
def small_config() -> TrainConfig:
    """A fresh copy of `SMALL_CONFIG` (a test may change its copy)."""
    return dataclasses.replace(SMALL_CONFIG)
