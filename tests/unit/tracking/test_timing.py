"""The time budget: exclusive nested sections that add up to the wall time."""

import time

from pax.tracking.timing import TimeBudget, summary_line, timed


def test_nested_sections_count_only_their_own_time():
    budget = TimeBudget()
    with budget.section("training"):
        time.sleep(0.05)
        with budget.section("evaluation"):
            time.sleep(0.1)
    with budget.section("training"):
        time.sleep(0.05)
    s = budget.sections
    assert 0.095 <= s["training"] < 0.15  # the inner 0.1 s is not training's
    assert 0.1 <= s["evaluation"] < 0.15
    report = budget.report()
    total = sum(report["sections_s"].values()) + report["unaccounted_s"]
    assert abs(total - report["wall_s"]) < 0.01
    assert report["unaccounted_s"] < 0.05


def test_reference_overlap_is_busy_time_less_waiting():
    budget = TimeBudget()
    budget.reference_busy_s = 3.0
    budget.add("reference_wait", 1.0)
    assert budget.report()["reference_overlapped_s"] == 2.0
    budget.add("reference_wait", 5.0)
    assert budget.report()["reference_overlapped_s"] == 0.0


def test_timed_method_counts_under_its_name():
    class Phase:
        def __init__(self):
            self.ctx = type("Ctx", (), {"budget": TimeBudget()})()

        @timed("md")
        def advance(self, x):
            time.sleep(0.02)
            return 2 * x

    phase = Phase()
    assert phase.advance(3) == 6
    assert phase.ctx.budget.sections["md"] >= 0.02
    line = summary_line(phase.ctx.budget.report())
    assert line.startswith("time ") and "md " in line


def test_report_inside_open_sections_counts_them_so_far():
    budget = TimeBudget()
    with budget.section("results"):
        time.sleep(0.05)
        with budget.section("evaluation"):
            time.sleep(0.05)
            report = budget.report()
    assert report["sections_s"]["results"] >= 0.05
    assert 0.05 <= report["sections_s"]["evaluation"] < 0.09
    assert report["unaccounted_s"] < 0.03
