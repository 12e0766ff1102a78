"""iospki: Cisco IOS/IOS-XE PKI lifecycle toolkit."""

__version__ = "0.1.0"
