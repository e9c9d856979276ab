"""Rebuild data/samples/*.eml (the demo's bundled mails) from the committed generator."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.samples.mails import sample_mails  # noqa: E402


def main() -> int:
    out = ROOT / "data" / "samples"
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.eml"):
        old.unlink()
    for name, data in sample_mails():
        (out / name).write_bytes(data)
        print(out / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
