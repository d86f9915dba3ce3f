"""nmnist / dvs_gesture / shd through the real tonic classes on tiny native-format files;
frame binning, the fixed-T rule, the frame cache and digits_events."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import torch

from ablations import data
from ablations.errors import UserError
from ablations.config import compose
from ablations.data import frames as frames_module
from ablations.data.encoders import SequenceEncoder
from ablations.data.saccades import SaccadeParams, saccade_offsets, simulate_events

from native_formats import write_dvs_gesture, write_nmnist, write_shd

# (x, y, t_us, p): two ON events at pixel (1, 2) in the first ms, one OFF event at (3, 4) at 2.5 ms,
# one at the far corner at 9 ms.
NMNIST_EVENTS = [(1, 2, 0, 1), (1, 2, 500, 1), (3, 4, 2500, 0), (33, 33, 9000, 0)]


def dataset_cfg(name: str, *overrides: str):
    return compose([f"dataset={name}", *overrides]).dataset


@pytest.fixture
def nmnist_root(tmp_path):
    write_nmnist(tmp_path, {"Train": [(7, NMNIST_EVENTS), (2, NMNIST_EVENTS[:2])],
                            "Test": [(5, NMNIST_EVENTS[2:])]})
    return tmp_path


def test_nmnist_bins_events_into_frames_with_fixed_T(nmnist_root):
    cfg = dataset_cfg("nmnist", "dataset.frame.time_window_ms=1", "dataset.frame.duration_ms=20")
    bundle = data.build_dataset(cfg, nmnist_root)
    assert (bundle.kind, bundle.input_shape, bundle.n_classes, bundle.steps) == ("event", (2, 34, 34), 10, 20)
    assert isinstance(bundle.encoder, SequenceEncoder)
    labels = sorted(bundle.train[i][1] for i in range(len(bundle.train)))
    assert labels == [2, 7]
    index = [bundle.train[i][1] for i in range(2)].index(7)
    frames, label = bundle.train[index]
    assert frames.shape == (20, 2, 34, 34) and frames.dtype == torch.float32
    assert frames[0, 1, 2, 1] == 2          # both ON events of the first millisecond, [t, p, y, x]
    assert frames[2, 0, 4, 3] == 1          # the OFF event at 2.5 ms
    assert frames[9, 0, 33, 33] == 1        # the corner event at 9 ms
    assert frames.sum() == 4 and frames[10:].sum() == 0  # padded with empty frames at the end
    batch = torch.stack([frames, frames])
    assert bundle.encoder(batch).shape == (20, 2, 2, 34, 34)


def test_frames_are_cropped_to_duration(nmnist_root):
    bundle = data.build_dataset(dataset_cfg("nmnist", "dataset.frame.time_window_ms=1", "dataset.frame.duration_ms=5"),
                        nmnist_root)
    index = [bundle.train[i][1] for i in range(2)].index(7)
    frames, _ = bundle.train[index]
    assert bundle.steps == 5 and frames.shape[0] == 5
    assert frames.sum() == 3  # the 9 ms event lies past T = 5 frames and is cropped


def test_time_window_rebuild_changes_T_and_cache_key(nmnist_root):
    cfg = dataset_cfg("nmnist")
    assert cfg.frame.time_window_ms == 3 and data.build_dataset(cfg, nmnist_root).steps == 100  # seed 001: 3 ms, 300 ms
    for window, steps in [(1, 300), (2, 150), (5, 60), (10, 30)]:  # seed 001's test windows
        cfg.frame.time_window_ms = window
        bundle = data.build_dataset(cfg, nmnist_root)
        assert bundle.steps == steps and bundle.test[0][0].shape[0] == steps
    caches = sorted(p.name for p in (nmnist_root / "nmnist" / "frames").iterdir())
    assert [c.split("-")[0] for c in caches] == ["tw10ms", "tw1ms", "tw2ms", "tw3ms", "tw5ms"]
    key = json.loads((nmnist_root / "nmnist" / "frames" / caches[1] / "key.json").read_text())
    assert key["time_window_us"] == 1000.0 and key["dataset"] == "nmnist" and key["sensor_size"] == [34, 34, 2]


def test_n_bins_gives_T_bins_per_sample(nmnist_root):
    bundle = data.build_dataset(dataset_cfg("nmnist", "dataset.frame.time_window_ms=null", "dataset.frame.n_bins=3"),
                        nmnist_root)
    frames, _ = bundle.test[0]  # events at 2.5 ms and 9 ms: the span is cut into 3 bins
    assert bundle.steps == 3 and frames.shape == (3, 2, 34, 34)
    assert frames[0].sum() == 1 and frames.sum() >= 1


@pytest.mark.parametrize("frame", [["dataset.frame.n_bins=4"],
                                   ["dataset.frame.time_window_ms=null"],
                                   ["dataset.frame.time_window_ms=-1"],
                                   ["dataset.frame.clip=0"]])
def test_bad_frame_settings_are_user_errors(nmnist_root, frame):
    with pytest.raises(UserError, match="frame"):
        data.build_dataset(dataset_cfg("nmnist", *frame), nmnist_root)


def test_steps_is_derived_for_event_data(nmnist_root):
    with pytest.warns(UserWarning, match="T = 100"):
        bundle = data.build_dataset(dataset_cfg("nmnist", "dataset.steps=7"), nmnist_root)
    assert bundle.steps == 100


def test_frame_cache_is_read_on_the_second_pass(nmnist_root, monkeypatch):
    bundle = data.build_dataset(dataset_cfg("nmnist", "dataset.frame.clip=1"), nmnist_root)
    first = [bundle.train[i] for i in range(len(bundle.train))]
    cache = bundle.train.cache_dir
    assert sorted(p.name for p in cache.iterdir()) == ["0.i32", "1.i32"]
    assert not list(cache.glob("*.tmp"))  # atomic writes leave no temporary files

    def no_binning(self, index):
        raise AssertionError("events were binned again")

    monkeypatch.setattr(frames_module.FrameDataset, "bin", no_binning)
    rebuilt = data.build_dataset(dataset_cfg("nmnist", "dataset.frame.clip=1"), nmnist_root)  # a new process would do this
    for (x1, y1), (x2, y2) in zip(first, (rebuilt.train[i] for i in range(len(rebuilt.train)))):
        assert torch.equal(x1, x2) and y1 == y2
    assert max(float(x.max()) for x, _ in first) == 1.0  # clip=1: binary frames (applied after the cache)


def test_corrupt_cache_file_is_rebuilt(nmnist_root):
    bundle = data.build_dataset(dataset_cfg("nmnist"), nmnist_root)
    expected = bundle.test[0][0]
    path = bundle.test.cache_dir / "0.i32"
    path.write_bytes(path.read_bytes()[:10])  # cut short, as by a crash without the atomic rename
    assert torch.equal(bundle.test[0][0], expected)
    assert len(np.fromfile(path, dtype="<i4")) > 3


def test_dvs_gesture_downsamples_128_to_32_by_integer_division(tmp_path):
    # x, y, p, t_ms: four events in one 4x4 block and one elsewhere
    events = np.array([[0, 0, 1, 0], [3, 3, 1, 1], [2, 1, 1, 2], [3, 0, 0, 3], [127, 64, 0, 500]])
    write_dvs_gesture(tmp_path, {"Train": [("user01_fluorescent", 4, events), ("user02_led", 10, events[:2])],
                                 "Test": [("user24_led", 0, events)]})
    bundle = data.build_dataset(dataset_cfg("dvs_gesture"), tmp_path)
    assert (bundle.input_shape, bundle.n_classes, bundle.steps) == ((2, 32, 32), 11, 20)  # 6000 ms / 300 ms
    assert sorted(bundle.train[i][1] for i in range(2)) == [4, 10]
    frames, label = bundle.test[0]
    assert label == 0 and frames.shape == (20, 2, 32, 32)
    assert frames[0, 1, 0, 0] == 3 and frames[0, 0, 0, 0] == 1  # 4x4 block summed, per polarity
    assert frames[1, 0, 16, 31] == 1                             # (127, 64) -> (31, 16) at 500 ms
    assert frames.sum() == len(events)                           # no event dropped


def test_shd_reads_hdf5_spike_trains(tmp_path):
    write_shd(tmp_path, {"train": [(3, [0.0, 0.0005, 0.0123], [5, 5, 699]), (19, [0.1], [0])],
                         "test": [(7, [0.5, 1.2, 1.6], [10, 20, 30])]})
    bundle = data.build_dataset(dataset_cfg("shd"), tmp_path)
    assert (bundle.input_shape, bundle.n_classes, bundle.steps) == ((700,), 20, 100)
    frames, label = bundle.train[0]
    assert label == 3 and frames.shape == (100, 700)
    assert frames[0, 5] == 2 and frames[1, 699] == 1 and frames.sum() == 3
    test_frames, test_label = bundle.test[0]
    # frames start at the first spike (0.5 s): 1.2 s is frame 70, 1.6 s lies past 1000 ms and is cropped
    assert test_label == 7 and test_frames[70, 20] == 1 and test_frames.sum() == 2
    assert bundle.encoder(torch.stack([frames, frames])).shape == (100, 2, 700)


@pytest.mark.parametrize("name, pattern", [("nmnist", "NMNIST/Train/*/*.bin"),
                                           ("dvs_gesture", "DVSGesture/ibmGestureTrain/*/*.npy"),
                                           ("shd", "SHD/shd_train.h5")])
def test_missing_event_files_name_folder_files_and_command(tmp_path, name, pattern):
    with pytest.raises(UserError) as info:
        data.build_dataset(dataset_cfg(name), tmp_path)
    message = str(info.value)
    assert pattern in message and str(tmp_path / name) in message
    assert f"python -m ablations.data download dataset={name}" in message
    assert not (tmp_path / name).exists()


def test_saccade_path_is_the_scaled_n_mnist_triangle():
    params = SaccadeParams(saccade_ms=10, amplitude_px=2.0)
    dx, dy = saccade_offsets(np.array([0, 5_000, 10_000, 20_000, 25_000, 30_000]), params)
    np.testing.assert_allclose(dx, [0, 0.5, 1.0, 2.0, 1.0, 0.0])
    np.testing.assert_allclose(dy, [0, 1.0, 2.0, 0.0, 0.0, 0.0])
    assert params.sensor == 12 and params.duration_ms == 30


def test_simulated_events_follow_brightness_changes():
    params = SaccadeParams(saccade_ms=10, threshold=0.25, dt_us=1000)
    image = np.zeros((1, 8, 8))
    image[0, 3, 3] = 1.0  # one bright pixel moving over a dark sensor
    events, offsets = simulate_events(image, params)
    assert offsets.tolist() == [0, len(events)] and len(events) > 0
    assert np.all(np.diff(events["t"]) >= 0) and events["t"].max() <= 30_000
    on, off = events[events["p"] == 1], events[events["p"] == 0]
    assert len(on) == len(off)  # the path is closed: every pixel ends at its start brightness
    # the bright pixel starts on sensor pixel (4, 4) (margin 1): it leaves (1 -> 0: 4 OFF events of
    # 0.25) during the first leg and comes back (0 -> 1: 4 ON events) during the last one
    start = events[(events["x"] == 4) & (events["y"] == 4)]
    assert start["p"].tolist() == [0] * 4 + [1] * 4
    assert start["t"][3] <= 10_000 and start["t"][4] > 20_000
    blank = simulate_events(np.zeros((2, 8, 8)), params)
    assert len(blank[0]) == 0 and blank[1].tolist() == [0, 0, 0]


def test_digits_events_generates_once_and_bins_like_nmnist(tmp_path):
    cfg = dataset_cfg("digits_events")
    bundle = data.build_dataset(cfg, tmp_path)
    assert (bundle.kind, bundle.input_shape, bundle.n_classes) == ("event", (2, 12, 12), 10)
    assert bundle.steps == math.ceil(3 * cfg.saccade_ms / cfg.frame.time_window_ms) == 30
    assert (len(bundle.train), len(bundle.test)) == (1347, 450)
    stored = list((tmp_path / "digits_events").glob("events-*/*.npz"))
    assert sorted(p.name for p in stored) == ["test.npz", "train.npz"]
    mtimes = [p.stat().st_mtime_ns for p in stored]
    frames, label = bundle.train[0]
    assert frames.shape == (30, 2, 12, 12) and 0 <= label < 10 and frames.sum() > 100
    events, _ = bundle.train.events[0]
    assert frames.sum() == len(events)  # every event lands in one of the 30 frames of 3 ms
    again = data.build_dataset(cfg, tmp_path)
    assert [p.stat().st_mtime_ns for p in stored] == mtimes  # loaded, not generated again
    assert torch.equal(again.train[0][0], frames)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cfg.frame.time_window_ms = 10
        assert data.build_dataset(cfg, tmp_path).train[0][0].shape == (9, 2, 12, 12)
