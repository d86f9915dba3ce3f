import pytest
import torch

from ablations import data
from ablations.errors import UserError
from ablations.config import compose
from ablations.data.encoders import DirectEncoder, PoissonEncoder, SequenceEncoder
from ablations.data.generated import make_delayed_xor


def test_digits_split_is_fixed_and_stratified(tmp_path):
    cfg = compose(["dataset=digits"])
    a = data.build_dataset(cfg.dataset, tmp_path)
    b = data.build_dataset(compose(["dataset=digits", "seed=7"]).dataset, tmp_path)
    assert len(a.train) == 1347 and len(a.test) == 450
    assert torch.equal(a.test.tensors[0], b.test.tensors[0])  # the run seed does not move the split
    labels = a.test.tensors[1]
    assert torch.bincount(labels, minlength=10).min() >= 40
    assert a.input_shape == (1, 8, 8) and a.n_classes == 10
    x = a.train.tensors[0]
    assert x.min() >= 0 and x.max() <= 1


def test_zero_mean_normalisation():
    bundle = data.build_dataset(compose(["dataset.normalize=zero_mean", "dataset.signed=true"]).dataset)
    x = bundle.test.tensors[0]
    assert torch.allclose(x.mean(dim=(1, 2, 3)), torch.zeros(len(x)), atol=1e-5)
    assert x.abs().amax(dim=(1, 2, 3)).allclose(torch.ones(len(x)))


def test_poisson_encoder_is_binary_with_the_pixel_rate():
    x = torch.tensor([[0.0, 0.25, 0.5, 1.0]])
    spikes = PoissonEncoder(4000)(x, generator=torch.Generator().manual_seed(0))
    assert spikes.shape == (4000, 1, 4)
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    assert spikes.mean(0)[0].tolist() == pytest.approx([0.0, 0.25, 0.5, 1.0], abs=0.03)
    signed = PoissonEncoder(2000, signed=True)(torch.tensor([[-0.5, 0.5]]))
    assert set(signed.unique().tolist()) <= {-1.0, 0.0, 1.0}
    assert signed.mean(0)[0].tolist() == pytest.approx([-0.5, 0.5], abs=0.05)


def test_direct_and_sequence_encoders():
    x = torch.rand(2, 1, 3, 3)
    assert torch.equal(DirectEncoder(5)(x)[4], x)
    seq = torch.rand(2, 7, 4)
    assert torch.equal(SequenceEncoder()(seq)[3], seq[:, 3])


def test_delayed_xor_structure():
    x, y = make_delayed_xor(4000, channels=8, pattern_steps=10, delay_steps=30, low_rate=0.0,
                            high_rate=1.0, noise_rate=0.0, seed=1)
    assert x.shape == (4000, 50, 8)
    first = x[:, :10].mean((1, 2)) > 0.5
    second = x[:, 40:].mean((1, 2)) > 0.5
    assert torch.equal(y.bool(), first ^ second)
    assert x[:, 10:40].sum() == 0  # no noise asked for
    assert 0.45 < y.float().mean() < 0.55  # balanced: chance is 50 %


def test_delayed_xor_bundle_and_bad_rates(tmp_path):
    cfg = compose(["dataset=delayed_xor"])
    bundle = data.build_dataset(cfg.dataset, tmp_path)
    assert bundle.kind == "temporal" and bundle.n_classes == 2
    assert bundle.steps == 2 * cfg.dataset.pattern_steps + cfg.dataset.delay_steps
    assert bundle.encoder(bundle.train.tensors[0][:3]).shape == (bundle.steps, 3, cfg.dataset.channels)
    with pytest.raises(ValueError, match="must exceed"):
        make_delayed_xor(10, low_rate=0.5, high_rate=0.1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        make_delayed_xor(10, noise_rate=2.0)


def test_unknown_dataset_lists_choices():
    with pytest.raises(UserError, match="valid datasets: .*digits"):
        data.build_dataset({"name": "imagenet"})
