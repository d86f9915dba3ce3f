"""``ssc`` through the real ``tonic.datasets.SSC`` class on a tiny native-format HDF5 file, and
the ``roles_ssc`` preset's seed 001 Table 4 network (700-200-35)."""

from __future__ import annotations


import pytest
import torch

from native_formats import write_ssc

from ablations import data
from ablations.errors import UserError
from ablations.config import build_model, compose


def test_ssc_reads_hdf5_spike_trains(tmp_path):
    write_ssc(tmp_path, {"train": [(34, [0.0, 0.0004, 0.0251], [3, 3, 699]), (0, [0.2], [1])],
                         "test": [(12, [0.25, 0.75, 1.5], [10, 20, 30])]})
    bundle = data.build_dataset(compose(["dataset=ssc"]).dataset, tmp_path)
    assert (bundle.kind, bundle.input_shape, bundle.n_classes, bundle.steps) == ("event", (700,), 35, 100)
    frames, label = bundle.train[0]
    assert label == 34 and frames.shape == (100, 700)
    assert frames[0, 3] == 2 and frames[2, 699] == 1 and frames.sum() == 3
    test_frames, test_label = bundle.test[0]
    # frames start at the first spike (0.25 s): 0.75 s is frame 50; 1.5 s lies past 1000 ms and is cropped
    assert test_label == 12 and test_frames[50, 20] == 1 and test_frames.sum() == 2
    assert bundle.encoder(torch.stack([frames, frames])).shape == (100, 2, 700)


def test_missing_ssc_files_name_folder_and_command(tmp_path):
    with pytest.raises(UserError) as info:
        data.build_dataset(compose(["dataset=ssc"]).dataset, tmp_path)
    assert "SSC/ssc_train.h5" in str(info.value)
    assert "python -m ablations.data download dataset=ssc" in str(info.value)


def test_roles_ssc_is_seed001_table4_net_with_temporal_column():
    cfg = compose(["experiment=roles_ssc_table5"])   # roles_ssc: DH-SNN's form (tests/reproduce/test_roles_delayed_xor.py)
    assert (cfg.dataset.name, cfg.model.layers, cfg.model.readout) == ("ssc", "700-200-35", "spike_count")
    assert (cfg.train.lr, cfg.train.batch_size, cfg.neuron.threshold, cfg.neuron.surrogate.width) == (0.01, 512, 0.5, 0.5)
    model = build_model(cfg, (700,))
    assert [layer.ops[-1].out_features for layer in model.layers] == [200] and model.n_classes == 35
