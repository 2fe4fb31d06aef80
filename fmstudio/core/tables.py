"""Rows of measurements as files: CSV (None as an empty cell), written atomically. Light (no
torch): the compare window writes its tables with it."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from typing import Any

from fmstudio.core.atomic import atomic_write


def write_csv(path: str | os.PathLike, rows: Sequence[dict[str, Any]]) -> None:
    """Rows as CSV (None as an empty cell), written atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else [])
    writer.writeheader()
    writer.writerows(rows)
    text = buffer.getvalue()
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))
