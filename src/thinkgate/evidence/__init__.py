"""Evidence checkers: read a file under an allowed root, evaluate arithmetic, run an allow-listed command.

``check_evidence(item, ctx)`` checks one evidence item (a plain dict in the wire shape) and says
what it found in a ``CheckResult``: passed, failed or not_checked, a reason, a tier and an
independence group taken from the evidence's origin. It never raises.
"""

from __future__ import annotations

from thinkgate.evidence.base import CheckContext, Checker, CheckResult
from thinkgate.evidence.calc import check_calc
from thinkgate.evidence.check import check_evidence, check_text, check_url
from thinkgate.evidence.commands import check_command
from thinkgate.evidence.files import check_file
from thinkgate.evidence.roots import evidence_roots

__all__ = [
    "CheckContext",
    "CheckResult",
    "Checker",
    "check_calc",
    "check_command",
    "check_evidence",
    "check_file",
    "check_text",
    "check_url",
    "evidence_roots",
]
