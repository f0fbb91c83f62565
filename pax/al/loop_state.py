"""What the AL loop saves and restores, so a killed run resumes where it was."""

from __future__ import annotations


class LoopState:
    """The AL loop's resumable state (mixed into ActiveLearning)."""

    def _state(self) -> dict:
        """Everything a resumed loop needs, as plain values and arrays."""
        return {
            "md": self.md.state_dict(),
            "selection": self.rule.state_dict(),
            "waiting": dict(self.waiting),
            "labelled_at": dict(self.labelled_at),
            "analysed_at": dict(self.analysed_at),
            "checkpoints": self.checkpoints,
            "quiet_steps": self.quiet_steps.copy(),
            "pending_epochs": self.pending_epochs,
            "fresh": sorted(self.fresh),
            "epochs": self.epochs,
            "mae": self.mae,
            "e_mae_mev": self.e_mae_mev,
            "prospective": list(self.prospective),
            "labels": self.labels,
        }

    def _restore(self, state: dict) -> None:
        """Take a saved state back (states of older pax lack some keys)."""
        self.md.load_state_dict(state["md"])
        self.rule.load_state_dict(state.get("selection", state.get("threshold")))
        self.waiting = {int(k): v for k, v in state["waiting"].items()}
        self.labelled_at = dict(state.get("labelled_at", {}))  # older pax: none
        self.analysed_at = dict(state.get("analysed_at", {}))
        self.checkpoints = state["checkpoints"]
        self.quiet_steps = state["quiet_steps"]
        self.pending_epochs, self.epochs = state["pending_epochs"], state["epochs"]
        self.fresh = set(state.get("fresh", ()))  # absent in states of older pax
        self.mae, self.labels = state["mae"], state["labels"]
        self.e_mae_mev = state.get("e_mae_mev")  # absent in states of older pax
        self.prospective = list(state.get("prospective", ()))
