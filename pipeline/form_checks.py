"""Checks on what the Word form says (sections 一–八). Registered like checks.py."""
from __future__ import annotations
