"""A run states its expected duration from batches timed after a warm-up; on a CPU, when it will not
fit, a CPU-sized setting. The time left after each epoch leaves the first epoch's warm-up out."""

from ablations.training import EtaClock, expected_duration, time_left


def test_expected_duration_and_cpu_advice():
    quick = expected_duration(1.5, 3, 30, 10, "cpu")
    assert quick.startswith("  expected: about 15 s per epoch, 2 min for 10 epoch(s)") and "CPU-sized" not in quick
    assert "timed on 3 batch(es) after 1 warm-up batch(es)" in quick
    slow = expected_duration(60.0, 3, 79, 10, "cpu")  # VGG9, T = 100 on a CPU: 20 s per batch
    assert "26 min per epoch, 4.4 h for 10 epoch(s)" in slow
    assert "will not fit a CPU in reasonable time" in slow and "dataset.steps=20 train.max_batches=50 model=vgg6" in slow
    assert "CPU-sized" not in expected_duration(60.0, 3, 79, 10, "cuda:0")


class Clock:
    """Batch end times given by hand: the first batch compiles (4 s), later ones take 0.1 s."""

    def __init__(self, times):
        self.times = iter(times)

    def __call__(self):
        return next(self.times)


def test_the_first_batch_compiles_and_is_not_timed():
    said = []
    # start at 0; batch 1 ends at 4.0 (compilation), batches 2-4 take 0.1 s each
    clock = EtaClock(batches_per_epoch=22, epochs=10, device="cpu", say=said.append,
                     now=Clock([0.0, 4.0, 4.1, 4.2, 4.3]))
    clock.start()
    for _ in range(4):
        clock.tick()
    assert len(said) == 1 and said[0].startswith("  expected: about 2 s per epoch, 22 s for 10 epoch(s)")
    assert abs(clock.per_epoch() - 2.2) < 1e-9  # not (4.3 / 4) x 22 = 24 s, the first-batch reading


def test_a_run_of_one_batch_per_epoch_times_the_second_epoch():
    said = []
    clock = EtaClock(batches_per_epoch=1, epochs=5, device="cpu", say=said.append, now=Clock([0.0, 9.0, 10.0]))
    clock.start()
    clock.tick()
    assert said == []
    clock.tick()
    assert said and said[0].startswith("  expected: about 1 s per epoch, 5 s for 5 epoch(s) (timed on 1 batch(es)")


def test_time_left_leaves_the_first_epoch_out():
    assert time_left([20.0, 1.0, 3.0], 4) == 8.0          # mean of epochs 2 and 3
    assert time_left([20.0], 4, timed_epoch_s=1.0, test_pass_s=0.5) == 6.0
    assert time_left([20.0], 4) == 80.0                   # nothing timed: the first epoch is all there is
