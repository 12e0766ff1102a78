"""What IOS answers in the interactive exchanges the tasks drive: not `show` commands, so not in the registry.

`offered_fingerprints` reads the CA certificate `crypto pki authenticate` offers before its `[yes/no]`
question; `rejection` finds the '%' line with which IOS refuses a command. (Waiting for prompts and
questions is the session's business, `iospki.tasks.connection`.)
"""

from __future__ import annotations

import re

from iospki.models import normalize_fingerprint

_OFFERED = re.compile(r"^\s*Fingerprint (MD5|SHA1):\s*([0-9A-Fa-f ]+?)\s*$", re.MULTILINE)
_REFUSED = re.compile(r"% ?(?:Invalid|Incomplete|Error|.*not known)")


def offered_fingerprints(transcript: str) -> dict[str, str]:
    """{'MD5': ..., 'SHA1': ...} of the certificate offered (upper-case hex without spaces), as printed.

    >>> offered_fingerprints("Certificate has the following attributes:\\n       Fingerprint MD5: 1e8f06d1 "
    ...                      "7a8a5df6\\n      Fingerprint SHA1: 8A4F 0C1D\\n% Do you accept this certificate? [yes/no]:")
    {'MD5': '1E8F06D17A8A5DF6', 'SHA1': '8A4F0C1D'}
    """
    out: dict[str, str] = {}
    for m in _OFFERED.finditer(transcript):
        out.setdefault(m[1], normalize_fingerprint(m[2]))
    return out


def rejection(transcript: str) -> str | None:
    """The last '%' line when IOS refused the command (invalid, incomplete, an error, something not known);
    None when it did not.

    >>> rejection("% Certificate server 'X' is not known"), rejection("Certificate server rollover started")
    ("% Certificate server 'X' is not known", None)
    """
    if _REFUSED.search(transcript) is None:
        return None
    errs = [ln.strip() for ln in transcript.splitlines() if ln.strip().startswith("%")]
    return errs[-1] if errs else transcript.strip()[-200:]
