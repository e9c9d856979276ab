"""From findings to a verdict: the applicant's status and the reply it calls for."""
from __future__ import annotations

from .models import ACCEPTED, ERROR, LATE, NEEDS_CORRECTION, Finding, Verdict

REPLY_KIND = {ACCEPTED: "receipt", NEEDS_CORRECTION: "correction", LATE: "late"}
PARTNER_CODES = frozenset({"missing_word", "missing_pdf"})


def judge(applicant: str, findings: tuple[Finding, ...]) -> Verdict:
    """`late` beats everything; any other error means a correction is needed.

    A `late` note (versions sent after the cut-off, not judged) with errors in
    the on-time version is late too: the correction came too late.
    """
    errors = any(f.severity == ERROR for f in findings)
    if any(f.code == "late" and (f.severity == ERROR or errors) for f in findings):
        status = LATE
    elif errors:
        status = NEEDS_CORRECTION
    else:
        status = ACCEPTED
    return Verdict(applicant, status, findings)


def waiting_for_partner(verdict: Verdict) -> bool:
    """True when exactly one of the two files is missing: the other may be on its way.

    The reply then waits for the pairing window, so a Word and a PDF sent in
    two mails minutes apart get one answer about the pair.
    """
    codes = {f.code for f in verdict.errors}
    return len(codes & PARTNER_CODES) == 1 and "late" not in codes
