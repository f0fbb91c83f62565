"""Read W&B 0.31 offline run files back (wandb ships no reader).

A `run-<id>.wandb` file is a 7-byte header (b":W&B", 0xBEE1, version) then
LevelDB-log framing: 32 KiB blocks of chunks, each with a 7-byte header
(crc32c u32, length u16, type u8: 1 full, 2 first, 3 middle, 4 last). Each
reassembled payload is a `wandb_internal_pb2.Record`.
"""

from __future__ import annotations

import json
import re
import struct
import time
from pathlib import Path
from typing import Any

HEADER = b":W&B"
BLOCK = 32 * 1024
CHUNK_HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def iter_payloads(data: bytes) -> list[bytes]:
    """The record payloads of one .wandb file's bytes."""
    if data[:4] != HEADER:
        raise ValueError("not a W&B run file (bad header)")
    payloads, pending, pos = [], b"", 7
    while pos + CHUNK_HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < CHUNK_HEADER:  # block trailer padding
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + CHUNK_HEADER])
        pos += CHUNK_HEADER
        chunk = data[pos : pos + length]
        pos += length
        if kind == FULL:
            payloads.append(chunk)
        elif kind == FIRST:
            pending = chunk
        elif kind == MIDDLE:
            pending += chunk
        elif kind == LAST:
            payloads.append(pending + chunk)
            pending = b""
    return payloads


def read_records(path: Path) -> list[Any]:
    """The protobuf Records of one .wandb file."""
    from wandb.proto import wandb_internal_pb2 as pb

    records = []
    for payload in iter_payloads(Path(path).read_bytes()):
        rec = pb.Record()
        rec.ParseFromString(payload)
        records.append(rec)
    return records


def _key(item: Any) -> str:
    """A flat key: nested keys joined with '.' (W&B's own keys may hold '/')."""
    return ".".join(item.nested_key) if item.nested_key else item.key


def _value(item: Any) -> Any:
    return json.loads(item.value_json) if item.value_json else None


def _apply(target: dict[str, Any], update: Any) -> None:
    for item in update:
        target[_key(item)] = _value(item)


def read_wandb_file(path: Path) -> dict[str, Any]:
    """One offline run file as a dict.

    Returns:
        run_id, project, name, group, job_type, tags, notes, config (key ->
        value, nested keys joined with '.'), start_time (unix s), history (list of rows), summary
        (last value of each key), metrics (define_metric records as dicts),
        artifacts (list of {name, type, files}), files (paths), exit_code
        (None when the run did not finish), path.
    """
    out: dict[str, Any] = {
        "path": str(path),
        "config": {},
        "history": [],
        "summary": {},
        "metrics": [],
        "artifacts": [],
        "files": [],
        "exit_code": None,
    }
    for rec in read_records(path):
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            run = rec.run
            out.update(
                run_id=run.run_id,
                project=run.project,
                name=run.display_name,
                group=run.run_group,
                job_type=run.job_type,
                tags=list(run.tags),
                notes=run.notes,
                start_time=run.start_time.seconds + run.start_time.nanos / 1e9,
            )
            _apply(out["config"], run.config.update)
        elif kind == "config":
            _apply(out["config"], rec.config.update)
        elif kind == "history":
            row: dict[str, Any] = {}
            _apply(row, rec.history.item)
            out["history"].append(row)
        elif kind == "summary":
            _apply(out["summary"], rec.summary.update)
            for item in rec.summary.remove:
                out["summary"].pop(_key(item), None)
        elif kind == "metric":
            m = rec.metric
            out["metrics"].append(
                {
                    "name": m.name or m.glob_name,
                    "step_metric": m.step_metric,
                    "hidden": m.options.hidden,
                    "summary": [
                        s
                        for s in ("min", "max", "mean", "last", "best")
                        if getattr(m.summary, s, False)
                    ],
                }
            )
        elif kind == "artifact":
            a = rec.artifact
            out["artifacts"].append(
                {
                    "name": a.name,
                    "type": a.type,
                    "files": [c.path for c in a.manifest.contents],
                }
            )
        elif kind == "files":
            out["files"].extend(f.path for f in rec.files.files)
        elif kind == "exit":
            out["exit_code"] = rec.exit.exit_code
    return out


def wandb_files(run_dir: Path) -> list[Path]:
    """The .wandb files under run_dir/wandb (one per session), by folder stamp."""

    def started(path: Path) -> str:
        stamp = re.search(r"\d{8}_\d{6}", path.parent.name)
        return stamp.group(0) if stamp else ""

    return sorted(Path(run_dir).glob("wandb/*run-*/run-*.wandb"), key=started)


def read_finished_file(path: Path, wait_s: float = 10.0) -> dict[str, Any]:
    """read_wandb_file, waiting up to wait_s for the exit record.

    wandb-core writes the file in its own process and `run.finish()` can
    return before the last records reach the disk (seen with wandb 0.31).
    """
    deadline = time.monotonic() + wait_s
    while True:
        run = read_wandb_file(path)
        if run["exit_code"] is not None or time.monotonic() > deadline:
            return run
        time.sleep(0.1)


def read_wandb_runs(run_dir: Path, wait_s: float = 10.0) -> list[dict[str, Any]]:
    """Every W&B session file of a run directory, oldest first."""
    sessions = [read_finished_file(p, wait_s) for p in wandb_files(run_dir)]
    return sorted(sessions, key=lambda s: s.get("start_time", 0.0))


def read_wandb_run(run_dir: Path, wait_s: float = 10.0) -> dict[str, Any]:
    """The W&B run of a run directory, resumed sessions merged in order.

    Config and summary are merged (later sessions win), history rows are
    concatenated, and sessions lists each file's own dict. Waits up to wait_s
    per file for wandb-core to write the exit record.
    """
    sessions = read_wandb_runs(run_dir, wait_s)
    if not sessions:
        raise FileNotFoundError(f"no W&B run file under {run_dir}/wandb")
    merged = dict(sessions[-1])
    merged["config"] = {k: v for s in sessions for k, v in s["config"].items()}
    merged["summary"] = {k: v for s in sessions for k, v in s["summary"].items()}
    for key in ("history", "metrics", "artifacts", "files"):
        merged[key] = [x for s in sessions for x in s[key]]
    merged["sessions"] = sessions
    return merged


def history_values(run: dict[str, Any], key: str) -> list[Any]:
    """Every logged value of one history key, in order."""
    return [row[key] for row in run["history"] if key in row]
