"""SCEP (RFC 8894) for the lab twin: messages, the emulated IOS CA's server side, the trustpoint client side.

Imports only the standard library, cryptography, asn1crypto, aiohttp and iospki.lab.scep.*; see README.md.
"""

from iospki.lab.scep.messages import FailInfo, MessageType, PkiStatus, ScepError
from iospki.lab.scep.server import (
    IOS_CS_CAPS,
    EnrollmentDecision,
    EnrollmentRequest,
    ScepBackend,
    ScepHttpResponse,
    ScepServer,
    ScepTransaction,
)

__all__ = [
    "IOS_CS_CAPS",
    "EnrollmentDecision",
    "EnrollmentRequest",
    "FailInfo",
    "MessageType",
    "PkiStatus",
    "ScepBackend",
    "ScepError",
    "ScepHttpResponse",
    "ScepServer",
    "ScepTransaction",
]
