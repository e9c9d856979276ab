#!/usr/bin/env bash
# The one test command: installs what the tests need, then runs them all.
# Needs root or sudo for apt-get (Dovecot is a real IMAP server the tests start).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=()
# dovecot-imapd: the real IMAP server the integration tests start.
# libreoffice-writer-nogui, tesseract-ocr(-chi-sim), fonts-noto-cjk: optional at run time
# (legacy .doc conversion, OCR of scans, CJK rendering), exercised by the tests.
# chromium: the HTML summary is checked in a real headless browser.
for pkg in dovecot-imapd libreoffice-writer-nogui tesseract-ocr tesseract-ocr-chi-sim fonts-noto-cjk chromium; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing system packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=python3
if python3 - <<'PYEOF'
import os, sys, sysconfig
managed = os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))
sys.exit(0 if managed and sys.prefix == sys.base_prefix else 1)
PYEOF
then
    # Debian's and Ubuntu's own Python refuse pip installs (PEP 668): use a virtualenv beside the code.
    python3 -m venv .venv 2>/dev/null || { $SUDO apt-get install -y -qq python3-venv >/dev/null && python3 -m venv .venv; }
    PY=.venv/bin/python
fi
$PY -m pip install -q --disable-pip-version-check -e '.[test]'
exec $PY -m pytest -q -p no:cacheprovider "$@"
