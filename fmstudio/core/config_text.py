"""Settings written as text: a path with its parameters (`ot:sigma_min=0.05`, the `--path` of
every command) and compare mode's list of configurations (`ot,vp,ot:sigma_min=0.05`).

Each value is parsed as the type its setting declares (schema.py), so `sigma=none` is None and
`steps=1e3` is an error naming `steps`, never a string that fails later.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fmstudio.core import path_specs
from fmstudio.core.config import SETTINGS, ConfigError, TrainConfig


def path_values(text: str) -> dict[str, Any]:
    """'ot:sigma_min=0.05' → {'path': 'ot', 'sigma_min': 0.05}: a path or preset and its own
    parameters only (ConfigError for another path's, or a bad value)."""
    try:
        name, params = path_specs.split_spec(text)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return {"path": name, **params}


def parse_configs(spec: str, base: TrainConfig) -> list[tuple[str, TrainConfig]]:
    """'ot,vp,otcfm' or 'ot:sigma_min=0.01,vp' → named configs sharing every other field.

    Each item is a path (or preset) with optional `:key=value;key=value` overrides of any
    setting of the base config; two items with the same text are an error, so every name is
    unique.
    """
    settings = {d.name: d for d in SETTINGS}
    configs: list[tuple[str, TrainConfig]] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        path, _, overrides = item.partition(":")
        values: dict[str, Any] = {"path": path.strip()}
        for pair in filter(None, (p.strip() for p in overrides.split(";"))):
            key, sep, raw = (part.strip() for part in pair.partition("="))
            if not sep:
                raise ConfigError(f"'{pair}' in '{item}' is not key=value")
            if key not in settings:
                raise ConfigError(f"'{item}': there is no setting '{key}'")
            try:
                values[key] = settings[key].parse(raw)
            except ValueError as exc:
                raise ConfigError(f"'{item}': {exc}") from None
        configs.append((item, dataclasses.replace(base, **values).validate()))
    names = [name for name, _ in configs]
    if len(set(names)) != len(names):
        raise ConfigError(f"configurations must differ, got {names}")
    if not configs:
        raise ConfigError("give at least one configuration, e.g. --paths ot,vp")
    return configs


def folder_name(config: str) -> str:
    """A file-system-safe folder name for a configuration: 'ot:sigma_min=0.1' →
    'ot_sigma_min-0.1'."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in config.replace("=", "-"))
