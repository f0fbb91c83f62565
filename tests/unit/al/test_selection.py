"""Selection rules on hand-made candidate pools, and the AL loop's use of them.

The loop tests drive ActiveLearning._check with a fake MD and a fake pool: no
model, no reference.
"""

from types import SimpleNamespace

import numpy as np
import pytest
from ase import Atoms

from pax.al.config import ALConfig
from pax.al.loop import ActiveLearning
from pax.al.selection import (
    RULES,
    Candidate,
    CxThreshold,
    Diverse,
    LoopView,
    TrustWindow,
    Verdict,
)
from pax.al.threshold import Threshold
from pax.errors import ConfigError
from pax.tracking.timing import TimeBudget


def water(step: int = 0) -> Atoms:
    atoms = Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    atoms.positions[1, 0] += 1e-3 * step
    atoms.set_velocities(np.full((3, 3), 0.01))
    return atoms


def pool(*uncertainties: float, key: str = "all", step: int = 0) -> list[Candidate]:
    return [Candidate(i, water(), u, step, key) for i, u in enumerate(uncertainties)]


def threshold_rule(n_train: int = 0, **al) -> CxThreshold:
    return CxThreshold(ALConfig(**al), LoopView(lambda: n_train))


def trust_rule(n_train: int = 0, **al) -> TrustWindow:
    return TrustWindow(
        ALConfig(selection="trust_window", **al), LoopView(lambda: n_train)
    )


# ------------------------------------------------------------------ threshold
def old_inline_check(threshold, keys, unc, n_train, freeze_at, free):
    """pax's AL check before the selection seam: (labelled, calm, levels)."""
    labelled, calm, levels = [], [], []
    if n_train >= freeze_at and not threshold.frozen:
        threshold.freeze()
    for i, u in enumerate(unc):
        if np.isnan(u):  # not running
            continue
        thr = threshold.value(keys[i])
        crossed = threshold.crossed(keys[i], u)
        levels.append(thr)
        threshold.observe(keys[i], u)
        if crossed and len(labelled) < free:
            labelled.append(i)
        elif not crossed:
            calm.append(i)
    return labelled, calm, levels


def test_threshold_rule_crosses_as_the_old_inline_code():
    rng = np.random.default_rng(7)
    settings = dict(c_x=0.1, threshold_window=20, threshold_warmup=5)
    settings.update(threshold_floor=0.05, freeze_threshold_dataset=40)
    old = Threshold(0.1, 20, 5, 0.05)
    n_train = 0
    rule = CxThreshold(ALConfig(**settings), LoopView(lambda: n_train))
    keys = ["a", "b", "a", "b", "a", "a"]
    crossings = 0
    for check in range(300):
        n_train = check // 5
        unc = rng.gamma(4.0, 0.03, size=len(keys))  # eV/Å
        unc[rng.random(len(keys)) < 0.2] = np.nan  # waiting for a label
        free = int(rng.integers(0, 4))
        labelled, calm, levels = old_inline_check(old, keys, unc, n_train, 40, free)
        offered = [
            Candidate(i, water(), float(u), check, keys[i])
            for i, u in enumerate(unc)
            if not np.isnan(u)
        ]
        verdicts = rule.offer(offered)
        picked = [c.traj for c in rule.pick(free)]
        for traj in rule.waiting():
            rule.withdraw(traj)  # al.full_queue=run_on
        assert picked == labelled
        assert [c.traj for c, v in zip(offered, verdicts) if v is Verdict.calm] == calm
        assert [c.level for c in offered] == levels
        crossings += len(labelled)
    assert crossings > 20 and rule.threshold.frozen  # the sequence tests something
    assert rule.level("a") == old.value("a")


