"""The run's ledger of reference calculations: an append-only, fsync'ed JSON-lines file.

One line per event:
  {"event": "submitted", "ticket", "tag", "hash", "atoms", "t"}
  {"event": "resubmitted", "ticket", "t"}            (after a restart)
  {"event": "done" | "failed", "ticket", "result", "t"}
Every line is flushed and fsync'ed before `append` returns, so a SIGKILL at any
moment leaves at most one truncated last line, which opening the ledger drops.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from pax.data.store import geometry_hash  # noqa: F401 (re-exported)
from pax.dft.labelled import Labelled

log = logging.getLogger(__name__)

FINAL = ("done", "failed")


def atoms_to_dict(atoms: Atoms) -> dict:
    """Plain data for one geometry (what an extxyz frame holds, JSON-able)."""
    return {
        "numbers": atoms.numbers.tolist(),
        "positions": atoms.positions.tolist(),  # (n_atoms, 3) Å
        "cell": atoms.cell.array.tolist(),  # (3, 3) Å
        "pbc": atoms.pbc.tolist(),
        "info": _plain(atoms.info),
    }


def atoms_from_dict(data: dict) -> Atoms:
    """The Atoms that `atoms_to_dict` described."""
    atoms = Atoms(
        numbers=data["numbers"],
        positions=data["positions"],
        cell=data["cell"],
        pbc=data["pbc"],
    )
    atoms.info.update(data.get("info", {}))
    return atoms


def labelled_to_dict(result: Labelled) -> dict:
    """A Labelled as JSON-able data (arrays as nested lists)."""
    return {
        "status": result.status,
        "energy": result.energy,  # eV
        "forces": None if result.forces is None else np.asarray(result.forces).tolist(),
        "stress": None if result.stress is None else np.asarray(result.stress).tolist(),
        "wall_s": result.wall_s,
        "reason": result.reason,
        "info": _plain(result.info),
    }


def labelled_from_dict(data: dict) -> Labelled:
    """The Labelled that `labelled_to_dict` described."""
    forces, stress = data.get("forces"), data.get("stress")
    return Labelled(
        status=data["status"],
        energy=data.get("energy"),
        forces=None if forces is None else np.asarray(forces, dtype=float),
        stress=None if stress is None else np.asarray(stress, dtype=float),
        wall_s=data.get("wall_s", 0.0),
        reason=data.get("reason", ""),
        info=dict(data.get("info", {})),
    )


@dataclass
class Entry:
    """What the ledger knows about one ticket."""

    ticket: str
    tag: dict
    hash: str
    atoms: dict
    state: str = "submitted"
    result: dict | None = None


class Ledger:
    """Append-only record of every calculation of a run (`run_dir/ledger.jsonl`)."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the ledger and read what it holds."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.entries: dict[str, Entry] = {}
        self._lock = threading.Lock()
        self._read()
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def _read(self) -> None:
        if not self.path.exists():
            return
        raw = self.path.read_bytes()
        end = raw.rfind(b"\n") + 1
        if end < len(raw):
            log.warning(
                "%s: dropping a truncated last line (%d bytes)",
                self.path,
                len(raw) - end,
            )
            with open(self.path, "r+b") as f:
                f.truncate(end)
                f.flush()
                os.fsync(f.fileno())
        for number, line in enumerate(raw[:end].splitlines(), start=1):
            if not line.strip():
                continue
            try:
                self._apply(json.loads(line))
            except (ValueError, KeyError) as exc:
                log.warning(
                    "%s:%d: skipping an unreadable record (%s)", self.path, number, exc
                )

    def _apply(self, record: dict) -> None:
        event, ticket = record["event"], record["ticket"]
        if event == "submitted":
            self.entries[ticket] = Entry(
                ticket, record["tag"], record["hash"], record["atoms"]
            )
        elif event in FINAL and ticket in self.entries:
            entry = self.entries[ticket]
            entry.state, entry.result = event, record["result"]

    def append(self, record: dict) -> None:
        """Write one event; returns once it is on disk (flush + fsync)."""
        record = {**record, "t": time.time()}
        line = json.dumps(record, default=_to_json) + "\n"
        with self._lock:
            self._apply(record)
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())

    def submitted(self, ticket: str, tag: dict, atoms: Atoms, hash_: str) -> None:
        """Record a new calculation before it is handed to Parsl."""
        self.append(
            {
                "event": "submitted",
                "ticket": ticket,
                "tag": tag,
                "hash": hash_,
                "atoms": atoms_to_dict(atoms),
            }
        )

    def finished(self, ticket: str, result: Labelled) -> None:
        """Record a result: 'done' when ok, 'failed' otherwise."""
        event = "done" if result.ok else "failed"
        self.append(
            {"event": event, "ticket": ticket, "result": labelled_to_dict(result)}
        )

    def done_by_hash(self) -> dict[str, Entry]:
        """The successful entries, keyed by geometry hash (first one wins)."""
        found: dict[str, Entry] = {}
        for entry in self.entries.values():
            if entry.state == "done":
                found.setdefault(entry.hash, entry)
        return found

    def close(self) -> None:
        """Close the file (every record is already on disk)."""
        with self._lock:
            self._file.close()


def read_records(path: Path) -> list[dict]:
    """Every complete record of a ledger file, in order (for tools and tests)."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines(keepends=True):
        if line.endswith("\n") and line.strip():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records


def _plain(mapping: dict) -> dict:
    """The JSON-able items of `mapping` as plain Python values (numpy -> lists)."""
    plain = {}
    for key, value in mapping.items():
        try:
            plain[str(key)] = json.loads(json.dumps(value, default=_to_json))
        except (TypeError, ValueError):
            log.debug("not recording info[%r] (not JSON-able)", key)
    return plain


def _to_json(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON-able")
