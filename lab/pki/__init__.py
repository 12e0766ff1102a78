"""IOS PKI engine of the lab twin: certificate server (`crypto pki server`) and client trustpoints.

Pure state modules (`ca`, `trustpoint`, `keys`, `render`) plus the wiring into the lab core
(`plugin`). Nothing here imports the toolkit: only stdlib, cryptography, asn1crypto, aiohttp,
yaml and `iospki.lab.*`.
"""
