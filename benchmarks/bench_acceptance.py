"""The issue's acceptance run: `fmstudio train --dataset checkerboard --out DIR` with the
defaults, then `fmstudio eval DIR`, for seeds 0–4; W2 against 5000 fresh points must be ≤ 0.25
with at most 60 s of training on 2 CPU cores.

    python -m benchmarks.bench_acceptance [--seeds 0,1,2,3,4]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
from pathlib import Path

from benchmarks.common import emit
from fmstudio.cli import main as cli


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", default="0,1,2,3,4")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in map(int, args.seeds.split(",")):
            run = Path(tmp) / f"cb{seed}"
            assert (
                cli(["train", "--dataset", "checkerboard", "--seed", str(seed), "--out", str(run)])
                == 0
            )
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                assert cli(["eval", str(run)]) == 0
            report = json.loads(buffer.getvalue())
            metrics = (run / "metrics.jsonl").read_text().splitlines()
            train_s = json.loads(metrics[-1])["elapsed_s"]
            rows.append({"seed": seed, "train_s": train_s, **report})
    emit("acceptance_checkerboard", {"runs": rows, "max_w2": max(r["w2"] for r in rows)})


if __name__ == "__main__":
    main()