def test_threshold_warmup_then_picks_in_offer_order():
    rule = threshold_rule(threshold_warmup=2, c_x=0.0)
    assert rule.offer(pool(0.1, 0.1, 0.1)) == [Verdict.calm] * 3  # warm-up
    verdicts = rule.offer(pool(0.05, 0.5, 0.4, 0.3))
    assert verdicts == [Verdict.calm, Verdict.wanted, Verdict.wanted, Verdict.wanted]
    assert rule.waiting() == [1, 2, 3]
    assert [c.traj for c in rule.pick(2)] == [1, 2]
    assert rule.pick(0) == [] and rule.waiting() == [3]
    rule.offer([Candidate(3, water(5), 0.0, 5, "all")])  # it moved on and calmed
    assert rule.pick(5) == []


def test_threshold_freezes_when_the_training_set_is_large():
    rule = threshold_rule(n_train=50, threshold_warmup=0, freeze_threshold_dataset=50)
    rule.offer(pool(0.2))  # nothing to freeze yet (no history)
    rule.offer(pool(0.4))  # freezes at mean(0.2)
    assert rule.level("all") == pytest.approx(0.2)
    rule.offer(pool(10.0, 10.0))
    assert rule.level("all") == pytest.approx(0.2)


def test_threshold_state_round_trip_and_old_layout():
    rule = threshold_rule(threshold_warmup=1)
    rule.offer(pool(0.1, 0.2))
    rule.offer(pool(0.1, 0.9))  # trajectory 1 wanted
    state = rule.state_dict()
    again = threshold_rule(threshold_warmup=1)
    again.load_state_dict(state)
    assert again.level("all") == rule.level("all")
    assert [c.traj for c in again.pick(3)] == [1]
    old_layout = Threshold(0.0, 400, 1)  # what al.pt held as "threshold" before
    for u in (0.1, 0.2, 0.3):
        old_layout.observe("all", u)
    resumed = threshold_rule(threshold_warmup=1)
    resumed.load_state_dict(old_layout.state_dict())
    assert resumed.level("all") == pytest.approx(0.2) and resumed.waiting() == []


# --------------------------------------------------------------- trust window
def test_trust_window_labels_inside_and_refuses_beyond():
    rule = trust_rule(trust_lo=0.1, trust_hi=0.3)
    verdicts = rule.offer(pool(0.05, 0.1, 0.2, 0.3, 0.8))
    assert verdicts == [
        Verdict.calm,
        Verdict.calm,
        Verdict.wanted,
        Verdict.too_far,
        Verdict.too_far,
    ]
    assert rule.waiting() == [2]  # rolled-back trajectories are not in the pool
    assert [c.level for c in rule.pick(1)] == [0.1]


def test_trust_window_without_upper_level():
    rule = trust_rule(trust_lo=0.1)
    assert rule.offer(pool(100.0)) == [Verdict.wanted]


def test_trust_window_derives_its_lower_level_from_calibration():
    rule = trust_rule(desired_acc=0.1, trust_lo_factor=1.5, trust_calibration_labels=3)
    assert rule.sigma_lo() == pytest.approx(0.15)  # factor x desired_acc
    for uncertainty, error in ((0.4, 0.2), (0.9, 0.3), (0.2, 0.2)):
        assert rule.sigma_lo() == pytest.approx(0.15)
        rule.calibrate(uncertainty, error)  # ratios 2, 3, 1
    assert rule.sigma_lo() == pytest.approx(0.15 * 2.0)  # x median ratio
    rule.calibrate(float("nan"), 0.1)  # an md_stopped label has no uncertainty
    rule.calibrate(0.3, 0.0)
    assert rule.sigma_lo() == pytest.approx(0.3)
    assert rule.offer(pool(0.29, 0.31)) == [Verdict.calm, Verdict.wanted]
    never = trust_rule(desired_acc=0.1, trust_calibration_labels=0)
    for _ in range(5):
        never.calibrate(1.0, 0.1)
    assert never.sigma_lo() == pytest.approx(0.1)
    frozen = trust_rule(n_train=10, freeze_threshold_dataset=10)
    for _ in range(10):
        frozen.calibrate(1.0, 0.1)
    assert frozen.sigma_lo() == pytest.approx(0.1)
    assert trust_rule(trust_lo=0.05).level("any") == 0.05


