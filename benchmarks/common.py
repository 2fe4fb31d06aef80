"""Shared helpers for the benchmark scripts: machine description and JSON output."""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys

import torch


def machine() -> dict:
    """What the figures were measured on (recorded next to every result)."""
    info = {
        "date": datetime.date.today().isoformat(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        if names:
            info["cpu"] = names[0]
    except OSError:
        pass
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def emit(name: str, results: object) -> None:
    """Print one JSON object: the benchmark, the machine and the results."""
    json.dump({"benchmark": name, "machine": machine(), "results": results}, sys.stdout, indent=2)
    sys.stdout.write("\n")
