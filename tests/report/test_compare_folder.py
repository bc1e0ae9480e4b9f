"""`shopbench compare FOLDER`: seed 001's --results-dir, every run directory inside compared."""

import os

import pytest

from shopbench.cli.report import expand_run_dirs
from shopbench.errors import UsageError


def test_a_folder_of_runs_expands_to_its_runs_oldest_first(tmp_path):
    for i, name in enumerate(("b-run", "a-run")):
        (tmp_path / "results" / name).mkdir(parents=True)
        (tmp_path / "results" / name / "run.json").write_text("{}")
        os.utime(tmp_path / "results" / name, (1000 + i, 1000 + i))
    (tmp_path / "results" / "notes").mkdir()  # not a run: ignored
    single = tmp_path / "single"
    single.mkdir()
    (single / "run.json").write_text("{}")
    assert expand_run_dirs([tmp_path / "results", single]) == [
        tmp_path / "results" / "b-run", tmp_path / "results" / "a-run", single]


def test_a_folder_without_runs_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="nor a folder of run directories"):
        expand_run_dirs([tmp_path])