def test_trust_window_state_round_trip():
    rule = trust_rule(trust_calibration_labels=1, trust_hi=5.0)
    rule.calibrate(0.4, 0.2)
    rule.offer(pool(0.1, 0.3))
    again = trust_rule(trust_calibration_labels=1, trust_hi=5.0)
    again.load_state_dict(rule.state_dict())
    assert again.sigma_lo() == rule.sigma_lo() == pytest.approx(0.2)
    assert [c.traj for c in again.pick(2)] == [1]


# -------------------------------------------------------------------- diverse
def at(x: float, y: float = 0.0) -> Atoms:
    """A geometry whose (fake) descriptor is (x, y)."""
    atoms = water()
    atoms.info["d"] = (x, y)
    return atoms


def diverse_rule(train=((0.0, 0.0),), share=0.0, max_in_flight=1) -> Diverse:
    view = LoopView(
        lambda: len(train),
        describe=lambda frames: np.array([a.info["d"] for a in frames], float),
        train_frames=lambda: [at(*d) for d in train],
        max_in_flight=max_in_flight,
    )
    al = ALConfig(selection="diverse", threshold_warmup=0, diverse_random_share=share)
    return Diverse(al, view)


def offer_at(rule, *points) -> list[Verdict]:
    """Offer candidates (traj i at points[i] = (uncertainty, x, y)) after a calm check
    that sets the threshold below all of them."""
    rule.offer([Candidate(i, at(0), 0.01, 0, "all") for i in range(len(points))])
    pool_ = [Candidate(i, at(x, y), u, 25, "all") for i, (u, x, y) in enumerate(points)]
    return rule.offer(pool_)


def test_diverse_picks_uncertainty_times_distance_not_uncertainty_alone():
    rule = diverse_rule()
    # traj 0: most uncertain but next to the training geometry (score 0.1);
    # traj 1: half as uncertain, far away (score 0.5)
    assert offer_at(rule, (1.0, 0.1, 0.0), (0.5, 1.0, 0.0)) == [Verdict.wanted] * 2
    assert [c.traj for c in rule.pick(1)] == [1]
    assert rule.waiting() == [0]


def test_diverse_second_pick_avoids_the_first():
    rule = diverse_rule()
    # traj 1 sits next to traj 0; traj 2 is as far from the training set elsewhere
    offer_at(rule, (0.5, 1.0, 0.0), (0.5, 0.99, 0.0), (0.45, 0.0, 1.0))
    assert [c.traj for c in rule.pick(2)] == [0, 2]


def test_diverse_counts_recent_picks_as_known():
    rule = diverse_rule(max_in_flight=1)
    offer_at(rule, (0.5, 1.0, 0.0))
    assert [c.traj for c in rule.pick(1)] == [0]
    # next check: traj 0 again at its labelled geometry, traj 1 nearer the
    # training set but nowhere near the label in flight
    offer_at(rule, (0.5, 1.0, 0.0), (0.5, 0.0, 0.6))
    assert [c.traj for c in rule.pick(1)] == [1]


def test_diverse_random_share_draws_reproducibly_and_resumes():
    picks = []
    for _ in range(2):
        rule = diverse_rule(share=1.0)
        offer_at(rule, *[(0.5, float(x), 0.0) for x in range(1, 7)])
        picks.append([c.traj for c in rule.pick(3)])
    assert picks[0] == picks[1] and picks[0] != [5, 4, 3]  # not the greedy order
    rule = diverse_rule(share=1.0)
    offer_at(rule, *[(0.5, float(x), 0.0) for x in range(1, 7)])
    first = rule.pick(1)
    again = diverse_rule(share=1.0)
    again.load_state_dict(rule.state_dict())
    assert again.recent[0].info["d"] == first[0].atoms.info["d"]
    assert [c.traj for c in first + again.pick(2)] == picks[0]


def test_diverse_needs_descriptors():
    with pytest.raises(ValueError, match="descriptors"):
        Diverse(ALConfig(selection="diverse"), LoopView(lambda: 0))


