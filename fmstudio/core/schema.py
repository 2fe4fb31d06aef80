"""Settings described once: name, type, default, label, help, bounds or choices, group, when a
setting may change and where it shows.

A setting is a dataclass field whose metadata holds a `Setting` (made with `setting(...)`).
Everything else is generated from it: the range and choice checks of `TrainConfig.validate`
and of the path dataclasses (`check`), the CLI flags (`fmstudio.cli`), the settings forms of
both windows with their tooltips, and the split between what a running trainer takes live and
what needs a new run (`names_that_may`).

This module imports only the standard library, so that the window and `fmstudio --help` can
read every description without importing torch.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


class Group(str, enum.Enum):
    """The section a setting is shown in, in this order."""

    DATA = "Data"
    PATH = "Path"
    MODEL = "Model"
    IMAGES = "Images"
    OPTIMISATION = "Optimisation"
    RUN = "Run"


class Change(enum.IntEnum):
    """When a setting may change, from the most to the least permissive."""

    LIVE = 0
    """Between two steps of a running trainer (`Trainer.update_settings`), and on resume."""
    RESUME = 1
    """When a saved run resumes: how it goes on (device, precision), not what it learns."""
    NEW_RUN = 2
    """Shapes the model, the path, the data or the random stream: only a new run takes it."""


class Applies(enum.Flag):
    """Which runs a setting means something for."""

    POINTS = enum.auto()
    IMAGES = enum.auto()
    BOTH = POINTS | IMAGES


@dataclass(frozen=True)
class Choice:
    """One value of a setting with a fixed list of values, with what it means."""

    value: Any
    label: str
    help: str = ""


@dataclass(frozen=True)
class Setting:
    """The description of one setting; `setting()` attaches it to a dataclass field."""

    label: str
    help: str
    group: Group
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    """The bound `low` itself is excluded (value > low)."""
    high_open: bool = False
    choices: tuple[Choice, ...] = ()
    change: Change = Change.NEW_RUN
    applies: Applies = Applies.BOTH
    none: str = ""
    """What None means, shown in place of a value ("auto (from path)", "data diameter")."""
    zero: str = ""
    """What 0 means where it is special ("off"), shown in place of the number."""
    flag: str = ""
    """The CLI flag when it is not `--name-with-dashes` (`--no-amp`); "-" for no flag."""
    also: str = ""
    """A pattern of values allowed beside `choices` (`cuda:N` beside the named devices)."""
    form: bool = True
    """Shown in the generated settings form; False: a hand-made control edits it (the data
    panel edits the dataset), named `setting_<name>` all the same."""
    step: float | None = None
    """Arrow step of the control; None: 1 for integers, a tenth of a decade for floats."""
    decimals: int = 3
    log: bool = False
    """Spans decades (learning rates): the control steps 1-2-5 and shows 1e-3 style."""

    def bounds_text(self) -> str:
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        return f"{left}{_number(self.low)}, {_number(self.high)}{right}"


def _number(value: float | None) -> str:
    if value is None:
        return "∞"
    return f"{value:g}" if isinstance(value, float) else str(value)


def setting(default: Any, label: str, help: str, group: Group, **kwargs: Any) -> Any:
    """A dataclass field with this default and its `Setting` description."""
    return dataclasses.field(
        default=default, metadata={"setting": Setting(label, help, group, **kwargs)}
    )


@dataclass(frozen=True)
class Described:
    """A setting with its field: name, Python type, default and description."""

    name: str
    type: Any
    default: Any
    setting: Setting

    @property
    def optional(self) -> bool:
        return type(None) in _members(self.type)

    @property
    def base(self) -> type:
        """The value's type without None: bool, int, float or str."""
        (kind,) = (t for t in _members(self.type) if t is not type(None))
        return kind

    @property
    def flag(self) -> str | None:
        if self.setting.flag == "-":
            return None
        return self.setting.flag or "--" + self.name.replace("_", "-")

    def parse(self, text: str) -> Any:
        """A value typed as text (CLI, `ot:sigma_min=0.05`), as the field's type."""
        text = text.strip()
        if self.optional and text.lower() in ("none", "auto", "default", ""):
            return None
        kind = self.base
        if kind is bool:
            lowered = text.lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ValueError(f"{self.name} must be true or false, got {text!r}")
            return lowered in ("true", "1", "yes", "on")
        try:
            return kind(text)
        except ValueError:
            raise ValueError(f"{self.name} must be {_article(kind)}, got {text!r}") from None

    def problem(self, value: Any) -> str | None:
        """Why `value` is not allowed for this setting, or None when it is."""
        if value is None:
            return None if self.optional else f"{self.name} must be set"
        kind = self.base
        allowed: tuple[type, ...] = (int, float) if kind is float else (kind,)
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, allowed):
            return f"{self.name} must be {_article(kind)}, got {_shorten(value)}"
        s = self.setting
        named = value in {c.value for c in s.choices}
        if s.choices and not named and not (s.also and re.fullmatch(s.also, str(value))):
            return f"unknown {self.name} {value!r}; choose one of {[c.value for c in s.choices]}"
        if kind in (int, float):
            if not math.isfinite(value):
                return f"{self.name} must be a finite number, got {value}"
            low_bad = s.low is not None and (value <= s.low if s.low_open else value < s.low)
            high_bad = s.high is not None and (value >= s.high if s.high_open else value > s.high)
            if low_bad or high_bad:
                return f"{self.name} must be in {s.bounds_text()}, got {value}"
        return None


def _article(kind: type) -> str:
    return {bool: "true or false", int: "a whole number", float: "a number"}.get(kind, "text")


def _members(annotation: Any) -> tuple[type, ...]:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return typing.get_args(annotation)
    return (annotation,)


def _shorten(value: Any, limit: int = 80) -> str:
    """A bad value as a message shows it: a 100 000-element list is not a one-line error."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 5]}… ({type(value).__name__})"


@functools.cache
def described(cls: type) -> tuple[Described, ...]:
    """The settings of a dataclass, in field order (fields without a `Setting` are skipped);
    read once per class (every `check` of a config or a path asks again)."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        meta = f.metadata.get("setting")
        if meta is not None:
            out.append(Described(f.name, hints[f.name], f.default, meta))
    return tuple(out)


def check(obj: Any, error: type[Exception] = ValueError) -> None:
    """Raise `error` naming the first setting of `obj` whose value is not allowed."""
    for d in described(type(obj)):
        message = d.problem(getattr(obj, d.name))
        if message is not None:
            raise error(message)


def names_that_may(cls: type, change: Change) -> tuple[str, ...]:
    """The settings of `cls` that may change at `change` (LIVE ⊂ RESUME)."""
    return tuple(d.name for d in described(cls) if d.setting.change <= change)


def by_group(items: tuple[Described, ...]) -> Iterator[tuple[Group, list[Described]]]:
    """Settings grouped in `Group` order, each group in field order; empty groups skipped."""
    for group in Group:
        members = [d for d in items if d.setting.group is group]
        if members:
            yield group, members
