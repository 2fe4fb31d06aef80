"""Views and export: behaviour with small synthetic data (no training), real mouse events."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QApplication
from qtdrive import drag

from fmstudio.app.export import export_plot, grab_frame, save_gif, save_image
from fmstudio.app.views import (
    DensityView,
    FieldView,
    LossView,
    SamplesView,
    TimeBar,
    TrajectoryView,
)
from fmstudio.app.views.field import arrow_segments, speed_bins
from fmstudio.app.views.loss import LossBuffer
from fmstudio.app.views.trajectories import curve_arrays
from fmstudio.core.view_data import Density, FieldFrames, Trajectories, smoothed

BOUNDS = (-4.0, 4.0, -4.0, 4.0)


def shown(qtbot, widget, size=(500, 420)):
    """Register, size and show a widget, and let it lay out."""
    qtbot.addWidget(widget)
    widget.resize(*size)
    widget.show()
    qtbot.waitExposed(widget)
    QApplication.processEvents()
    return widget


def cloud(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 2))


# loss ---------------------------------------------------------------------------------------


def test_loss_buffer_grows_truncates_and_fills_gaps():
    buf = LossBuffer(capacity=4)
    buf.append(0, np.arange(3.0))
    buf.append(3, np.arange(3.0, 10.0))  # grows past the capacity
    np.testing.assert_array_equal(buf.view(), np.arange(10.0))
    buf.append(5, np.array([50.0, 60.0]))  # overlap: truncate to 5 first
    np.testing.assert_array_equal(buf.view(), [0, 1, 2, 3, 4, 50, 60])
    buf.append(9, np.array([90.0]))  # a gap stays NaN so steps keep their index
    assert len(buf) == 10 and np.isnan(buf.view()[7:9]).all() and buf.view()[9] == 90
    buf.clear()
    assert len(buf) == 0


def test_loss_view_append_restart_reset_and_status(qtbot):
    view = shown(qtbot, LossView())
    losses = np.linspace(1.0, 0.1, 50)
    view.append(0, losses[:20])
    view.append(20, losses[20:])
    np.testing.assert_allclose(view.losses(), losses)
    view.losses()[0] = -1  # a copy: the view keeps its own
    assert view.losses()[0] == 1.0
    view.append(0, np.array([2.0, 3.0]))  # a restarted run sends step 0 again
    np.testing.assert_array_equal(view.losses(), [2.0, 3.0])
    view.set_progress(1234, 10000, 85.2)
    text = view.findChild(type(view.status), "lossStatus").text()
    assert "step 1,234 / 10,000" in text and "85 steps/s" in text and "loss" in text
    view.reset()
    assert len(view.losses()) == 0
    x, _ = view.raw_curve.getOriginalDataset()
    assert x is None or x.size == 0


def test_loss_smoothing_and_log_scale_drops_non_positive(qtbot):
    view = shown(qtbot, LossView())
    losses = np.array([1.0, 0.0, 0.5, 0.25, -0.1, 0.2])
    view.smoothing.setValue(0.5)
    view.append(0, losses)
    assert view.findChild(type(view.log_box), "lossLogScale").isChecked()
    x, y = view.raw_curve.getOriginalDataset()
    np.testing.assert_array_equal(x, [0, 2, 3, 5])  # zero and negative are not drawn on log
    assert (y > 0).all()
    _, smooth = view.smooth_curve.getOriginalDataset()
    expected = smoothed(losses, 0.5)
    np.testing.assert_allclose(smooth, expected[expected > 0])
    view.log_box.setChecked(False)
    x, y = view.raw_curve.getOriginalDataset()
    np.testing.assert_array_equal(y, losses)  # linear scale shows everything
    view.smoothing.setValue(0.0)
    np.testing.assert_array_equal(view.smooth_curve.getOriginalDataset()[1], losses)


# samples and drawing ------------------------------------------------------------------------


def test_samples_view_shows_points_and_toggles(qtbot):
    view = shown(qtbot, SamplesView())
    view.set_bounds(BOUNDS)
    view.set_target(cloud(400))
    samples = cloud(250, seed=1)
    view.set_samples(samples)
    assert len(view.target_item.data) == 400
    x, y = view.samples_item.getData()
    np.testing.assert_allclose(np.stack([x, y], axis=1), samples)
    view.findChild(type(view.show_model), "samplesShowModel").setChecked(False)
    assert not view.samples_item.isVisible()
    view.findChild(type(view.show_target), "samplesShowTarget").setChecked(False)
    assert not view.target_item.isVisible()
    view.set_samples(None)
    assert len(view.samples_item.data) == 0


def _record(view) -> list:
    events: list = []
    view.strokeStarted.connect(lambda: events.append("start"))
    view.strokeAt.connect(lambda x, y: events.append((x, y)))
    view.strokeFinished.connect(lambda: events.append("end"))
    return events


STROKE = [(-2.0, -1.0), (-1.0, 0.0), (0.0, 0.5), (1.5, 1.0), (2.5, 2.0)]


@pytest.mark.parametrize("tool", ["brush", "eraser"])
def test_stroke_emits_data_coordinates_and_does_not_pan(qtbot, tool):
    view = shown(qtbot, SamplesView())
    view.set_bounds(BOUNDS)
    view.set_tool(tool)
    view.set_brush_radius(0.4)
    vb = view.plot.getPlotItem().getViewBox()
    before = np.array(vb.viewRange())
    events = _record(view)
    drag(view, STROKE)
    assert events[0] == "start" and events[-1] == "end"
    coords = np.array(events[1:-1])
    # Press and every move; one pixel is ~0.02 data units here.
    assert coords.shape == (len(STROKE), 2)
    np.testing.assert_allclose(coords, STROKE, atol=0.06)
    np.testing.assert_allclose(np.array(vb.viewRange()), before)
    center = view.brush_center()
    assert center is not None and np.allclose(center, STROKE[-1], atol=0.06)


def test_tool_none_emits_nothing_and_pans_again(qtbot):
    view = shown(qtbot, SamplesView())
    view.set_bounds(BOUNDS)
    view.set_tool("brush")
    view.set_tool("none")
    vb = view.plot.getPlotItem().getViewBox()
    before = np.array(vb.viewRange())
    events = _record(view)
    drag(view, STROKE)
    assert events == []
    assert not np.allclose(np.array(vb.viewRange()), before)  # the drag panned
    with pytest.raises(ValueError, match="unknown tool"):
        view.set_tool("spray")


# field --------------------------------------------------------------------------------------


def test_arrow_geometry_of_a_uniform_field():
    xs = ys = np.arange(5.0)
    velocity = np.zeros((5, 5, 2))
    velocity[..., 0] = 2.0  # all pointing +x
    arrows = arrow_segments(xs, ys, velocity, length=0.9, head=0.3)
    assert arrows.segments.shape == (25, 3, 2, 2)
    shaft = arrows.segments[:, 0]
    np.testing.assert_allclose(shaft[:, 1] - shaft[:, 0], np.tile([0.9, 0.0], (25, 1)))
    centre = shaft.mean(axis=1)
    gx, gy = np.meshgrid(xs, ys)
    np.testing.assert_allclose(centre, np.stack([gx.ravel(), gy.ravel()], axis=1))
    tips = shaft[:, 1]
    for head in (arrows.segments[:, 1], arrows.segments[:, 2]):
        np.testing.assert_allclose(head[:, 0], tips)
        assert (head[:, 1, 0] < tips[:, 0]).all()  # head strokes point back along the shaft
    left_y, right_y = arrows.segments[:, 1, 1, 1], arrows.segments[:, 2, 1, 1]
    assert ((left_y - tips[:, 1]) * (right_y - tips[:, 1]) < 0).all()  # one each side
    np.testing.assert_allclose(arrows.level, 1.0)


def test_arrow_lengths_scale_with_speed_and_clip():
    xs = ys = np.arange(2.0)
    velocity = np.array([[[0.0, 0.5], [0.0, 1.0]], [[0.0, -4.0], [0.0, 0.0]]])
    arrows = arrow_segments(xs, ys, velocity, ref_speed=1.0, length=0.8)
    shaft = arrows.segments[:, 0]
    d = shaft[:, 1] - shaft[:, 0]
    np.testing.assert_allclose(d, [[0, 0.4], [0, 0.8], [0, -0.8], [0, 0]], atol=1e-12)
    np.testing.assert_allclose(arrows.level, [0.5, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(speed_bins(arrows.level, 6), [3, 5, 5, 0])


def _frames(times=(0.0, 1.0), grid=8, marginal=False) -> FieldFrames:
    xs = ys = np.linspace(-3.5, 3.5, grid)
    gx, gy = np.meshgrid(xs, ys)
    velocity = np.stack(
        [np.stack([-gy * (1 + k), gx], axis=-1) for k in range(len(times))]
    )  # a rotation that speeds up in x with k
    exact = -velocity if marginal else None
    return FieldFrames(np.array(times), xs, ys, velocity, exact)


def _segments(items) -> int:
    return sum(len(item.getData()[0] if item.getData()[0] is not None else []) for item in items)


def test_field_view_draws_binned_arrows_and_follows_time(qtbot):
    view = shown(qtbot, FieldView())
    view.set_bounds(BOUNDS)
    view.set_frames(_frames(marginal=True))
    view.set_time(0.0)
    assert _segments(view.bin_items) == 8 * 8 * 3 * 2  # 3 segments = 6 points per arrow
    assert sum(len(item.getData()[0]) > 0 for item in view.bin_items) >= 2  # several colours
    before = np.concatenate([item.getData()[0] for item in view.bin_items])
    view.set_time(1.0)
    after = np.concatenate([item.getData()[0] for item in view.bin_items])
    assert before.shape == after.shape and not np.allclose(np.sort(before), np.sort(after))
    assert view.findChild(type(view.time_label), "fieldTime").text() == "t = 1.00"
    assert not view.marginal_item.isVisible()
    view.findChild(type(view.show_marginal), "fieldShowMarginal").setChecked(True)
    assert view.marginal_item.isVisible() and len(view.marginal_item.getData()[0]) == 8 * 8 * 6
    view.findChild(type(view.show_learned), "fieldShowLearned").setChecked(False)
    assert not any(item.isVisible() for item in view.bin_items)
    view.set_frames(None)
    assert _segments(view.bin_items) == 0


# trajectories -------------------------------------------------------------------------------


def _trajectories(n: int = 50, steps: int = 5) -> Trajectories:
    x0 = cloud(n, seed=2)
    x1 = x0 * 0.3 + np.array([2.0, 1.0])
    times = np.linspace(0.0, 1.0, steps)
    points = (1 - times)[:, None, None] * x0 + times[:, None, None] * x1
    return Trajectories(times=times, points=points, nfe=8)


def test_curve_arrays_break_between_paths():
    points = _trajectories(n=50, steps=5).points
    x, y, connect = curve_arrays(points, max_curves=20)
    assert x.shape == y.shape == connect.shape == (20 * 5,)
    assert (~connect).sum() == 20 and not connect[4] and connect[:4].all()
    x, _, connect = curve_arrays(points, max_curves=300)
    assert (~connect).sum() == 50 and x.shape == (250,)


def test_trajectory_view_draws_capped_curves_and_particles_at_t(qtbot):
    view = shown(qtbot, TrajectoryView(max_curves=30))
    view.set_bounds(BOUNDS)
    traj = _trajectories(n=80, steps=5)
    view.set_trajectories(traj)
    view.set_time(0.3)
    x, _ = view.curve_item.getData()
    assert x.shape == (30 * 5,)
    assert (~view.curve_item.opts["connect"]).sum() == 30
    px, py = view.particle_item.getData()
    np.testing.assert_allclose(np.stack([px, py], axis=1), traj.at(0.3))
    assert len(view.start_item.data) == 30  # a start for each drawn path, not a noise cloud
    view.findChild(type(view.show_curves), "trajectoryShowCurves").setChecked(False)
    assert not view.curve_item.isVisible()


# density ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", [(3, 3), (3, 0)], ids=["top-right", "top-left"])
def test_density_orientation_matches_data_coordinates(qtbot, cell):
    """values[iy, ix]: the last row is the top (largest y), the last column the right.

    The top-left case catches a transposed image, which the symmetric top-right case cannot.
    """
    view = shown(qtbot, DensityView(), size=(480, 420))
    values = np.zeros((4, 4), dtype=np.float32)
    values[cell] = 1.0
    view.set_density(Density(bounds=(0.0, 4.0, 0.0, 4.0), values=values, kind="histogram"))
    view.set_bounds((0.0, 4.0, 0.0, 4.0))
    QApplication.processEvents()
    vb = view.plot.getPlotItem().getViewBox()
    pixels = np.asarray(grab_frame(view.plot.viewport())).astype(float).sum(axis=2)

    def brightness(x: float, y: float) -> float:
        pos = view.plot.mapFromScene(vb.mapViewToScene(QPointF(x, y)))
        return pixels[pos.y(), pos.x()]

    iy, ix = cell
    for x, y in [(0.5, 0.5), (3.5, 0.5), (0.5, 3.5), (3.5, 3.5)]:
        lit = (x, y) == (ix + 0.5, iy + 0.5)
        assert (brightness(x, y) > 600) if lit else (brightness(x, y) < 100), (x, y)
    assert view.findChild(type(view.kind_label), "densityKind").text() == "histogram of samples"
    assert view.levels() == (0.0, pytest.approx(np.percentile(values, 99)))


def test_density_levels_are_sticky(qtbot):
    view = shown(qtbot, DensityView())
    rng = np.random.default_rng(0)
    values = rng.random((16, 16)).astype(np.float32)
    view.set_density(Density(BOUNDS, values, "likelihood"))
    first = view.levels()
    view.set_density(Density(BOUNDS, values * 1.1, "likelihood"))  # small drift: keep
    assert view.levels() == first
    view.set_density(Density(BOUNDS, values * 3.0, "likelihood"))  # real change: follow
    assert view.levels()[1] == pytest.approx(3.0 * first[1], rel=1e-5)
    assert view.kind_label.text() == "exact likelihood"


# hidden views -------------------------------------------------------------------------------


def test_hidden_views_defer_drawing_until_shown(qtbot):
    view = SamplesView()
    qtbot.addWidget(view)
    view.set_samples(cloud(100))
    assert len(view.samples_item.data) == 0  # nothing drawn while hidden
    view.set_samples(cloud(120))
    shown(qtbot, view)
    assert len(view.samples_item.data) == 120  # the latest data, drawn on show

    field = FieldView()
    qtbot.addWidget(field)
    field.set_frames(_frames())
    assert _segments(field.bin_items) == 0
    shown(qtbot, field)
    assert _segments(field.bin_items) > 0


# time bar -----------------------------------------------------------------------------------


def test_timebar_set_time_updates_slider_label_and_emits(qtbot):
    bar = shown(qtbot, TimeBar(), size=(400, 40))
    slider = bar.findChild(type(bar.slider), "timeSlider")
    assert bar.time() == 1.0 and slider.value() == 1000
    with qtbot.waitSignal(bar.timeChanged) as blocker:
        bar.set_time(0.25)
    assert blocker.args == [0.25]
    assert slider.value() == 250
    assert bar.findChild(type(bar.label), "timeLabel").text() == "t = 0.250"
    slider.setValue(600)  # the user moves the slider
    assert bar.time() == pytest.approx(0.6)
    bar.set_range(0.0, 0.5)  # keeps its place on the bar
    assert bar.time() == pytest.approx(0.3) and slider.value() == 600
    bar.set_time(7.0)
    assert bar.time() == 0.5


def test_timebar_play_advances_and_stop_stops(qtbot):
    bar = shown(qtbot, TimeBar(), size=(400, 40))
    assert not bar.is_playing()
    seen: list[float] = []
    bar.timeChanged.connect(seen.append)
    bar.findChild(type(bar.play_button), "timePlay").click()  # at the end: rewinds, then plays
    assert bar.is_playing()
    qtbot.waitUntil(lambda: bar.time() > 0.1, timeout=3000)
    assert seen[0] == 0.0 and np.all(np.diff(seen) >= 0)
    bar.stop()
    assert not bar.is_playing() and not bar.play_button.isChecked()
    t = bar.time()
    qtbot.wait(100)
    assert bar.time() == t


# export -------------------------------------------------------------------------------------


@pytest.fixture
def field_view(qtbot):
    view = shown(qtbot, FieldView())
    view.set_bounds(BOUNDS)
    view.set_target(cloud(300))
    view.set_frames(_frames())
    view.set_time(0.5)
    return view


def test_export_plot_png_and_svg(field_view, tmp_path):
    png = export_plot(field_view.plot, tmp_path / "field.png")
    with Image.open(png) as image:
        assert image.width >= 800
    svg = export_plot(field_view.plot, tmp_path / "field.SVG")
    assert "<svg" in svg.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["field.SVG", "field.png"]  # no temps


def test_export_unknown_suffix_raises_and_writes_nothing(field_view, tmp_path):
    with pytest.raises(ValueError, match=r"\.png or \.svg"):
        export_plot(field_view.plot, tmp_path / "field.jpg")
    with pytest.raises(ValueError, match=r"\.gif"):
        save_gif([Image.new("RGB", (4, 4))], tmp_path / "anim.png")
    with pytest.raises(ValueError, match="without frames"):
        save_gif([], tmp_path / "anim.gif")
    assert list(tmp_path.iterdir()) == []


def test_grab_frame_and_gif_round_trip(field_view, tmp_path):
    frames = []
    for t in (0.0, 0.5, 1.0):
        field_view.set_time(t)
        frames.append(grab_frame(field_view))
    ratio = field_view.devicePixelRatioF()
    expected = (round(field_view.width() * ratio), round(field_view.height() * ratio))
    assert frames[0].mode == "RGB" and frames[0].size == expected
    pixels = np.asarray(frames[0].convert("L"), dtype=float)
    assert pixels.std() > 5  # not a blank picture
    path = save_gif(frames, tmp_path / "field.gif", fps=10)
    with Image.open(path) as gif:
        assert gif.n_frames == 3 and gif.info["duration"] == 100 and gif.info["loop"] == 0
    shot = save_image(field_view, tmp_path / "window.png")
    with Image.open(shot) as image:
        assert image.size == expected


# fitted ranges, readable axes and readouts ------------------------------------------------


def _moons() -> np.ndarray:
    from fmstudio.core.data.toy import make_preset

    return make_preset("moons", 5000, 0)


def _box(points: np.ndarray, noise: bool = False) -> tuple[float, float, float, float]:
    """Where 99.5% of the points lie (and the prior's 3σ disc, for views that show t = 0)."""
    lo, hi = np.quantile(points, 0.0025, axis=0), np.quantile(points, 0.9975, axis=0)
    if noise:
        lo, hi = np.minimum(lo, -3.0), np.maximum(hi, 3.0)
    return lo[0], hi[0], lo[1], hi[1]


def _fit(view, box) -> float:
    """How much wider than the box the view is in its limiting direction (>= 1: box inside)."""
    (x0, x1), (y0, y1) = view.plot.getViewBox().viewRange()
    xmin, xmax, ymin, ymax = box
    assert x0 <= xmin and x1 >= xmax and y0 <= ymin and y1 >= ymax, (x0, x1, y0, y1, box)
    return min((x1 - x0) / (xmax - xmin), (y1 - y0) / (ymax - ymin))


@pytest.mark.parametrize("size", [(470, 210), (300, 460), (700, 420)], ids=["wide", "tall", "main"])
def test_views_fit_the_data_box_with_the_aspect_kept(qtbot, size):
    from fmstudio.core.view_data import plot_bounds

    points = _moons()
    bounds = plot_bounds(points)
    samples = shown(qtbot, SamplesView(), size=size)
    samples.set_bounds(bounds)
    assert _fit(samples, _box(points)) < 1.3  # the data box, not a square padded for noise
    for view in (FieldView(), TrajectoryView()):  # these show t = 0 too: data and noise
        shown(qtbot, view, size=size)
        view.set_bounds(bounds)
        assert _fit(view, _box(points, noise=True)) < 1.3
        vb = view.plot.getViewBox()
        (x0, x1), (y0, y1) = vb.viewRange()
        ratio = (x1 - x0) / (y1 - y0) / (vb.width() / vb.height())
        assert ratio == pytest.approx(1.0, rel=0.02)  # circles stay round


def test_field_view_reports_the_range_it_shows_for_the_arrows(qtbot):
    view = shown(qtbot, FieldView(), size=(470, 210))
    with qtbot.waitSignal(view.boxChanged, timeout=3000) as wide:
        view.set_bounds(BOUNDS)
    (x0, x1), (y0, y1) = view.plot.getViewBox().viewRange()
    assert wide.args[0] == pytest.approx((x0, x1, y0, y1))
    assert x1 - x0 > 1.8 * (y1 - y0)  # the whole wide plot, not only the data square
    with qtbot.waitSignal(view.boxChanged, timeout=3000) as tall:
        view.resize(260, 460)
    xmin, xmax, ymin, ymax = tall.args[0]
    assert ymax - ymin > 1.3 * (xmax - xmin)


def test_exact_field_stays_under_the_learned_arrows(qtbot):
    view = shown(qtbot, FieldView())
    view.set_frames(_frames(marginal=True))
    view.show_marginal.setChecked(True)
    assert view.marginal_item.zValue() < min(item.zValue() for item in view.bin_items)
    assert view.marginal_item.opts["pen"].color().alpha() <= 140  # the learned ones show through


def test_trajectory_view_draws_a_readable_subset_of_many_samples(qtbot):
    view = shown(qtbot, TrajectoryView())
    traj = _trajectories(n=2000, steps=9)  # what "Sample" with 2000 points hands over
    view.set_trajectories(traj)
    view.set_time(1.0)
    drawn = (~view.curve_item.opts["connect"]).sum()
    assert 50 <= drawn <= 300
    assert len(view.start_item.data) == drawn
    assert len(view.particle_item.data) == 2000  # every sample still shows


def _labels(axis) -> list[tuple[float, str]]:
    """The tick labels an axis draws now: (position along the axis in pixels, text)."""
    from PySide6.QtGui import QImage, QPainter

    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        specs = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    vertical = axis.orientation in ("left", "right")
    return sorted(
        ((rect.center().y() if vertical else rect.center().x()), text) for rect, _, text in specs[2]
    )


@pytest.mark.parametrize("compact", [False, True])
def test_log_loss_ticks_are_plain_decimals_that_do_not_crowd(qtbot, compact):
    view = shown(qtbot, LossView(compact=compact), size=(420, 300))
    view.append(0, np.geomspace(2.0, 0.12, 300))
    view.set_progress(300, 300, 50.0)
    QApplication.processEvents()
    labels = _labels(view.plot.getPlotItem().getAxis("left"))
    texts = [text for _, text in labels]
    assert len(labels) >= 2, texts
    assert all(text.replace(".", "", 1).isdigit() for text in texts), texts  # 0.2, not 10⁻⁰·⁷
    assert set(texts) & {"0.2", "0.5", "1", "2"}, texts
    gaps = np.diff([pos for pos, _ in labels])
    font = view.plot.getPlotItem().getAxis("left").style["tickFont"]
    height = font.pointSizeF() * 1.4 if font is not None else 14
    assert gaps.min() >= height, (texts, gaps)  # labels never overlap


def test_loss_readout_after_a_finished_run_shows_its_average_rate(qtbot):
    from fmstudio.core.view_data import Snapshot

    view = shown(qtbot, LossView())
    done = Snapshot(step=1500, total_steps=1500, steps_per_s=28.8, lr=1e-3, loss_start=0,
                    losses=np.full(1500, 0.5), train_seconds=52.0)  # fmt: skip
    view.add_snapshot(done)
    text = view.status.text()
    assert "finished · 1,500 steps in 52 s · 29 steps/s avg" in text, text
    assert "0 steps/s" not in text


def test_bits_per_dim_axes_read_plainly_from_the_first_value(qtbot):
    from fmstudio.app.views.images import BitsPerDimView

    view = shown(qtbot, BitsPerDimView())
    view.add(0, 3.91)
    QApplication.processEvents()
    item = view.plot.getPlotItem()
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        assert "x0.001" not in axis.labelString() and "(x" not in axis.labelString()
        assert all("e" not in text for _, text in _labels(axis))
    (x0, x1), (y0, y1) = item.getViewBox().viewRange()
    assert -0.05 * x1 <= x0 <= 0 < 1 <= x1  # steps from 0, not ±0.5 around a lone point
    assert y0 < 3.91 < y1 and y1 - y0 < 1.5  # around the value, not ±0.5 around zero
    view.add(500, 2.5)
    (_, _), (y0, y1) = item.getViewBox().viewRange()
    assert y0 < 2.5 and y1 > 3.91
