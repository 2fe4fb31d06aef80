"""The CPU thread count torch gets: all cores but one, shared among torchrun's local ranks."""

from __future__ import annotations

import pytest

from fmstudio.core import threads


@pytest.mark.parametrize(
    ("cores", "ranks", "expected"),
    [(1, 1, 1), (2, 1, 1), (16, 1, 15), (16, 2, 7), (16, 4, 3), (2, 2, 1), (4, 8, 1)],
)
def test_all_cores_but_one_shared_among_local_ranks(monkeypatch, cores, ranks, expected):
    monkeypatch.setattr(threads, "available_cores", lambda: cores)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", str(ranks))
    assert threads.default_threads() == expected


def test_without_torchrun_one_process_gets_them_all_but_one(monkeypatch):
    monkeypatch.setattr(threads, "available_cores", lambda: 8)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert threads.default_threads() == 7


def test_a_bad_local_world_size_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "two")
    with pytest.raises(RuntimeError, match="LOCAL_WORLD_SIZE='two'"):
        threads.default_threads()


def test_available_cores_is_at_least_one():
    assert threads.available_cores() >= 1
