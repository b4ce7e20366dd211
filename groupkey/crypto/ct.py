"""Constant-time comparison of byte strings (tags, MACs, hashes)."""


def bytes_eq(a, b):
    """True when a == b; time depends only on the lengths, never on where they differ."""
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0