# --------------------------------------------------------------------- config
@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"selection": "best"}, "al.selection"),
        ({"trust_lo": -0.1}, "al.trust_lo"),
        ({"trust_lo": 0.3, "trust_hi": 0.2}, "al.trust_hi"),
        ({"trust_lo_factor": 0.0}, "al.trust_lo_factor"),
        ({"trust_calibration_labels": -1}, "al.trust_calibration_labels"),
        ({"min_steps_between_labels": -5}, "al.min_steps_between_labels"),
        ({"diverse_random_share": 1.5}, "al.diverse_random_share"),
    ],
)
def test_bad_selection_settings_name_the_key(settings, key):
    with pytest.raises(ConfigError, match=key):
        ALConfig(**settings)


def test_defaults_keep_aims_pax_selection():
    al = ALConfig()
    assert al.selection == "threshold" and al.full_queue.value == "run_on"
    assert al.min_steps_between_labels == 0
    assert set(RULES) >= {"threshold", "trust_window"}


# ----------------------------------------------------------------------- loop
class FakeMD:
    """The BatchedMD calls the AL check makes, over fixed uncertainties."""

    def __init__(self, n: int) -> None:
        self.status = ["running"] * n
        self.steps = np.zeros(n, dtype=np.int64)
        self.unc = np.zeros(n)  # eV/Å
        self.resets: list[tuple[int, Atoms]] = []

    @property
    def running(self):
        return np.array([s == "running" for s in self.status])

    @property
    def stopped(self):
        return np.array([s == "stopped" for s in self.status])

    def uncertainty(self):
        return {"max_atomic_sd": np.where(self.running, self.unc, np.nan)}

    def atoms(self, i):
        return water(int(self.steps[i]))

    def advance(self, steps):
        self.steps[self.running] += steps

    def pause(self, i):
        self.status[i] = "paused" if self.status[i] == "running" else self.status[i]

    def resume(self, i):
        self.status[i] = "running" if self.status[i] == "paused" else self.status[i]

    def reset(self, i, atoms):
        self.resets.append((i, atoms))

    def stop_reason(self, i):
        return "atoms_flew_apart"


class FakePool:
    def __init__(self) -> None:
        self.tags: list[dict] = []

    @property
    def in_flight(self):
        return len(self.tags)

    def submit(self, frame, tag):
        self.tags.append(tag)
        return f"t{len(self.tags)}"


def fake_loop(n: int, max_in_flight: int, **al) -> ActiveLearning:
    """An ActiveLearning with the state _check uses, over fakes."""
    cfg = ALConfig(**al)
    records = []
    ensemble = SimpleNamespace(
        predict=lambda frames: {"forces_comm": np.zeros((len(frames[0]), 3))}
    )
    ctx = SimpleNamespace(
        pool=FakePool(),
        tracker=SimpleNamespace(log=lambda kind, rec: records.append((kind, rec))),
        ensemble=ensemble,
        max_in_flight=max_in_flight,
        n_train=lambda: 10,
        records=records,
        budget=TimeBudget(),
    )
    loop = ActiveLearning.__new__(ActiveLearning)
    loop.ctx, loop.al, loop.md = ctx, cfg, FakeMD(n)
    loop.keys, loop.starts = ["all"] * n, [water() for _ in range(n)]
    loop.rule = RULES[cfg.selection](cfg, LoopView(ctx.n_train))
    loop.waiting, loop.labelled_at, loop.predicted = {}, {}, {}
    loop.checkpoints = [water() for _ in range(n)]
    loop.quiet_steps = np.zeros(n, dtype=np.int64)
    loop.crashes = np.zeros(n, dtype=np.int64)
    return loop


def step(loop, *unc: float) -> int:
    loop.md.advance(25)
    loop.md.unc[:] = unc
    return loop._check()


