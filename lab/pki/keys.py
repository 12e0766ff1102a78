"""RSA key pairs of one device (`crypto key generate rsa`, `show crypto key mypubkey rsa`).

Keys are real RSA keys (cryptography). The keyring serialises itself to one blob the plugin keeps
in the device's persistent storage (IOS keeps keys in private-config).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

MIN_MODULUS = 512
MAX_MODULUS = 4096


@dataclass
class KeyPair:
    label: str
    key: rsa.RSAPrivateKey
    generated_at: datetime
    exportable: bool = False

    @property
    def bits(self) -> int:
        return self.key.key_size

    def public_der(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def new_rsa_key(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


class Keyring:
    """Labelled key pairs, in generation order (IOS lists them that way)."""

    def __init__(self) -> None:
        self.keys: dict[str, KeyPair] = {}

    def get(self, label: str) -> KeyPair | None:
        return self.keys.get(label)

    def generate(self, label: str, bits: int, now: datetime, exportable: bool = False) -> KeyPair:
        if not MIN_MODULUS <= bits <= MAX_MODULUS:
            raise ValueError(f"% Key modulus {bits} is out of range {MIN_MODULUS}-{MAX_MODULUS}")
        kp = KeyPair(label, new_rsa_key(bits), now, exportable)
        self.keys.pop(label, None)
        self.keys[label] = kp
        return kp

    def put(self, kp: KeyPair) -> None:
        self.keys.pop(kp.label, None)
        self.keys[kp.label] = kp

    def rename(self, old: str, new: str) -> None:
        """`LABEL#` -> `LABEL` when a regenerated key takes over."""
        kp = self.keys.pop(old)
        self.keys.pop(new, None)
        kp.label = new
        self.keys[new] = kp

    def delete(self, label: str) -> bool:
        return self.keys.pop(label, None) is not None

    def clear(self) -> None:
        self.keys.clear()

    def to_bytes(self) -> bytes:
        items = []
        for kp in self.keys.values():
            pem = kp.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode()
            items.append(
                {
                    "label": kp.label,
                    "generated_at": kp.generated_at.isoformat(),
                    "exportable": kp.exportable,
                    "pem": pem,
                }
            )
        return json.dumps(items).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Keyring:
        ring = cls()
        for item in json.loads(data.decode()):
            key = serialization.load_pem_private_key(item["pem"].encode(), password=None)
            if not isinstance(key, rsa.RSAPrivateKey):
                continue
            ring.keys[item["label"]] = KeyPair(
                item["label"], key, datetime.fromisoformat(item["generated_at"]), bool(item["exportable"])
            )
        return ring
