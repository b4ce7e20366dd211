"""Cryptographic primitives shared by devices, gateway and ledger (see docs/crypto.md).

Import the submodule you need (``from groupkey.crypto import x25519``); this package file
imports nothing so that a device only pays heap for what it uses.
"""