def test_full_queue_run_on_keeps_the_crossed_trajectory_running():
    loop = fake_loop(3, 1, selection="trust_window", trust_lo=0.1)
    assert step(loop, 0.5, 0.6, 0.05) == 1
    assert loop.md.status == ["paused", "running", "running"]
    assert loop.rule.waiting() == [] and loop.waiting == {0: "t1"}
    assert loop.checkpoints[2].positions[1, 0] == pytest.approx(0.96 + 0.025)
    crossed = [r["crossed"] for kind, r in loop.ctx.records if kind == "uncertainty"]
    assert crossed == [True, True, False]


def test_full_queue_pause_labels_the_paused_geometry_when_a_slot_frees():
    loop = fake_loop(3, 1, selection="trust_window", trust_lo=0.1, full_queue="pause")
    step(loop, 0.5, 0.6, 0.05)
    assert loop.md.status == ["paused", "paused", "running"]
    assert loop.rule.waiting() == [1]
    loop.ctx.pool.tags.clear()  # the first label came back
    assert step(loop, 0.5, 0.6, 0.05) == 1  # only trajectory 2 moved
    assert loop.ctx.pool.tags[0]["traj"] == 1 and loop.ctx.pool.tags[0]["md_step"] == 25
    loop.ctx.pool.tags.clear()
    loop.md.status = ["paused", "paused", "paused"]
    loop.rule.offer([Candidate(2, water(), 0.7, 50, "all")])
    assert loop._label() == 1  # nothing runs: a freed slot is filled at once


def test_min_steps_between_labels_lets_a_trajectory_run_on():
    loop = fake_loop(1, 5, selection="trust_window", trust_lo=0.1)
    loop.al.min_steps_between_labels = 60
    assert step(loop, 0.5) == 1  # step 25
    loop.md.resume(0)  # its label came back
    assert step(loop, 0.5) == 0  # step 50: 25 steps after its label
    assert loop.md.status == ["running"] and loop.rule.waiting() == []
    assert step(loop, 0.5) == 0  # step 75: 50 steps
    assert step(loop, 0.5) == 1  # step 100: 75 steps
    assert [t["md_step"] for t in loop.ctx.pool.tags] == [25, 100]


def test_too_far_rolls_back_with_fresh_velocities_and_labels_nothing():
    loop = fake_loop(2, 5, selection="trust_window", trust_lo=0.1, trust_hi=0.3)
    assert step(loop, 0.05, 0.9) == 0
    ((traj, atoms),) = loop.md.resets
    assert traj == 1 and not atoms.has("momenta")  # drawn anew by BatchedMD.reset
    assert atoms.positions[1, 0] == pytest.approx(0.96)  # its checkpoint
    rejected = [r for kind, r in loop.ctx.records if kind == "rejected"]
    assert [r["traj"] for r in rejected] == [1] and "trust" in rejected[0]["reason"]
    assert loop.ctx.pool.tags == []


def test_threshold_rule_in_the_loop_tags_its_level():
    loop = fake_loop(2, 5, threshold_warmup=1)
    step(loop, 0.1, 0.1)
    assert step(loop, 0.1, 0.5) == 1
    tag = loop.ctx.pool.tags[0]
    assert tag["threshold"] == pytest.approx(0.1) and tag["trigger"] == "uncertainty"


def test_a_trajectory_that_stops_after_each_calm_restart_is_labelled():
    """Calm checks between MD-guard stops do not reset the count (al.stops_before_label)."""
    loop = fake_loop(1, 5, selection="trust_window", trust_lo=0.1)
    loop.al.sanity.enabled = False
    sent = []
    for _ in range(2):
        loop.md.status = ["running"]  # (re)started
        assert step(loop, 0.05) == 0  # calm: this geometry becomes the checkpoint
        loop.md.status = ["stopped"]  # a few steps later an MD guard stops it
        sent.append(loop._check())
    assert sent == [0, 1]
    assert [t["trigger"] for t in loop.ctx.pool.tags] == ["md_stopped"]
    assert len(loop.md.resets) == 2 and loop.crashes[0] == 0
