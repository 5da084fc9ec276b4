"""dvc_files.read_yaml: one parse per version of a file, a new parse when it changes."""

from __future__ import annotations

import os

import pytest
import yaml

from deltahall import dvc_files
from deltahall.mlflow_ui import dvc_digest


def test_a_file_is_parsed_once_until_it_changes(tmp_path, monkeypatch):
    lock = tmp_path / "dvc.lock"
    lock.write_text("stages:\n  a:\n    outs:\n    - path: out\n      md5: abc\n")
    parses = []
    real_load = yaml.load
    monkeypatch.setattr(yaml, "load", lambda *a, **k: parses.append(1) or real_load(*a, **k))
    assert dvc_digest("out", tmp_path) == "abc"
    assert dvc_digest("out", tmp_path) == "abc"
    assert len(parses) == 1  # data.dvc is missing: dvc.lock alone, parsed once
    lock.write_text("stages:\n  a:\n    outs:\n    - path: out\n      md5: abcd.dir\n")
    assert dvc_digest("out", tmp_path) == "abcd"  # a new size: parsed again
    assert len(parses) == 2
    stat = lock.stat()  # same size, a new modification time: parsed again
    lock.write_text("stages:\n  a:\n    outs:\n    - path: out\n      md5: efgh.dir\n")
    os.utime(lock, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1000))
    assert dvc_digest("out", tmp_path) == "efgh"
    assert len(parses) == 3
    stat = lock.stat()  # replaced by a rename, same size and time: a new inode, parsed again
    fresh = tmp_path / "dvc.lock.new"
    fresh.write_text("stages:\n  a:\n    outs:\n    - path: out\n      md5: ijkl.dir\n")
    os.utime(fresh, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    fresh.replace(lock)
    assert dvc_digest("out", tmp_path) == "ijkl"
    assert len(parses) == 4


def test_a_file_that_does_not_parse_is_not_remembered(tmp_path):
    broken = tmp_path / "data.dvc"
    broken.write_text("outs: [\n")
    with pytest.raises(yaml.YAMLError):
        dvc_files.read_yaml(broken)
    broken.write_text("outs:\n- path: data\n  md5: 123.dir\n")
    assert dvc_files.read_yaml(broken)["outs"][0]["md5"] == "123.dir"
    assert dvc_digest("data", tmp_path) == "123"
