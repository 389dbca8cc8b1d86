"""JSON files (src/utils/jsonio.py): one error policy for reading, atomic writes that leave nothing half-written."""
import json
import os
import stat

import pytest

from src.errors import DatasetFormatError, DatasetNotFoundError, UserError
from src.utils.jsonio import read_json, write_json


def test_round_trip_and_formats(tmp_path):
    path = str(tmp_path / "a.json")
    obj = {"b": [1, 2.5, "x"], "a": None}
    write_json(path, obj)
    assert read_json(path, "file") == obj
    assert open(path).read() == json.dumps(obj)
    write_json(path, obj, compact=True)
    assert open(path).read() == '{"b":[1,2.5,"x"],"a":null}'
    write_json(path, obj, indent=2, fast=True)
    assert open(path).read() == json.dumps(obj, indent=2)
    assert sorted(os.listdir(tmp_path)) == ["a.json"]


def test_new_files_get_the_umask_and_existing_ones_keep_their_mode(tmp_path):
    write_json(str(tmp_path / "new.json"), [])
    with open(tmp_path / "plain.json", "w", encoding="utf-8"):
        pass   # what open() gives a new file in this process
    assert stat.S_IMODE(os.stat(tmp_path / "new.json").st_mode) == stat.S_IMODE(os.stat(tmp_path / "plain.json").st_mode)
    os.chmod(tmp_path / "new.json", 0o604)
    write_json(str(tmp_path / "new.json"), [1])
    assert stat.S_IMODE(os.stat(tmp_path / "new.json").st_mode) == 0o604


def test_a_link_is_written_through(tmp_path):
    os.mkdir(tmp_path / "real")
    write_json(str(tmp_path / "real" / "a.json"), [1])
    os.symlink(tmp_path / "real" / "a.json", tmp_path / "link.json")
    write_json(str(tmp_path / "link.json"), [2])
    assert os.path.islink(tmp_path / "link.json") and read_json(str(tmp_path / "real" / "a.json"), "file") == [2]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = str(tmp_path / "a.json")
    write_json(path, [1])
    with pytest.raises(TypeError):
        write_json(path, [object()])
    assert read_json(path, "file") == [1] and os.listdir(tmp_path) == ["a.json"]


def test_errors_name_the_file_and_what_it_is(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^tracks file not found: '.*none.json'$"):
        read_json(str(tmp_path / "none.json"), "tracks file")
    with pytest.raises(DatasetNotFoundError, match=r"^annotation file not found: '.*none.json'; get it$"):
        read_json(str(tmp_path / "none.json"), "annotation file", DatasetFormatError, "get it", DatasetNotFoundError)
    path = tmp_path / "bad.json"
    path.write_text('{"a": [1,')
    with pytest.raises(UserError, match=r"^boxes file .*bad.json is not valid JSON \(Expecting value at line 1, column 10\)$"):
        read_json(str(path), "boxes file")
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(DatasetFormatError, match=r"^annotation file .*bad.json is not UTF-8 text \(.*\); get it$"):
        read_json(str(path), "annotation file", DatasetFormatError, "get it")
