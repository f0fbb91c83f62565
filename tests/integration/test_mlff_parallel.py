"""Members trained side by side in threads end where separate training ends."""

import pytest
import torch

from pax.mlff.ensemble import Ensemble
from pax.mlff.parallel import map_members, width
from tests.unit.mlff.frames import tiny_cfg, xtb_frames  # noqa: F401


def trained(frames, parallel_members: int, threads: int):
    """Weights and validation records of a tiny committee after 3 epochs."""
    ens = Ensemble.build(
        tiny_cfg(ensemble_size=3, parallel_members=parallel_members),
        frames[:20],
        e0s=None,
    )
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        records = ens.train(frames[:20], frames[40:], epochs=3)
        assert torch.get_num_threads() == threads  # restored after each epoch
    finally:
        torch.set_num_threads(before)
    weights = [
        torch.cat([p.detach().flatten() for p in m.parameters()]) for m in ens.models
    ]
    return weights, records


def test_members_in_threads_equal_members_one_after_the_other(xtb_frames):  # noqa: F811
    serial_w, serial_r = trained(xtb_frames, parallel_members=1, threads=1)
    together_w, together_r = trained(xtb_frames, parallel_members=3, threads=3)
    for a, b in zip(serial_w, together_w):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10)
    assert len(serial_r) == len(together_r) == 12  # 3 epochs x (3 members + mean)
    for a, b in zip(serial_r, together_r):
        assert a["member"] == b["member"]
        assert a["valid_f_mae"] == pytest.approx(b["valid_f_mae"], rel=1e-9)
    # the members differ from each other: the comparison is not vacuous
    assert not torch.allclose(serial_w[0], serial_w[1])


def test_map_members_keeps_order_and_width():
    assert map_members(lambda k: k * k, [3, 1, 2], setting=2) == [9, 1, 4]
    assert width(0, n_items=4, threads=2) == 2
    assert width(0, n_items=4, threads=1) == 1  # one thread: one after the other
    assert width(1, n_items=4, threads=8) == 1
    assert width(8, n_items=3, threads=2) == 3
