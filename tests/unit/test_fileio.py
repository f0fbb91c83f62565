"""Crash-safe writes and the fallback to a file's previous generation."""

import json
import os
import pickle

import pytest

from pax.errors import PaxError
from pax.fileio import atomic_write, atomic_write_json, prev_path, read_or_prev


def read_json(path):
    return json.loads(path.read_text())


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_bytes_text_and_payload_function(tmp_path):
    atomic_write(tmp_path / "a.bin", b"\x00\x01")
    atomic_write(tmp_path / "sub" / "b.txt", "héllo")
    atomic_write(tmp_path / "c.pkl", lambda fh: pickle.dump({"x": 1}, fh))
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "sub" / "b.txt").read_text(encoding="utf-8") == "héllo"
    assert pickle.loads((tmp_path / "c.pkl").read_bytes()) == {"x": 1}
    assert leftovers(tmp_path) == []


def test_crash_mid_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "state.bin"
    atomic_write(path, b"old", keep_prev=True)
    atomic_write(path, b"older-than-new", keep_prev=True)

    def crash(fh):
        fh.write(b"half of the new fi")
        raise KeyboardInterrupt  # e.g. Ctrl-C mid-write

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, crash, keep_prev=True)
    assert path.read_bytes() == b"older-than-new"
    assert prev_path(path).read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_keep_prev_keeps_the_last_generation(tmp_path):
    path = tmp_path / "s.json"
    for n in range(3):
        atomic_write_json(path, {"n": n}, keep_prev=True)
    assert read_json(path) == {"n": 2}
    assert read_json(prev_path(path)) == {"n": 1}
    atomic_write_json(path, {"n": 3})  # without keep_prev .prev stays as it was
    assert read_json(prev_path(path)) == {"n": 1}


def test_json_is_indented_and_stringifies_other_values(tmp_path):
    path = atomic_write_json(tmp_path / "x.json", {"p": tmp_path})
    assert path.read_text() == json.dumps({"p": str(tmp_path)}, indent=2)


def test_permissions_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "m.bin", b"x")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_read_or_prev_reads_the_file(tmp_path):
    path = tmp_path / "s.json"
    atomic_write_json(path, {"n": 1}, keep_prev=True)
    atomic_write_json(path, {"n": 2}, keep_prev=True)
    assert read_or_prev(path, read_json) == {"n": 2}


def test_read_or_prev_falls_back_on_a_garbled_file(tmp_path, caplog):
    path = tmp_path / "s.json"
    atomic_write_json(path, {"n": 1}, keep_prev=True)
    atomic_write_json(path, {"n": 2}, keep_prev=True)
    path.write_text('{"n": ')  # torn
    assert read_or_prev(path, read_json, "state file") == {"n": 1}
    assert f"state file {path} is unreadable" in caplog.text
    assert f"resumed from the previous state file {prev_path(path)}" in caplog.text


def test_read_or_prev_falls_back_when_the_file_is_missing(tmp_path):
    # a crash between the two renames of keep_prev leaves only .prev
    path = tmp_path / "s.json"
    atomic_write_json(prev_path(path), {"n": 1})
    assert read_or_prev(path, read_json) == {"n": 1}


def test_read_or_prev_names_both_when_both_are_garbled(tmp_path):
    path = tmp_path / "s.json"
    path.write_text("{")
    prev_path(path).write_text("")
    with pytest.raises(PaxError) as err:
        read_or_prev(path, read_json, "state file")
    message = str(err.value)
    assert message.startswith("no readable state file")
    assert str(path) in message and str(prev_path(path)) in message
    assert "\n" not in message


def test_read_or_prev_garbled_without_prev_raises(tmp_path):
    path = tmp_path / "s.json"
    path.write_text("{")
    with pytest.raises(PaxError, match="s.json"):
        read_or_prev(path, read_json)


def test_read_or_prev_is_none_when_absent(tmp_path):
    assert read_or_prev(tmp_path / "nothing.json", read_json) is None
