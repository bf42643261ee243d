import json
import math

import pytest

from mlpsweep.storage import write_json_atomic, write_text_atomic


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "f.json"
    write_json_atomic(target, {"b": 1, "a": math.nan})
    assert json.loads(target.read_text()) == {"a": None, "b": 1}
    write_text_atomic(target, "new\n")
    assert target.read_text() == "new\n"
    assert [p.name for p in target.parent.iterdir()] == ["f.json"]


def test_failed_write_keeps_old_file(tmp_path):
    target = tmp_path / "f.json"
    write_text_atomic(target, "old")
    with pytest.raises(TypeError):
        write_json_atomic(target, {"x": object()})
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]
