#!/usr/bin/env bash
# The one test command: installs what the tests need, then runs them all.
# Needs root or sudo for apt-get (Dovecot is a real IMAP server the tests start).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=()
command -v dovecot >/dev/null 2>&1 || missing+=(dovecot-imapd)
# optional at run time (legacy .doc/.wps/RTF conversion), exercised by the tests
command -v soffice >/dev/null 2>&1 || missing+=(libreoffice-writer-nogui)
# optional at run time: OCR of scanned PDFs (unit name), and CJK fonts so scans render
command -v tesseract >/dev/null 2>&1 || missing+=(tesseract-ocr tesseract-ocr-chi-sim)
[ -d /usr/share/tesseract-ocr/5/tessdata ] && ls /usr/share/tesseract-ocr/*/tessdata/chi_sim.traineddata >/dev/null 2>&1 || missing+=(tesseract-ocr-chi-sim)
fc-list 2>/dev/null | grep -qi "noto.*cjk" || missing+=(fonts-noto-cjk)
# the HTML summary is checked in a real headless browser
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing system packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python3 -m pip install -q --disable-pip-version-check -e '.[test]'
exec python3 -m pytest -q -p no:cacheprovider "$@"
