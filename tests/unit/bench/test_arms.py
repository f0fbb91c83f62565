"""A pax arm's cost is what its run had spent when the budget's last label came back."""

import json

import arms


def write_run(run_dir, labels, failed_before):
    """A hand-made pax run: ledger.jsonl and metrics.jsonl with `labels` ok labels.

    labels: (phase, traj, md_step) per ok label, in the order they came back;
    failed_before: index of the ok label before which one label failed.
    An "md" record with 100 more MLFF MD steps follows every AL label.
    """
    ledger, metrics = [], []
    t, ticket, md_steps = 0.0, 0, 0

    def done(phase, traj, md_step, status):
        nonlocal t, ticket, md_steps
        ticket += 1
        t += 10.0
        atoms = {
            "numbers": [1, 1],
            "positions": [[0, 0, 0], [0, 0, 0.7 + 0.01 * ticket]],
            "cell": [[0] * 3] * 3,
            "pbc": [False] * 3,
        }
        tag = {"phase": phase, "traj": traj, "md_step": md_step}
        ledger.append(
            {"event": "submitted", "ticket": ticket, "atoms": atoms, "tag": tag}
        )
        result = {"status": status, "energy": -1.0, "forces": [[0, 0, 1], [0, 0, -1]]}
        ledger.append({"event": "done", "ticket": ticket, "result": result})
        metrics.append(
            {"kind": "sampling", "time_s": t, "ticket": ticket, "status": status, **tag}
        )
        if phase == "al":
            md_steps += 100
            metrics.append({"kind": "md", "time_s": t + 1, "md_steps": md_steps})

    for k, (phase, traj, md_step) in enumerate(labels):
        if k == failed_before:
            done("al", 0, 0, "failed")
        done(phase, traj, md_step, "ok")
    for name, rows in (("ledger.jsonl", ledger), ("metrics.jsonl", metrics)):
        (run_dir / name).write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_cost_stops_at_the_budgets_last_label_of_a_longer_run(tmp_path):
    labels = [("idg", 0, 50), ("idg", 1, 50), ("idg", 0, 100)] + [("al", 0, 0)] * 4
    write_run(tmp_path, labels, failed_before=4)
    frames = arms.ledger_frames(tmp_path)
    assert len(frames) == 7

    cost = arms.pax_cost(tmp_path, frames, 5)
    # labels 1-3 IDG (t 10-30), 4 AL (t 40, md 100), failed (t 50, md 200),
    # label 5 (t 60, md 300), then labels 6 and 7 the budget does not hand on
    assert cost["labels"] == 5 and cost["labels_in_run"] == 7
    assert cost["idg_labels_in_budget"] == 3
    assert cost["idg_sampler_steps"] == 100 + 50
    assert cost["failed_labels"] == 1
    assert cost["reference_calls"] == 5 + 1 + 150
    assert cost["mlff_md_steps"] == 200  # the md record after label 5 is not in
    assert cost["wall_s"] == 60.0

    whole = arms.pax_cost(tmp_path, frames, 7)
    assert whole["mlff_md_steps"] == 400 and whole["wall_s"] == 80.0
