"""Fifteen generated projects and one Verilog twin, file by file, as ``tests/data/golden_projects.json`` holds
them (``tests/golden_projects.py``): a change meant to keep generated files as they were keeps them."""

import json

import pytest
from golden_projects import CASES, GOLDEN, TWIN_CASE, digests


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    return digests(tmp_path_factory.mktemp("golden"))


@pytest.mark.slow
@pytest.mark.parametrize("name", [*CASES, "twin"])
def test_generated_files_are_byte_identical_to_the_golden_digests(written, name):
    golden = json.loads(GOLDEN.read_text())[name]
    found = written[name if name != "twin" else "twin"]
    assert sorted(found) == sorted(golden)
    changed = [path for path in golden if found[path] != golden[path]]
    assert changed == [], f"{name}: regenerate with tests/golden_projects.py --update if the change is meant"


def test_the_twin_comes_from_a_golden_project():
    assert TWIN_CASE in CASES
