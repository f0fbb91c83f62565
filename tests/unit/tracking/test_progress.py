import io
import logging

from pax.tracking.progress import ProgressDisplay, describe


def test_describe_idg_and_al_fields():
    assert describe(
        "idg", {"done": 40, "total": 100, "mae": 0.3125, "target": 1.0}
    ) == ("idg: labels 40/100, F-MAE 0.3125 (target 1) eV/Å")
    line = describe(
        "al",
        {
            "n_train": 57,
            "threshold": 0.1234,
            "in_flight": 3,
            "mae": 0.08,
            "target": 0.1,
        },
    )
    assert line.startswith("al: F-MAE 0.08 (target 0.1) eV/Å")
    assert "n_train=57" in line and "threshold=0.1234 eV/Å" in line
    assert "in_flight=3" in line


def test_energy_mae_is_on_the_line():
    line = describe("al", {"mae": 0.08, "target": 0.1, "e_mae": 4.25})
    assert line == "al: F-MAE 0.08 (target 0.1) eV/Å, E-MAE 4.25 meV/atom"


def test_labels_is_taken_as_done(caplog):
    display = ProgressDisplay(interval_s=0, stream=io.StringIO())
    with caplog.at_level(logging.INFO, logger="pax.tracking.progress"):
        display.update("idg", labels=7, total=20, in_flight=2)
    assert caplog.records[0].getMessage() == "idg: labels 7/20, in_flight=2"


def test_plain_lines_are_rate_limited_per_phase(caplog):
    display = ProgressDisplay(interval_s=3600, stream=io.StringIO())
    assert not display.is_rich  # a StringIO is no terminal
    with caplog.at_level(logging.INFO, logger="pax.tracking.progress"):
        for done in range(50):
            display.update("idg", done=done, total=50)
        display.update("al", n_train=50)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["idg: labels 0/50", "al: n_train=50"]


def test_plain_lines_every_update_without_interval(caplog):
    display = ProgressDisplay(interval_s=0, stream=io.StringIO())
    with caplog.at_level(logging.INFO, logger="pax.tracking.progress"):
        for done in range(3):
            display.update("idg", done=done, total=3)
    assert len(caplog.records) == 3


def test_rich_display_draws_bar_and_fields():
    out = io.StringIO()
    display = ProgressDisplay(stream=out, rich=True, refresh_s=0)
    display.update("idg", done=3, total=10, mae=0.5, target=1.0)
    display.update("al", n_train=12, threshold=0.2, in_flight=2, mae=0.2, target=0.1)
    display.close()
    text = out.getvalue()
    assert display.is_rich
    assert "idg" in text and "3/10" in text and "F-MAE 0.5 (target 1) eV/Å" in text
    assert "n_train=12" in text and "in_flight=2" in text


def test_a_failing_display_falls_back_to_lines(caplog):
    class Broken(io.StringIO):
        def write(self, _):
            raise OSError("terminal gone")

    display = ProgressDisplay(stream=Broken(), rich=True, refresh_s=0, interval_s=0)
    with caplog.at_level(logging.INFO, logger="pax.tracking.progress"):
        display.update("idg", done=1, total=2)
        display.update("idg", done=2, total=2)
    display.close()
    assert not display.is_rich
    assert "idg: labels 2/2" in [r.getMessage() for r in caplog.records]


def test_prospective_error_is_on_the_line_when_known():
    line = describe("al", {"mae": 0.08, "target": 0.1, "prospective_f_mae": 0.13})
    assert line.endswith("prospective_f_mae=0.13 eV/Å")
    assert "prospective" not in describe("al", {"prospective_f_mae": None})
