"""Where the shipped rules, templates and samples live.

In a checkout (editable install) they are the repo's top-level folders; in a
wheel they are copied into `pipeline/_shipped/` (see pyproject.toml).
"""
from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent
_REPO = _PKG.parent
_MAP = {"rules": "rules", "templates": "templates", "samples": "data/samples"}


def shipped(name: str) -> Path:
    """Path of a shipped folder: 'rules', 'templates' or 'samples'."""
    repo = _REPO / _MAP[name]
    if repo.is_dir():
        return repo
    return _PKG / "_shipped" / name
