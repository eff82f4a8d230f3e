"""The test tree's own rule: pytest imports test modules by their file name (the test folders
are not packages), so two test files with one name stop the whole run at collection."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_no_two_test_modules_share_a_file_name() -> None:
    by_name: dict[str, list[str]] = defaultdict(list)
    for path in TESTS.rglob("test_*.py"):
        relative = path.relative_to(TESTS)
        if any(part.startswith(".") for part in relative.parts):
            continue  # not collected: the reference clients' venvs (.ref-venv) and the like
        by_name[path.name].append(str(relative))
    shared = {name: paths for name, paths in by_name.items() if len(paths) > 1}
    assert not shared, f"rename one of each: {shared}"
