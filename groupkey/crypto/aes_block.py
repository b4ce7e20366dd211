"""Single-block AES encryption: the one primitive AES-CCM (groupkey.crypto.aes_ccm) is built on.

CCM needs only the forward cipher E(K, block) (SP 800-38C section 5.1), so this module exposes
exactly that and nothing else:

``new(key) -> encrypt_block`` where ``encrypt_block(source, destination)`` writes the AES
encryption of the 16-byte buffer ``source`` into the 16-byte writable buffer ``destination``.
``source`` and ``destination`` may be the same bytearray (in-place), so a caller can keep one
buffer for the CBC-MAC state and one for the counter keystream and allocate nothing per block.

Which AES serves the block:

- MicroPython: ``cryptolib.aes(key, 1)`` (mode 1 = ECB), built into the firmware. Stock ESP32
  and unix-port builds accept 16- and 32-byte keys; 24-byte keys are refused by some builds,
  and ``new`` then raises InvalidInput.
- CPython: pycryptodome's ``AES`` in ECB mode (there is no cryptolib on CPython). This is the
  "pure" path of AES-CCM on CPython: the CCM construction is still ours, only the block is
  pycryptodome's.
"""

import sys

from groupkey.crypto.errors import InvalidInput

BLOCK_SIZE = 16
KEY_LENGTHS = (16, 24, 32)

_MICROPYTHON = sys.implementation.name == "micropython"
_CRYPTOLIB_MODE_ECB = 1


def new(key):
    """Return ``encrypt_block(source, destination)`` for the AES key ``key`` (16, 24 or 32 bytes).

    Raises InvalidInput for any other key length, and for a length the block backend of this
    interpreter cannot serve (24-byte keys on cryptolib builds without AES-192).
    """
    if len(key) not in KEY_LENGTHS:
        raise InvalidInput("AES key must be 16, 24 or 32 bytes, got %d" % len(key))
    if _MICROPYTHON:
        return _new_cryptolib(key)
    return _new_pycryptodome(key)


def supports_key_length(length):
    """True when ``new`` accepts keys of ``length`` bytes in this interpreter."""
    if length not in KEY_LENGTHS:
        return False
    try:
        new(bytes(length))
    except InvalidInput:
        return False
    return True


def _new_cryptolib(key):
    import cryptolib

    try:
        cipher = cryptolib.aes(key, _CRYPTOLIB_MODE_ECB)
    except ValueError:
        raise InvalidInput(
            "this MicroPython build's cryptolib refuses %d-byte AES keys; "
            "use a 16- or 32-byte key" % len(key)
        )
    # The bound method already has the shape encrypt_block(source, destination).
    return cipher.encrypt


def _new_pycryptodome(key):
    try:
        from Crypto.Cipher import AES
    except ImportError:
        raise ImportError(
            "groupkey.crypto.aes_block needs pycryptodome on CPython "
            "(pip install -r requirements.txt)"
        )
    cipher = AES.new(bytes(key), AES.MODE_ECB)
    ecb_encrypt = cipher.encrypt

    def encrypt_block(source, destination):
        ecb_encrypt(source, output=destination)

    return encrypt_block
