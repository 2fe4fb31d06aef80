"""How many CPU threads torch uses: one rule for the command line and the app's training process.

torch's default is a thread per core. Its CPU kernels split every operation among the threads
and wait for the slowest, so when anything else holds a core (the app's window, a browser,
another job) the thread on that core is descheduled and every operation waits for it. On a
2-core VM with one core kept busy, 300 training steps of the default 2-D MLP took 17.1 s with 2
threads and 3.6 s with 1, and a dopri5 solve 19.9 s vs 2.9 s (benchmarks/RESULTS.md). Leaving
one core free costs at most 1/cores of the peak on an idle machine and avoids that cliff on a
busy one. Under torchrun several processes share the machine's cores, so each gets its share.
"""

from __future__ import annotations

import os


def available_cores() -> int:
    """Cores this process may run on: its CPU affinity (taskset, a container's cpuset) where
    the platform has one, else every core of the machine."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def local_ranks() -> int:
    """Processes torchrun started on this machine (its LOCAL_WORLD_SIZE); 1 without torchrun."""
    value = os.environ.get("LOCAL_WORLD_SIZE", "1")
    try:
        return max(1, int(value))
    except ValueError:
        raise RuntimeError(
            f"environment variable LOCAL_WORLD_SIZE={value!r} is not an integer"
        ) from None


def default_threads() -> int:
    """All available cores but one, divided among the local ranks; at least one."""
    return max(1, (available_cores() - 1) // local_ranks())
