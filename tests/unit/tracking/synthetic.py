"""Synthetic but realistic records of a small run (IDG then AL), for tracking tests."""

from __future__ import annotations

import math
import random


def feed(
    tracker, n_members=2, idg_epochs=4, al_labels=6, n_traj=3, seed=0, final_mae=0.08
):
    """Log an IDG phase then an AL phase through tracker; return the summary dict."""
    rng = random.Random(seed)
    tracker.log("phase", {"phase": "idg", "event": "start"})
    for epoch in range(idg_epochs):
        n_train = 4 * (epoch + 1)
        for k in range(4):
            tracker.log(
                "sampling",
                {
                    "phase": "idg",
                    "traj": k % n_traj,
                    "system": "aspirin",
                    "md_step": 25 * epoch,
                    "uncertainty": None,
                    "threshold": None,
                    "label_wall_s": 0.5 + rng.random(),
                    "status": "ok",
                    "reason": "",
                    "n_train": n_train - 3 + k,
                    "n_valid": 1 + epoch,
                    "in_flight": 3 - k,
                    "utilisation": 0.9,
                },
            )
        for member in [*range(n_members), "mean"]:
            mae = 0.9 * math.exp(-0.4 * epoch) + 0.02 * rng.random()
            tracker.log(
                "train",
                {
                    "phase": "idg",
                    "epoch": epoch,
                    "member": member,
                    "train_loss": 2.0 * mae,
                    "valid_e_mae_per_atom": mae / 10,
                    "valid_f_mae": mae,
                    "valid_f_rmse": 1.3 * mae,
                    "lr": 1e-2,
                    "n_train": n_train,
                    "n_valid": 1 + epoch,
                },
            )
        tracker.progress("idg", done=n_train, total=4 * idg_epochs, mae=mae, target=1.0)
    tracker.log("phase", {"phase": "idg", "event": "end", "labels": 4 * idg_epochs})
    tracker.plots("idg")

    tracker.log("phase", {"phase": "al", "event": "start"})
    n_train = 4 * idg_epochs
    md_step = 0
    for label in range(al_labels):
        for _ in range(2):
            md_step += 25
            for traj in range(n_traj):
                u = 0.1 + 0.05 * rng.random()
                crossed = u > 0.13
                tracker.log(
                    "uncertainty",
                    {
                        "phase": "al",
                        "traj": traj,
                        "system": "aspirin",
                        "md_step": md_step,
                        "uncertainty": u,
                        "threshold": 0.13,
                        "crossed": crossed,
                    },
                )
        tracker.log(
            "md", {"md_steps": md_step * n_traj, "running": n_traj - 1, "in_flight": 1}
        )
        status = "failed" if label == 2 else "ok"
        n_train += status == "ok"
        tracker.log(
            "sampling",
            {
                "phase": "al",
                "traj": label % n_traj,
                "system": "aspirin",
                "md_step": md_step,
                "uncertainty": 0.14,
                "threshold": 0.13,
                "label_wall_s": 1.0,
                "status": status,
                "reason": "SCF not converged" if status == "failed" else "",
                "n_train": n_train,
                "n_valid": 4,
                "in_flight": 1,
                "utilisation": 0.5,
            },
        )
        if status == "ok":
            pred = 0.1 + 0.1 * rng.random()
            tracker.log(
                "calibration",
                {
                    "phase": "al",
                    "traj": label % n_traj,
                    "system": "aspirin",
                    "predicted_uncertainty": pred,
                    "force_error_max": 2.5 * pred,
                    "force_error_mean": 0.8 * pred,
                },
            )
        for epoch in range(2):
            for member in [*range(n_members), "mean"]:
                mae = final_mae + 0.01 * (al_labels - label) + 0.001 * rng.random()
                tracker.log(
                    "train",
                    {
                        "phase": "al",
                        "epoch": 2 * label + epoch,
                        "member": member,
                        "train_loss": 2 * mae,
                        "valid_e_mae_per_atom": mae / 10,
                        "valid_f_mae": final_mae
                        if label == al_labels - 1 and member == "mean"
                        else mae,
                        "valid_f_rmse": 1.3 * mae,
                        "lr": 1e-3,
                        "n_train": n_train,
                        "n_valid": 4,
                    },
                )
        tracker.progress(
            "al", n_train=n_train, threshold=0.13, in_flight=1, mae=mae, target=0.1
        )
    tracker.log("phase", {"phase": "al", "event": "end"})
    tracker.plots("al")
    return tracker.summary(
        {"final_valid_f_mae": final_mae, "stop_reason": "desired_acc"}
    )
