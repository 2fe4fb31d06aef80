"""The drawn target: spray geometry, eraser, undo by stroke, limits."""

from __future__ import annotations

import numpy as np
import pytest

from fmstudio.core.data import DatasetError
from fmstudio.core.data.drawing import MAX_POINTS, Drawing, outside, spray


def test_spray_fills_the_disc_uniformly():
    pts = spray((1.0, -2.0), 0.5, 20000, np.random.default_rng(0))
    r = np.hypot(pts[:, 0] - 1.0, pts[:, 1] + 2.0)
    assert pts.dtype == np.float32 and r.max() <= 0.5 + 1e-6
    assert np.mean(r < 0.25) == pytest.approx(0.25, abs=0.02)  # area fraction, not radius
    assert np.allclose(pts.mean(0), [1.0, -2.0], atol=0.01)


def test_outside_keeps_points_beyond_the_radius():
    pts = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]], dtype=np.float32)
    assert outside(pts, (0.0, 0.0), 1.5).tolist() == [False, False, True]


def test_a_stroke_is_one_undo_step():
    d = Drawing()
    d.begin_stroke()
    for x in np.linspace(-1, 1, 5):
        d.spray((x, 0.0), 0.2, 10)
    d.end_stroke()
    assert len(d) == 50 and d.can_undo
    d.begin_stroke()
    assert d.erase((0.0, 0.0), 0.5) > 0
    d.end_stroke()
    assert 0 < len(d) < 50
    assert d.undo() and len(d) == 50
    assert d.undo() and len(d) == 0
    assert not d.undo()


def test_dabs_without_an_explicit_stroke_are_still_undoable():
    d = Drawing()
    d.spray((0.0, 0.0), 0.1, 5)
    d.end_stroke()
    d.spray((1.0, 0.0), 0.1, 5)
    d.end_stroke()
    d.undo()
    assert len(d) == 5


def test_clear_and_replace_are_undoable_and_bump_the_version():
    d = Drawing()
    d.replace([[0.0, 0.0], [1.0, 1.0]])
    v = d.version
    d.clear()
    assert len(d) == 0 and d.version > v
    d.undo()
    assert np.array_equal(d.points, [[0.0, 0.0], [1.0, 1.0]])


def test_points_are_read_only():
    d = Drawing()
    d.spray((0.0, 0.0), 0.1, 3)
    with pytest.raises(ValueError):
        d.points[0, 0] = 5.0


def test_bad_input_is_a_clear_error():
    d = Drawing()
    with pytest.raises(DatasetError, match=r"\(N, 2\)"):
        d.replace(np.zeros((4, 3)))
    with pytest.raises(DatasetError, match="radius"):
        d.spray((0.0, 0.0), 0.0, 3)
    with pytest.raises(DatasetError, match="more than"):
        d.replace(np.zeros((MAX_POINTS + 1, 2)))


def test_the_point_cap_holds():
    d = Drawing()
    d.replace(np.zeros((MAX_POINTS - 3, 2)))
    assert d.spray((0.0, 0.0), 0.1, 10) == 3 and len(d) == MAX_POINTS
    assert d.spray((0.0, 0.0), 0.1, 10) == 0
