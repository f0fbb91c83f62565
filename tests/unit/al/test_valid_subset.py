"""al.valid_subset_size: training chunks validate on a random subset."""

from types import SimpleNamespace

from pax.al.loop import ActiveLearning
from tests.conftest import build


def loop_like(overrides, n_valid=10, epochs=3):
    cfg = build(overrides)
    store = SimpleNamespace(get=lambda split: list(range(n_valid)))
    return SimpleNamespace(ctx=SimpleNamespace(store=store), al=cfg.al, epochs=epochs)


def test_random_subset_of_the_asked_size_fixed_by_the_epoch():
    on = ["al.replay=random_subset", "al.valid_subset_size=4"]
    loop = loop_like(on)
    first = ActiveLearning._chunk_validation(loop)
    assert len(first) == 4 and len(set(first)) == 4 and loop.mae_on_subset
    assert ActiveLearning._chunk_validation(loop_like(on)) == first
    assert ActiveLearning._chunk_validation(loop_like(on, epochs=4)) != first


def test_whole_set_without_random_subset_replay_or_when_small():
    for overrides, n in (
        (["al.valid_subset_size=4"], 10),  # full_dataset replay
        (["al.replay=random_subset", "al.valid_subset_size=4"], 3),
        (["al.replay=random_subset"], 10),  # 0: off
    ):
        loop = loop_like(overrides, n_valid=n)
        assert ActiveLearning._chunk_validation(loop) == list(range(n))
        assert not loop.mae_on_subset
