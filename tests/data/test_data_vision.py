"""mnist / cifar10 / svhn through the real torchvision classes on tiny native-format files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ablations import data
from ablations.errors import UserError
from ablations.config import compose
from ablations.data.encoders import PoissonEncoder
from ablations.data.vision import ImageNormalize

from native_formats import write_cifar10, write_mnist, write_svhn


@pytest.fixture
def no_md5(monkeypatch):
    """Bypass only torchvision's md5 comparison (tiny files cannot match the real checksums);
    existence checks and all parsing stay torchvision's own."""
    import torchvision.datasets.cifar as cifar
    import torchvision.datasets.svhn as svhn
    from torchvision.datasets.utils import check_integrity

    presence_only = lambda fpath, md5=None: check_integrity(fpath, None)  # noqa: E731
    monkeypatch.setattr(cifar, "check_integrity", presence_only)
    monkeypatch.setattr(svhn, "check_integrity", presence_only)


def dataset_cfg(name: str, *overrides: str):
    return compose([f"dataset={name}", *overrides]).dataset


def test_mnist_reads_idx_files(tmp_path):
    written = write_mnist(tmp_path)
    bundle = data.build_dataset(dataset_cfg("mnist"), tmp_path)
    assert (bundle.kind, bundle.input_shape, bundle.n_classes, bundle.steps) == ("static", (1, 28, 28), 10, 25)
    assert len(bundle.train) == 6 and len(bundle.test) == 4
    image, label = bundle.test[3]
    images, labels = written["t10k"]
    assert label == int(labels[3])
    torch.testing.assert_close(image[0], torch.from_numpy(images[3]).float() / 255)  # normalize: unit
    spikes = bundle.encoder(image.unsqueeze(0))
    assert spikes.shape == (25, 1, 1, 28, 28) and set(spikes.unique().tolist()) <= {0.0, 1.0}


def test_cifar10_reads_pickled_batches_with_seed003_preprocessing(tmp_path, no_md5):
    written = write_cifar10(tmp_path)
    bundle = data.build_dataset(dataset_cfg("cifar10"), tmp_path)
    assert (bundle.input_shape, bundle.steps, len(bundle.train), len(bundle.test)) == ((3, 32, 32), 100, 10, 3)
    assert isinstance(bundle.encoder, PoissonEncoder) and bundle.encoder.signed
    image, label = bundle.train[3]  # batch 2, row 1
    raw, labels = written["train"][1]
    assert label == labels[1]
    expected = torch.from_numpy(raw[1].reshape(3, 32, 32)).float() / 255
    expected = expected - expected.mean()
    expected = expected / expected.abs().max()
    torch.testing.assert_close(image, expected)
    assert abs(float(image.mean())) < 1e-5 and float(image.abs().max()) == pytest.approx(1.0)
    spikes = bundle.encoder(image.unsqueeze(0))
    assert spikes.shape == (100, 1, 3, 32, 32) and set(spikes.unique().tolist()) <= {-1.0, 0.0, 1.0}


def test_augmentation_is_a_switch_for_training_only(tmp_path, no_md5):
    write_cifar10(tmp_path)
    plain = data.build_dataset(dataset_cfg("cifar10", "dataset.augment=false"), tmp_path)
    augmented = data.build_dataset(dataset_cfg("cifar10", "dataset.augment=true"), tmp_path)
    torch.manual_seed(0)
    draws = [augmented.train[0][0] for _ in range(8)]
    assert any(not torch.equal(draw, plain.train[0][0]) for draw in draws)  # random crop / flip
    assert torch.equal(augmented.test[0][0], plain.test[0][0])               # test split untouched
    names = [type(t).__name__ for t in augmented.train.transform.transforms]
    assert names[:2] == ["RandomCrop", "RandomHorizontalFlip"]
    assert augmented.train.transform.transforms[0].padding == 4


def test_svhn_reads_mat_files_and_maps_label_10_to_0(tmp_path, no_md5):
    written = write_svhn(tmp_path)
    bundle = data.build_dataset(dataset_cfg("svhn", "dataset.augment=true"), tmp_path)
    assert (len(bundle.train), len(bundle.test), bundle.input_shape) == (5, 3, (3, 32, 32))
    images, labels = written["test"]
    image, label = bundle.test[0]
    assert labels[0] == 10 and label == 0
    raw = torch.from_numpy(images[..., 0]).permute(2, 0, 1).float() / 255
    torch.testing.assert_close(image, ImageNormalize("zero_mean")(raw))
    names = [type(t).__name__ for t in bundle.train.transform.transforms]
    assert "RandomHorizontalFlip" not in names and names[0] == "RandomCrop"  # no flip for digits


@pytest.mark.parametrize("name", ["mnist", "cifar10", "svhn"])
def test_missing_files_name_folder_files_and_command(tmp_path, name):
    with pytest.raises(UserError) as info:
        data.build_dataset(dataset_cfg(name), tmp_path / "data")
    message = str(info.value)
    assert str(tmp_path / "data" / name) in message
    assert f"python -m ablations.data download dataset={name} paths.data={tmp_path / 'data'}" in message
    expected = {"mnist": "train-images-idx3-ubyte", "cifar10": "data_batch_1", "svhn": "test_32x32.mat"}[name]
    assert expected in message
    assert not (tmp_path / "data").exists()  # nothing written before the check


def test_partly_present_files_are_listed(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "mnist" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(UserError, match="t10k-labels-idx1-ubyte"):
        data.build_dataset(dataset_cfg("mnist"), tmp_path)


def test_checksum_mismatch_is_a_user_error(tmp_path):
    write_cifar10(tmp_path)  # present but not the real files: torchvision's md5 check rejects them
    with pytest.raises(UserError, match="corrupted"):
        data.build_dataset(dataset_cfg("cifar10"), tmp_path)


def test_image_normalize_rejects_unknown_mode():
    with pytest.raises(ValueError, match="zero_mean"):
        ImageNormalize("bogus")
    flat = ImageNormalize("zero_mean")(torch.full((3, 4, 4), 0.5))
    assert torch.all(flat == 0) and not torch.isnan(flat).any()
    assert np.isclose(float(ImageNormalize("unit")(torch.ones(1, 2, 2)).sum()), 4.0)
