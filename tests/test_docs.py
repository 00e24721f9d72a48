"""The docs stand alone: every file they link or name is in the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "bench").glob("*.md"))]
TOP_FOLDERS = ("bridge/", "workers/", "docs/", "helm/", "tests/", "bench/")


def _links(text: str) -> list[str]:
    return [target for target in re.findall(r"\]\(([^)\s]+)\)", text) if "://" not in target]


def _named_paths(text: str) -> list[str]:
    """Repository paths in backticks (``bridge/cli/dev.py``), without placeholders or globs."""
    found = []
    for quoted in re.findall(r"`([^`\s]+)`", text):
        if quoted.startswith(TOP_FOLDERS) and not re.search(r"[<>{}*|]", quoted):
            found.append(quoted.split(":", 1)[0])
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_link_and_named_file_is_in_the_repository(doc: Path) -> None:
    text = doc.read_text()
    for target in _links(text):
        resolved = (doc.parent / target.split("#", 1)[0]).resolve()
        assert resolved.is_relative_to(ROOT), f"{target} leaves the repository"
        assert resolved.exists(), f"{target} does not exist"
    for named in _named_paths(text):
        assert (ROOT / named).exists(), f"{doc.name} names {named}, which does not exist"
    assert "/work/" not in text
