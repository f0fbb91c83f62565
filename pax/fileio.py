"""Crash-safe files: every file pax rewrites goes through `atomic_write`.

A write goes to a temporary file in the same folder, is fsync'ed and renamed
over the target (and the folder is fsync'ed), so a crash leaves either the old
or the new file, never a torn one. `keep_prev=True` keeps the replaced file as
``<name>.prev`` (a crash between the two renames leaves only that one);
`read_or_prev` reads the file, else that previous generation.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

from pax.errors import PaxError

log = logging.getLogger(__name__)

T = TypeVar("T")


def prev_path(path: Path) -> Path:
    """Where the previous generation of `path` is kept."""
    return path.with_name(path.name + ".prev")


def atomic_write(
    path: str | Path,
    payload: bytes | str | Callable[[IO[bytes]], Any],
    keep_prev: bool = False,
) -> Path:
    """Write `payload` (bytes, text, or a function writing to a binary file) to path.

    With keep_prev the file replaced (if any) is kept as ``<name>.prev``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    # O_EXCL: a fresh file of our own; mode 0o666 less the umask, as open() gives
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            if callable(payload):
                payload(fh)
            else:
                fh.write(payload.encode() if isinstance(payload, str) else payload)
            fh.flush()
            os.fsync(fh.fileno())
        if keep_prev and path.exists():
            os.replace(path, prev_path(path))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


def atomic_write_json(path: str | Path, data: Any, keep_prev: bool = False) -> Path:
    """`atomic_write` of `data` as indented JSON (non-JSON values via str)."""
    return atomic_write(path, json.dumps(data, indent=2, default=str), keep_prev)


def read_or_prev(
    path: str | Path, read: Callable[[Path], T], what: str = "file"
) -> T | None:
    """`read(path)`, else `read` of its ``.prev`` when path is missing or unreadable.

    `what` names the file in log lines and errors ("state file", ...). None when
    neither exists; PaxError naming the files when none that exists can be read.
    """
    path = Path(path)
    errors = []
    for candidate in (path, prev_path(path)):
        if not candidate.exists():
            continue
        try:
            value = read(candidate)
        except Exception as exc:  # truncated or garbled file
            errors.append(f"{candidate} ({type(exc).__name__})")
            log.warning("%s %s is unreadable (%s)", what, candidate, exc)
            continue
        if candidate != path:
            log.warning("resumed from the previous %s %s", what, candidate)
        return value
    if errors:
        raise PaxError(f"no readable {what}: " + "; ".join(errors))
    return None
