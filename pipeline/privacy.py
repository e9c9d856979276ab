"""What of a bank account staff and mail may show: the last four characters.

Summaries and replies travel by mail and end up in shared folders; the last
four are enough to tell which account was meant.
"""
from __future__ import annotations

import re


def mask_account(number: str) -> str:
    """'6222 0012 3456 7890' -> '****7890' ('' for nothing)."""
    compact = re.sub(r"[\s\-－—]", "", number or "")
    return f"****{compact[-4:]}" if compact else ""
