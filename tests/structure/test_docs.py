"""The repository stands alone and reads in minutes: README.md short, every link in it and in docs/ resolving
inside the repository (files and headings), no reference to a document outside it."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def _anchor(heading):
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path):
    found, counts = set(), {}
    for line in path.read_text().splitlines():
        match = re.match(r"#{1,6} (.+)", line)
        if match:
            base = _anchor(match.group(1))
            n = counts.get(base, 0)
            counts[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    return found


def test_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_link_resolves_inside_the_repository(doc):
    broken = []
    for target in LINK.findall(doc.read_text()):
        if re.match(r"[a-z]+://|mailto:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (doc.parent / path).resolve() if path else doc
        if ROOT not in resolved.parents and resolved != ROOT or not resolved.exists():
            broken.append(target)
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(target)
    assert broken == []


def test_nothing_refers_to_a_document_outside_the_repository():
    kinds = ("*.py", "*.md", "*.h", "*.cpp", "*.v", "*.yaml", "*.toml", "*.tcl", "Makefile")
    offending = []
    for kind in kinds:
        for path in ROOT.rglob(kind):
            if {".venv", "build", ".git"} & set(path.relative_to(ROOT).parts) or path == Path(__file__):
                continue
            for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                if re.search(r"\bSPEC\b|\.\./shared/", line):  # SPEC.md too
                    offending.append(f"{path.relative_to(ROOT)}:{n}")
    assert offending == []
