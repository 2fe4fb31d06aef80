"""`fmstudio` on the command line: the same engine as the app, headless.

fmstudio                      (the desktop app; `fmstudio app --help` for a scripted start)
fmstudio data checkerboard --n 5000 --out target.npy
fmstudio train --dataset checkerboard --out runs/cb
fmstudio sample runs/cb --n 2000 --solver rk4 --nfe 40 --out samples.npy
fmstudio eval runs/cb
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from fmstudio.console import Console
from fmstudio.core import run_dir
from fmstudio.core.atomic import atomic_write
from fmstudio.core.config import RESUME_SETTINGS, SETTINGS, ConfigError, TrainConfig
from fmstudio.core.config_text import folder_name, parse_configs, path_values
from fmstudio.core.data import PRESETS, DatasetError, make_preset, save_points
from fmstudio.core.errors import CheckpointError
from fmstudio.core.outputs import (
    check_name,
    claim_file,
    claim_run_dir,
    open_log,
    replace_dir,
    same_place,
    signals_held,
)
from fmstudio.core.run_header import write_json
from fmstudio.core.schema import Described
from fmstudio.core.solver_spec import ADAPTIVE, DEFAULT_TOLERANCE, SOLVERS, SolverSpec
from fmstudio.core.tables import write_csv
from fmstudio.core.threads import default_threads

if TYPE_CHECKING:  # the commands import torch's modules when they run: `--help` needs none
    import numpy as np

    from fmstudio.core import distributed
    from fmstudio.core.training import Trainer

EXIT_INTERRUPTED = 130
MIN_WINDOW = (640, 480)
"""`--size` below this leaves no room for the views."""
MAX_WINDOW = (8192, 8192)
"""`--size` above this is no screen, and its screenshot a multi-gigabyte image (60000x60000
crashed Qt)."""
FIGURE_SOLVER = SolverSpec.fixed("rk4", 16)
"""compare.png's sample panels: 64 evaluations."""
MAX_PNG_SIDE = 4096
"""`sample --upscale` makes PNGs of at most this many pixels a side."""


