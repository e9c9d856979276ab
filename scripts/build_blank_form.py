"""Write templates/forms/申报书.docx, the blank form, from the committed generator."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.models import Application  # noqa: E402
from pipeline.samples.forms import build_form_docx  # noqa: E402


def main() -> int:
    out = ROOT / "templates" / "forms" / "申报书.docx"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(build_form_docx(Application()))
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
