"""Forward AES on whole blocks: the primitive AES-CCM (groupkey.crypto.aes_ccm) is built on.

CCM needs only the forward cipher E(K, block) (SP 800-38C section 5.1), so this module exposes
that, in the two shapes every AES library offers and stock MicroPython's cryptolib has:

``new(key) -> encrypt_blocks``: ``encrypt_blocks(source, destination)`` writes E(K, block) of
every 16-byte block of ``source`` (ECB) into the writable buffer ``destination``. The counter
blocks of CCM's CTR part go through it.

``new_chain(key) -> encrypt_chain``: the same blocks chained as in CBC with a zero IV,
continuing across calls (block i is E(K, source_i XOR output_{i-1})). That is CCM's CBC-MAC: after
the last call, the last output block is the MAC. Running the chain in C instead of XORing each
byte in Python makes the MAC about ten times cheaper on MicroPython.

``source`` and ``destination`` have the same length, a multiple of 16, and may be the same
bytearray (in place), so callers reuse a few small buffers and allocate nothing per block.

Which AES serves the block:

- MicroPython: ``cryptolib.aes(key, 1)`` (ECB) and ``cryptolib.aes(key, 2, iv)`` (CBC), built
  into the firmware. Stock ESP32 and unix-port builds accept 16- and 32-byte keys; 24-byte
  keys are refused by some builds, and ``new`` then raises InvalidInput.
- CPython: pycryptodome's ``AES`` in ECB and CBC mode (there is no cryptolib on CPython). This
  is the "pure" path of AES-CCM on CPython: the CCM construction (formatting, counters, CTR,
  tag) is still ours; only AES and the CBC chaining are pycryptodome's.
"""

import sys

from groupkey.crypto.errors import InvalidInput

BLOCK_SIZE = 16
KEY_LENGTHS = (16, 24, 32)

_MICROPYTHON = sys.implementation.name == "micropython"
_CRYPTOLIB_MODE_ECB = 1
_CRYPTOLIB_MODE_CBC = 2


def new(key):
    """Return ``encrypt_blocks(source, destination)`` (ECB) for the AES key ``key``.

    Raises InvalidInput unless the key has 16, 24 or 32 bytes, and for a length the block
    backend of this interpreter cannot serve (24-byte keys on cryptolib builds without AES-192).
    """
    _check_key(key)
    if _MICROPYTHON:
        return _new_cryptolib(key, _CRYPTOLIB_MODE_ECB)
    return _new_pycryptodome(key, False)


def new_chain(key):
    """Return ``encrypt_chain(source, destination)``: CBC encryption with a zero IV that
    carries on from one call to the next (a CBC-MAC). Key rules as for ``new``."""
    _check_key(key)
    if _MICROPYTHON:
        return _new_cryptolib(key, _CRYPTOLIB_MODE_CBC)
    return _new_pycryptodome(key, True)


def supports_key_length(length):
    """True when ``new`` accepts keys of ``length`` bytes in this interpreter."""
    if length not in KEY_LENGTHS:
        return False
    try:
        new(bytes(length))
    except InvalidInput:
        return False
    return True


def _check_key(key):
    if len(key) not in KEY_LENGTHS:
        raise InvalidInput("AES key must be 16, 24 or 32 bytes, got %d" % len(key))


def _new_cryptolib(key, mode):
    import cryptolib

    try:
        if mode == _CRYPTOLIB_MODE_CBC:
            cipher = cryptolib.aes(key, mode, bytes(BLOCK_SIZE))
        else:
            cipher = cryptolib.aes(key, mode)
    except ValueError:
        raise InvalidInput(
            "this MicroPython build's cryptolib refuses %d-byte AES keys; "
            "use a 16- or 32-byte key" % len(key)
        )
    # The bound method already has the shape encrypt_blocks(source, destination); in CBC mode
    # cryptolib keeps the chaining value in the object between calls.
    return cipher.encrypt


def _new_pycryptodome(key, chained):
    try:
        from Crypto.Cipher import AES
    except ImportError:
        raise ImportError(
            "groupkey.crypto.aes_block needs pycryptodome on CPython "
            "(pip install -r requirements.txt)"
        )
    if chained:
        cipher = AES.new(bytes(key), AES.MODE_CBC, iv=bytes(BLOCK_SIZE))
    else:
        cipher = AES.new(bytes(key), AES.MODE_ECB)
    library_encrypt = cipher.encrypt

    def encrypt_blocks(source, destination):
        library_encrypt(source, output=destination)

    return encrypt_blocks