class CLIError(Exception):
    """A user mistake: printed as one line, exit code 2."""


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows '(default: X)' after every option that has a default to show; an option whose help
    already says its default ('default: the dataset's') keeps its own words, and None or an
    on/off flag shows none."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.nargs == 0 or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose help shows the defaults; its subcommands' parsers are of this
    class too (argparse makes them with the parent's class), so every `--help` shows them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


def _add_run_args(p: argparse.ArgumentParser) -> None:
    """--threads and --quiet, for the commands that run torch."""
    p.add_argument(
        "--threads",
        type=int,
        help="CPU threads for torch (default: all cores but one, divided among torchrun's "
        "processes: a torch thread on a core that something else keeps busy stalls all the "
        "others, 5x slower on a busy 2-core machine)",
    )
    p.add_argument(
        "-q", "--quiet", action="store_true", help="no progress on stderr (results still print)"
    )


def _add_overwrite(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--overwrite", action="store_true", help=f"replace {what}")


def _add_solver_args(p: argparse.ArgumentParser, default: str = "rk4") -> None:
    p.add_argument("--solver", default=default, choices=SOLVERS, help="ODE solver")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, help="fixed-step solvers: number of steps")
    budget.add_argument(
        "--nfe",
        type=int,
        help="fixed-step solvers: budget of model evaluations (steps = NFE // stages)",
    )
    p.add_argument(
        "--atol", type=float, default=DEFAULT_TOLERANCE, help="adaptive solvers: absolute tolerance"
    )
    p.add_argument(
        "--rtol", type=float, default=DEFAULT_TOLERANCE, help="adaptive solvers: relative tolerance"
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps")


def _add_config_args(p: argparse.ArgumentParser) -> None:
    """One flag per setting of a run (`config.SETTINGS`), shared by `train`, `compare` and the
    app's scripted start. Their default is None, so a command knows which flags were given (a
    resume changes only those); the help shows the setting's own default."""
    for d in SETTINGS:
        if d.flag is None:
            continue
        kwargs: dict[str, Any] = {}
        if d.base is bool:
            kwargs["action"] = "store_false" if d.default else "store_true"
        else:
            kwargs["type"] = _FlagValue(d)
            if d.setting.choices:
                kwargs["metavar"] = "{" + ",".join(str(c.value) for c in d.setting.choices) + "}"
        p.add_argument(d.flag, dest=d.name, default=None, help=_flag_help(d), **kwargs)


class _FlagValue:
    """A flag's text as its setting's type (its range is checked with the whole config, as
    one line); `--path` takes its parameters inline (`ot:sigma_min=0.05`)."""

    def __init__(self, described: Described) -> None:
        self.described = described
        self.__name__ = described.name  # argparse names it in "invalid <name> value"

    def __call__(self, text: str) -> Any:
        try:
            if self.described.name == "path":
                return path_values(text)
            return self.described.parse(text)
        except (ValueError, ConfigError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None


def _flag_help(d: Described) -> str:
    """The setting's label and help, its bounds and what its default means."""
    s = d.setting
    text = s.help
    if d.base is bool:
        return f"{text} This flag turns it {'off' if d.default else 'on'}."
    if s.low is not None or s.high is not None:
        text += f" Range {s.bounds_text()}."
    default = s.none if d.default is None else d.default
    return f"{text} (default: {default})" if default not in ("", None) else text


def _given_config(args: argparse.Namespace) -> dict[str, Any]:
    """The settings whose flags were given (the others are None); `--path ot:sigma_min=0.1`
    gives the path and its parameters, each at most once."""
    names = {d.name for d in SETTINGS}
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    for key, value in given.pop("path", {}).items():
        if key in given:
            raise CLIError(f"{key} is given twice: in --path and as --{key.replace('_', '-')}")
        given[key] = value
    return given


def _solver(args: argparse.Namespace) -> SolverSpec:
    """The solver the flags describe (a fixed-step one without --steps/--nfe takes 50 steps;
    tolerances only matter to adaptive ones)."""
    if args.solver in ADAPTIVE:
        if args.steps is not None or args.nfe is not None:
            raise CLIError(f"--steps/--nfe are for fixed-step solvers; '{args.solver}' is adaptive")
        return SolverSpec(args.solver, atol=args.atol, rtol=args.rtol)
    steps = 50 if args.steps is None and args.nfe is None else args.steps
    return SolverSpec(args.solver, steps=steps, nfe=args.nfe, atol=args.atol, rtol=args.rtol)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fmstudio",
        description="Train, sample and evaluate Flow Matching models (Lipman et al., ICLR 2023).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("data", help="write samples of a 2-D dataset to .npy or .csv")
    p.add_argument("name", choices=sorted(PRESETS), help="dataset preset")
    p.add_argument("--n", type=int, default=5000, help="number of points")
    p.add_argument("--seed", type=int, default=0, help="seed of the points")
    p.add_argument("--out", required=True, help="output file (.npy or .csv)")
    _add_overwrite(p, "the output file")

    p = sub.add_parser("train", help="train a flow matching model, write DIR/model.safetensors")
    _add_config_args(p)
    p.add_argument(
        "--out",
        help="run directory (model, config, metrics); with --resume: write the continued run "
        "here and leave the original as it is",
    )
    p.add_argument(
        "--resume",
        type=Path,
        help="continue the run in this directory; flags given change only what a run may "
        f"change as it goes ({', '.join(RESUME_SETTINGS)}); --steps is the new total, and the "
        "LR schedule stretches to it",
    )
    _add_overwrite(p, "a run (or anything) already in --out, at the first save")
    p.add_argument("--log-every", type=int, default=50, help="steps between metrics.jsonl lines")
    p.add_argument(
        "--save-every",
        type=float,
        default=300.0,
        help="seconds between checkpoints while training (0: only at the end); each save "
        "replaces the last one atomically",
    )
    _add_run_args(p)

    p = sub.add_parser(
        "compare", help="train several paths/couplings side by side; W2-vs-NFE table and figure"
    )
    _add_config_args(p)
    p.add_argument(
        "--paths",
        required=True,
        help="comma-separated configurations, each a path or preset with optional overrides: "
        "'ot,vp,icfm,otcfm' or 'ot:sigma_min=0.01,ot:sigma_min=0'",
    )
    p.add_argument("--n", type=int, default=2000, help="samples and fresh target points for W2")
    p.add_argument("--out", required=True, help="output directory")
    _add_overwrite(p, "what is already in --out")
    _add_run_args(p)

    p = sub.add_parser(
        "reflow", help="straighten a trained flow: train on its own (noise, sample) pairs"
    )
    p.add_argument("run", type=Path, help="run directory of the flow to reflow")
    p.add_argument("--pairs", type=int, default=20000, help="(noise, sample) pairs to train on")
    p.add_argument("--steps", type=int, default=2000, help="training steps of the reflow")
    p.add_argument("--seed", type=int, help="seed (default: the run's)")
    p.add_argument("--out", required=True, help="run directory to write")
    _add_overwrite(p, "a run already in --out")
    _add_run_args(p)

    p = sub.add_parser("app", help="open the desktop app (what `fmstudio` alone does)")
    _add_config_args(p)
    p.add_argument("--session", type=Path, help="open this session file (its settings win)")
    p.add_argument("--train", action="store_true", help="start training at once")
    p.add_argument("--sample", action="store_true", help="sample once training has finished")
    p.add_argument("--time", type=float, help="put the t-slider here (0 = noise, 1 = data)")
    p.add_argument("--marginal", action="store_true", help="overlay the exact marginal field")
    p.add_argument("--screenshot", type=Path, help="save the window as PNG when done, then quit")
    p.add_argument("--shots", type=Path, help="also save each view as DIR/<view>.png")
    p.add_argument(
        "--size",
        help="window size WxH (default: the last size while it fits the screen, else 1500x950 "
        "shrunk to the screen)",
    )
    p.add_argument(
        "--compare",
        metavar="SPEC",
        help="open compare mode on this target with these configurations, e.g. ot,vp,otcfm "
        "(with --train: train them all, measure, and with --screenshot/--shots shoot and quit)",
    )
    p.add_argument(
        "--reflow",
        metavar="NAMES",
        help="with --compare --train: reflow these configurations (comma-separated) once trained",
    )
    p.add_argument(
        "--timeout", type=float, default=600.0, help="scripted start: give up after this long"
    )

    p = sub.add_parser(
        "sample", help="sample a trained model to .npy/.csv (points) or PNGs (images)"
    )
    p.add_argument("run", type=Path, help="run directory written by `fmstudio train`")
    p.add_argument("--n", type=int, help="samples (default 5000 points or 64 images)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise")
    p.add_argument(
        "--out",
        required=True,
        help="points: an .npy or .csv file; images: a directory (grid.png, one PNG per "
        "sample and samples.npy)",
    )
    _add_overwrite(p, "an existing --out file or folder")
    p.add_argument(
        "--upscale", type=int, help="images: enlarge PNGs by this factor (default: to ~64 px)"
    )
    _add_solver_args(p)
    _add_run_args(p)

    p = sub.add_parser(
        "eval",
        help="print JSON: w2, nll, nfe, straightness of a trained model (images: bits/dim, nfe)",
    )
    p.add_argument("run", type=Path, help="run directory written by `fmstudio train`")
    p.add_argument(
        "--n", type=int, help="samples (and fresh target points for W2); default 5000, images 64"
    )
    p.add_argument(
        "--nll-n", type=int, help="held-out points or images scored; default 1000, images 128"
    )
    p.add_argument("--seed", type=int, default=12345, help="seed of samples and fresh targets")
    _add_solver_args(p, default="dopri5")
    _add_run_args(p)
    return parser


def _check_counts(args: argparse.Namespace, *names: str) -> None:
    """A count flag that was given must be >= 1 (0 used to mean "the default")."""
    for name in names:
        value = getattr(args, name)
        if value is not None and value < 1:
            raise CLIError(f"--{name.replace('_', '-')} must be at least 1, got {value}")


def cmd_data(args: argparse.Namespace) -> int:
    out = check_name(args.out)
    claim_file(out, args.overwrite)
    points = make_preset(args.name, args.n, args.seed)
    save_points(out, points)
    print(f"wrote {len(points)} points of '{args.name}' to {args.out}")
    return 0


def _config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(**_given_config(args)).validate()


def cmd_train(args: argparse.Namespace) -> int:
    """Train or resume a run. Under torchrun every rank trains; rank 0 alone writes and prints.

    The run directory is locked for the whole run (a second writer is refused) and saved
    every `--save-every` seconds and at the end, each save atomic as a whole (`run_dir`).
    """
    if args.log_every < 1:
        raise CLIError(f"--log-every must be at least 1, got {args.log_every}")
    if not 0 <= args.save_every < float("inf"):
        raise CLIError(f"--save-every must be a number of seconds >= 0, got {args.save_every}")
    if args.resume is None and args.out is None:
        raise CLIError("train needs --out DIR (or --resume DIR)")
    resuming = args.resume is not None
    if resuming and not args.resume.is_dir():
        raise CLIError(f"--resume {args.resume}: no such run folder")
    out = check_name(args.out) if args.out is not None else args.resume
    config = None if resuming else _config_from_args(args)  # refused before anything is made
    from fmstudio.core import distributed

    ctx = distributed.from_env(args.device or "auto")
    main = ctx is None or ctx.is_main
    try:
        if main and not (resuming and same_place(out, args.resume)):
            hint = "" if resuming else f", or --resume {out} to continue it"
            claim_run_dir(out, args.overwrite, hint)
        with run_dir.RunLock(out) if main else contextlib.nullcontext():
            return _train(args, config, out, ctx)
    finally:
        distributed.shutdown(ctx)


def _train(
    args: argparse.Namespace,
    config: TrainConfig | None,
    out: Path,
    ctx: distributed.DistContext | None,
) -> int:
    """Train the new run `config`, or (None) resume `args.resume`, writing into `out`."""
    from fmstudio.core import distributed, io
    from fmstudio.core.training import DivergenceError, Trainer

    main = ctx is None or ctx.is_main
    if config is None:
        trainer = io.load_trainer(args.resume, dist=ctx, **_given_config(args))
        if trainer.done:
            if main:
                print(
                    f"nothing to do: {args.resume} has trained its {trainer.config.steps} "
                    f"steps; pass --steps N (more than {trainer.step_count}) to train on"
                )
            return 0
        if main:
            print(f"resuming {args.resume} at step {trainer.step_count} of {trainer.config.steps}")
    else:
        trainer = Trainer(config, dist=ctx)
    metrics = out / "metrics.jsonl"
    if main:
        _start_metrics(metrics, args.resume)
    console = Console(args.quiet)

    def save() -> None:
        with signals_held():
            io.save_checkpoint(out, trainer)

    trainer.optimizer  # noqa: B018 - built now: an interrupt inside its lazy imports breaks them
    restore_int = signal.getsignal(signal.SIGINT)
    restore = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        if main:
            _train_loop(trainer, metrics, args.log_every, console, save, args.save_every)
        else:
            trainer.train(chunk=args.log_every)
    except KeyboardInterrupt:
        with signals_held(reraise=False):  # torchrun signals every rank, maybe twice
            if main:
                io.save_checkpoint(out, trainer)
                print(
                    f"\ninterrupted at step {trainer.step_count}; saved to {out}. "
                    f"Continue with: fmstudio train --resume {out}",
                    file=sys.stderr,
                )
        return EXIT_INTERRUPTED  # no barrier: the other ranks may have exited already
    except DivergenceError as exc:
        if main:
            save()
        distributed.barrier(ctx)  # all ranks raise at the same step (see Trainer.step)
        if not main:
            return 2  # rank 0 reports it
        raise CLIError(f"{exc} Saved the last good model to {out}.") from None
    except RuntimeError as exc:
        lost = None if ctx is None else distributed.lost_peer(exc, ctx)
        if lost is None:
            raise
        return _stop_for_lost_peer(lost, main, out, trainer)
    finally:
        signal.signal(signal.SIGTERM, restore)
        signal.signal(signal.SIGINT, restore_int)
    if main:
        save()
        print(
            f"trained {trainer.step_count} steps in {trainer.elapsed:.1f} s "
            f"({trainer.config.path_name}/{trainer.config.coupling_name}, "
            f"device {trainer.device}); wrote {out}/model.safetensors and config.json"
        )
    distributed.barrier(ctx)
    return 0


def _stop_for_lost_peer(lost: str, main: bool, out: Path, trainer: Trainer) -> NoReturn:
    """End this rank after a peer died or stalled (`distributed.lost_peer` says which): rank 0
    saves its last completed step and says how to go on, any other rank writes nothing.

    Every collective of a step runs before `optimizer.step()`, so a failed one leaves the
    weights, optimizer and EMA of the last completed step. Signals wait meanwhile: torchrun,
    having seen the peer end, terminates this rank too, and the save and the line must finish.

    The rank then ends at once: with a peer gone the process group cannot be left cleanly, and
    gloo's threads made the interpreter's exit print "terminate called without an active
    exception" under the one line the user should read.
    """
    from fmstudio.core import io

    with signals_held(reraise=False):
        if main:
            io.save_checkpoint(out, trainer)
            lost += f": saved step {trainer.step_count} to {out}; continue with "
            lost += f"fmstudio train --resume {out}"
        else:
            lost += "; stopping this rank, which writes nothing"
        print(f"fmstudio train: error: {lost}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(2)


def _start_metrics(metrics: Path, resumed_from: Path | None) -> None:
    """A new run starts its metrics log afresh; a resume into another folder carries the
    log of the run it continues, so the new folder's log covers the whole run."""
    if resumed_from is None:
        metrics.unlink(missing_ok=True)
        return
    source = resumed_from / "metrics.jsonl"
    if not same_place(source, metrics) and source.is_file() and not source.is_symlink():
        metrics.unlink(missing_ok=True)
        shutil.copyfile(source, metrics)


def _train_loop(
    trainer: Trainer,
    metrics_path: Path,
    log_every: int,
    console: Console,
    save: Callable[[], None] | None = None,
    save_every: float = 0.0,
) -> None:
    """Train to the end, logging every `log_every` steps with a bar on the console and
    calling `save` every `save_every` seconds (0: never; the caller saves at the end)."""
    bar = console.bar(trainer.config.steps, initial=trainer.step_count)
    last_save = time.monotonic()
    with bar, open_log(metrics_path) as log:
        while not trainer.done:
            losses = trainer.run(log_every - trainer.step_count % log_every)
            bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)  # update() redraws
            bar.update(len(losses))
            record = {
                "step": trainer.step_count,
                "loss": losses[-1],
                "elapsed_s": round(trainer.elapsed, 3),
            }
            log.write(json.dumps(record) + "\n")
            log.flush()
            if save is not None and save_every and time.monotonic() - last_save >= save_every:
                save()
                last_save = time.monotonic()


def cmd_sample(args: argparse.Namespace) -> int:
    from fmstudio.core import io

    solver = _solver(args)
    _check_counts(args, "n")
    console = Console(args.quiet)
    out = check_name(args.out)
    flow = io.load_flow(args.run, device=args.device)
    images = len(flow.data_shape) == 3
    if images:
        if out.suffix:
            raise CLIError(f"an image run samples into a directory, not a file: {out}")
        claim_run_dir(out, args.overwrite)
        scale = _upscale(args.upscale, flow.data_shape[-1])
    else:
        claim_file(out, args.overwrite)
    n = args.n or (64 if images else 5000)
    console.phase(f"sampling {n} {'images' if images else 'points'} with {args.solver}")
    start = time.perf_counter()
    result = flow.sample(n, seed=args.seed, solver=solver)
    elapsed = time.perf_counter() - start
    samples = result.x.float().cpu().numpy()
    if images:
        replace_dir(out, lambda folder: _write_images(samples, folder, scale))
    else:
        save_points(out, samples)
    print(f"NFE {result.nfe}; {n} samples in {elapsed:.2f} s with {args.solver} -> {args.out}")
    return 0


def _upscale(upscale: int | None, side: int) -> int:
    """`--upscale`, or enough to show ~64 px; at most MAX_PNG_SIDE pixels a side."""
    if upscale is None:
        return max(1, 64 // side)
    if not 1 <= upscale <= MAX_PNG_SIDE // side:
        raise CLIError(
            f"--upscale must be 1 to {MAX_PNG_SIDE // side} for {side}-pixel images "
            f"(PNGs of at most {MAX_PNG_SIDE} pixels a side), got {upscale}"
        )
    return upscale


def _write_images(samples: np.ndarray, out: Path, scale: int) -> None:
    """grid.png, one PNG per sample and samples.npy (values in [-1, 1]) into `out`."""
    import numpy as np

    from fmstudio.core import imagegrid

    imagegrid.save_png(imagegrid.grid(samples), out / "grid.png", upscale=scale)
    imagegrid.save_images(samples, out, upscale=scale)
    atomic_write(out / "samples.npy", lambda handle: np.save(handle, samples, allow_pickle=False))


def cmd_eval(args: argparse.Namespace) -> int:
    """The report as one JSON line on stdout; its phases, timed, on stderr."""
    from fmstudio.core.evaluate import evaluate, evaluate_images
    from fmstudio.core.run_header import read_header

    solver = _solver(args)
    _check_counts(args, "n", "nll_n")
    console = Console(args.quiet)
    if read_header(args.run)["config"].is_image:
        report = evaluate_images(
            args.run, n=args.n or 64, nll_n=args.nll_n or 128, seed=args.seed,
            device=args.device, progress=console.phase, solver=solver,
        )  # fmt: skip
    else:
        report = evaluate(
            args.run, n=args.n or 5000, nll_n=args.nll_n or 1000, seed=args.seed,
            device=args.device, progress=console.phase, solver=solver,
        )  # fmt: skip
    console.phase("done")
    print(json.dumps(report))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from fmstudio.core import figure, io
    from fmstudio.core.compare_paths import compare
    from fmstudio.core.view_data import plot_bounds

    _check_counts(args, "n")
    base = _config_from_args(args)
    configs = parse_configs(args.paths, base)
    out = check_name(args.out)
    claim_run_dir(out, args.overwrite)
    out.mkdir(parents=True, exist_ok=True)
    console = Console(args.quiet)
    done = {name: 0 for name, _ in configs}
    with console.bar(sum(config.steps for _, config in configs)) as bar:

        def trained(name: str, trainer: Trainer) -> None:
            done[name] = trainer.step_count
            bar.update(sum(done.values()) - bar.n)
            if bar.n >= bar.total:
                bar.close()  # before the measurements print their phases

        trainers, ladder, table = compare(
            configs, n=args.n, seed=base.seed + 12345, callback=trained, progress=console.phase
        )
    console.phase("writing the models, tables and figure")
    for name, trainer in trainers.items():
        io.save_checkpoint(out / folder_name(name), trainer)
    _write_rows(out / "w2_vs_nfe", ladder)
    _write_rows(out / "table", table)
    series = {f"{row['config']} {row['solver']}": [] for row in ladder if row["solver"] != "dopri5"}
    for row in ladder:
        if row["solver"] != "dopri5" and row["w2"] is not None:
            series[f"{row['config']} {row['solver']}"].append((row["nfe"], row["w2"]))
    rk4 = {key: value for key, value in series.items() if key.endswith(" rk4")}
    chart = figure.line_chart(rk4, "W2 to fresh target points vs NFE (rk4)")
    target = next(iter(trainers.values())).target(args.n, base.seed + 1).numpy()
    extent = max(abs(b) for b in plot_bounds(target))  # a square about 0 that holds the data
    panels = [figure.scatter(target, "target", (30, 30, 30), extent)]
    figure_solver = f"{FIGURE_SOLVER.method}, {FIGURE_SOLVER.planned_nfe} NFE"
    for name, trainer in trainers.items():
        samples = trainer.flow().sample(args.n, seed=base.seed, solver=FIGURE_SOLVER).x
        panels.append(
            figure.scatter(samples.numpy(), f"{name} ({figure_solver})", (200, 50, 40), extent)
        )
    figure.row([*panels, chart]).save(out / "compare.png")
    for row in table:
        print(
            f"{row['config']:>16}  W2 {row['w2']:.3f}  straightness {row['straightness']:.3f}  "
            f"dopri5 NFE {row['nfe_dopri5']}  NLL {row['nll']:.3f}"
        )
    print(f"wrote {out}/w2_vs_nfe.csv, table.csv, compare.png and one model per configuration")
    return 0


def _write_rows(stem: Path, rows: list[dict]) -> None:
    """Rows as CSV and JSON, atomically."""
    write_csv(stem.with_suffix(".csv"), rows)
    write_json(stem.with_suffix(".json"), rows)


def cmd_reflow(args: argparse.Namespace) -> int:
    from fmstudio.core import io
    from fmstudio.core.reflow import reflow_trainer

    console = Console(args.quiet)
    out = check_name(args.out)
    if same_place(out, args.run):
        raise CLIError(f"--out {out} is the run being reflowed; write the reflow elsewhere")
    claim_run_dir(out, args.overwrite)
    parent = io.load_trainer(args.run)
    console.phase(f"generating {args.pairs} (noise, sample) pairs with the trained flow")
    child = reflow_trainer(parent, pairs=args.pairs, steps=args.steps, seed=args.seed)
    with run_dir.RunLock(out):
        (out / "metrics.jsonl").unlink(missing_ok=True)
        _train_loop(child, out / "metrics.jsonl", 50, console)
        with signals_held():
            io.save_checkpoint(out, child)
    print(f"reflowed {args.run} on {args.pairs} pairs for {args.steps} steps; wrote {args.out}")
    return 0


def cmd_app(args: argparse.Namespace) -> int:
    from fmstudio.live.launch import start_engine_process

    config = _config_from_args(args)
    args.size = None if args.size is None else window_size(args.size)
    if args.reflow and not (args.compare and args.train):
        raise CLIError("--reflow needs --compare and --train")
    if args.time is not None and not 0.0 <= args.time <= 1.0:  # NaN fails this too
        raise CLIError(f"--time must be between 0 (noise) and 1 (data), got {args.time}")
    if args.session is None:
        config.make_dataset()  # a missing or bad data file fails here, before anything starts
    engine = start_engine_process()  # its imports overlap the window's start-up
    from fmstudio.app.main import run_app  # Qt loads only for the app, never for headless use

    return run_app(args, config, engine)


def window_size(text: str) -> tuple[int, int]:
    """WxH from `--size`, or a clear error."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise CLIError(f"--size must look like 1500x950, got {text!r}") from None
    if not (MIN_WINDOW[0] <= width <= MAX_WINDOW[0] and MIN_WINDOW[1] <= height <= MAX_WINDOW[1]):
        raise CLIError(
            f"--size must be from {MIN_WINDOW[0]}x{MIN_WINDOW[1]} to "
            f"{MAX_WINDOW[0]}x{MAX_WINDOW[1]}, got {text!r}"
        )
    return width, height


COMMANDS = {
    "data": cmd_data,
    "train": cmd_train,
    "sample": cmd_sample,
    "eval": cmd_eval,
    "compare": cmd_compare,
    "reflow": cmd_reflow,
    "app": cmd_app,
}


def _use_threads(count: int | None) -> None:
    """torch's CPU threads: `--threads`, else all cores but one (`core.threads` says why)."""
    if count is not None and count < 1:
        raise CLIError(f"--threads must be at least 1, got {count}")
    import torch

    torch.set_num_threads(count or default_threads())


def _one_line(exc: BaseException) -> str:
    """The message of an error as one line: an OSError's reason and file ('cannot write
    x.npy: No space left on device'), anything else as it reads."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename and not isinstance(exc, CLIError):
        return f"{exc.filename}: {exc.strerror}"
    return " ".join(str(exc).split())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv or ["app"])
    try:
        if "threads" in args:
            _use_threads(args.threads)
        return COMMANDS[args.command](args)
    except (CLIError, ConfigError, DatasetError, CheckpointError, ValueError,
            ArithmeticError, OSError) as exc:  # fmt: skip
        print(f"fmstudio {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"fmstudio {args.command}: error: out of memory", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"fmstudio {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
