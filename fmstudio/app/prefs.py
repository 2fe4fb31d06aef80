"""Preferences that outlive a session (QSettings): window layout, recent files, view options."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

MAX_RECENT = 8


class Prefs:
    """Typed access to the app's QSettings; tests pass their own (an INI file in tmp_path)."""

    def __init__(self, settings: QSettings | None = None) -> None:
        self.settings = settings or QSettings("fmstudio", "fmstudio")

    def recent_sessions(self) -> list[str]:
        value = self.settings.value("recentSessions", [])
        if isinstance(value, str):  # QSettings hands back a lone string for one-item lists
            value = [value]
        return [str(v) for v in value or []]

    def add_recent(self, path: str | Path) -> list[str]:
        """Put `path` first (once) and keep the newest MAX_RECENT."""
        text = str(Path(path).resolve())
        items = [text] + [p for p in self.recent_sessions() if p != text]
        self.settings.setValue("recentSessions", items[:MAX_RECENT])
        return items[:MAX_RECENT]

    def remove_recent(self, path: str) -> None:
        self.settings.setValue("recentSessions", [p for p in self.recent_sessions() if p != path])

    def layout(self) -> tuple[QByteArray | None, QByteArray | None]:
        return self.settings.value("geometry"), self.settings.value("windowState")

    def save_layout(self, geometry: QByteArray, state: QByteArray) -> None:
        self.settings.setValue("geometry", geometry)
        self.settings.setValue("windowState", state)

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.settings.value(key, default)
        return value in (True, "true", "1", 1)

    def set_flag(self, key: str, value: bool) -> None:
        self.settings.setValue(key, bool(value))

    def last_dir(self) -> str:
        return str(self.settings.value("lastDir", str(Path.home())))

    def set_last_dir(self, path: str | Path) -> None:
        p = Path(path)
        self.settings.setValue("lastDir", str(p if p.is_dir() else p.parent))

    def sync(self) -> None:
        self.settings.sync()
