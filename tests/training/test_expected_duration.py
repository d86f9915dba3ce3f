"""A run states its expected duration after its first batches; on a CPU, when it will not fit, a CPU-sized setting."""

from ablations.training import expected_duration


def test_expected_duration_and_cpu_advice():
    quick = expected_duration(1.5, 3, 30, 10, "cpu")
    assert quick.startswith("  expected: about 15 s per epoch, 2 min for 10 epoch(s)") and "CPU-sized" not in quick
    slow = expected_duration(60.0, 3, 79, 10, "cpu")  # VGG9, T = 100 on a CPU: 20 s per batch
    assert "26 min per epoch, 4.4 h for 10 epoch(s)" in slow
    assert "will not fit a CPU in reasonable time" in slow and "dataset.steps=20 train.max_batches=50 model=vgg6" in slow
    assert "CPU-sized" not in expected_duration(60.0, 3, 79, 10, "cuda:0")
