import json
import math
import os
import stat

import pytest

import mlpsweep.storage as storage
from mlpsweep.storage import write_bytes_atomic, write_json_atomic, write_text_atomic


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "f.json"
    write_json_atomic(target, {"b": 1, "a": math.nan})
    assert json.loads(target.read_text()) == {"a": None, "b": 1}
    write_text_atomic(target, "new\n")
    assert target.read_text() == "new\n"
    assert [p.name for p in target.parent.iterdir()] == ["f.json"]


@pytest.mark.parametrize("fail_at", ["fsync", "replace"])
def test_a_write_that_fails_midway_keeps_the_old_file(tmp_path, monkeypatch, fail_at):
    """The new bytes are in a temporary file when fsync or the rename fails: the old file stays whole."""
    target = tmp_path / "f.json"
    write_text_atomic(target, "old")

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(storage.os, fail_at, broken)
    with pytest.raises(OSError, match="No space left"):
        write_text_atomic(target, "new and longer")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]  # the temporary file is gone


def test_durable_writes_fsync_the_file_and_then_its_folder(tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def record(fd):
        synced.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        return real(fd)

    monkeypatch.setattr(storage.os, "fsync", record)
    write_bytes_atomic(tmp_path / "f", b"x")
    assert synced == ["file", "folder"]
    synced.clear()
    write_bytes_atomic(tmp_path / "g", b"x", durable=False)
    assert synced == []


def test_written_files_follow_the_umask_not_mkstemps_0600(tmp_path):
    write_text_atomic(tmp_path / "f", "x")
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o666 & ~storage.UMASK != 0o600
