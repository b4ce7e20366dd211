"""AES-CCM authenticated encryption (NIST SP 800-38C, RFC 3610), built on the AES block.

Stock MicroPython on the ESP32 offers AES only as ``cryptolib.aes`` in ECB/CBC mode, so CCM is
built here from the single-block forward cipher (groupkey.crypto.aes_block). On CPython the
``pycryptodome`` backend (groupkey.crypto.backend) sends the same calls to pycryptodome's own
MODE_CCM; tests require byte-identical output from both paths.

API::

    encrypt(key, nonce, plaintext, aad=b"", tag_length=16) -> ciphertext || tag
    decrypt(key, nonce, ciphertext_and_tag, aad=b"", tag_length=16) -> plaintext

Parameters (SP 800-38C section 5.4 and appendix A; RFC 3610 section 2):

- key: 16 or 32 bytes; 24 bytes where the AES block backend supports it (pycryptodome does,
  cryptolib on the unix port and stock ESP32 builds does not).
- nonce: 7..13 bytes. The length field then has q = 15 - len(nonce) bytes and the payload
  must be shorter than 2**(8q) bytes (65535 bytes with a 13-byte nonce).
- tag_length: 4, 6, 8, 10, 12, 14 or 16 bytes. aad: any length below 2**64 bytes.

Every parameter violation raises InvalidInput before any key-dependent work. ``decrypt``
raises AuthenticationFailed, and only that, when the input does not authenticate (including
input shorter than the tag); it computes and checks the tag before releasing any plaintext.

Formatting (SP 800-38C appendix A.2), with t = tag_length, q = 15 - len(nonce)::

    B0     = flags || nonce || [len(plaintext)]_q     flags = 64*(aad!=b"") + 8*(t-2)/2 + (q-1)
    aad    = [len(aad)]_2 (a < 2**16 - 2**8) | ff fe [len]_4 (a < 2**32) | ff ff [len]_8
             || aad, zero-padded to a block
    payload zero-padded to a block
    Ctr_i  = (q-1) || nonce || [i]_q                  S_i = E(K, Ctr_i)
    output = (plaintext XOR S_1 S_2 ...) || (CBC-MAC(B0 aad payload)[:t] XOR S_0[:t])

Heap: one output bytearray plus three 16-byte bytearrays (CBC-MAC state, counter block,
keystream block), reused for every block; the input is read in place, never sliced.
"""

from groupkey.crypto import aes_block, backend
from groupkey.crypto.ct import bytes_eq
from groupkey.crypto.errors import AuthenticationFailed, InvalidInput

TAG_LENGTHS = (4, 6, 8, 10, 12, 14, 16)
NONCE_MIN_LENGTH = 7
NONCE_MAX_LENGTH = 13
BLOCK_SIZE = 16

_AAD_SHORT_LIMIT = 0xFF00  # 2**16 - 2**8: below this, the AAD length takes two bytes
_AAD_MEDIUM_LIMIT = 1 << 32


def encrypt(key, nonce, plaintext, aad=b"", tag_length=16):
    """Encrypt and authenticate; return ``ciphertext || tag`` (len(plaintext) + tag_length bytes).

    ``aad`` is authenticated but not encrypted. Never reuse a nonce under the same key.
    Raises InvalidInput for a bad key, nonce, tag length or an over-long plaintext or aad.
    """
    _check_parameters(key, nonce, plaintext, aad, tag_length)
    _check_payload_length(nonce, len(plaintext))
    if backend.fast():
        return _encrypt_pycryptodome(key, nonce, plaintext, aad, tag_length)
    encrypt_block = aes_block.new(key)
    length = len(plaintext)
    output = bytearray(length + tag_length)
    mac = _authenticate_header(encrypt_block, nonce, length, aad, tag_length)
    state = (encrypt_block, mac, _counter_block(nonce), bytearray(BLOCK_SIZE))
    _process_payload(state, plaintext, memoryview(output)[:length], True)
    _finish_tag(state, tag_length)
    for index in range(tag_length):
        output[length + index] = mac[index]
    return bytes(output)


def decrypt(key, nonce, ciphertext_and_tag, aad=b"", tag_length=16):
    """Check the tag and return the plaintext of ``ciphertext || tag``.

    Raises AuthenticationFailed (one opaque error, no plaintext released) when the tag does not
    verify for this key, nonce and aad, or the input is shorter than the tag. Raises
    InvalidInput for a bad key, nonce or tag length.
    """
    _check_parameters(key, nonce, ciphertext_and_tag, aad, tag_length)
    length = len(ciphertext_and_tag) - tag_length
    if length < 0:
        raise AuthenticationFailed()
    _check_payload_length(nonce, length)
    if backend.fast():
        return _decrypt_pycryptodome(key, nonce, ciphertext_and_tag, aad, tag_length)
    encrypt_block = aes_block.new(key)
    output = bytearray(length)
    mac = _authenticate_header(encrypt_block, nonce, length, aad, tag_length)
    state = (encrypt_block, mac, _counter_block(nonce), bytearray(BLOCK_SIZE))
    _process_payload(state, ciphertext_and_tag, output, False)
    _finish_tag(state, tag_length)
    received = memoryview(ciphertext_and_tag)[length:]
    if not bytes_eq(memoryview(mac)[:tag_length], received):
        for index in range(length):
            output[index] = 0
        raise AuthenticationFailed()
    return bytes(output)


def _check_parameters(key, nonce, data, aad, tag_length):
    for name, value in (("key", key), ("nonce", nonce), ("data", data), ("aad", aad)):
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise InvalidInput("AES-CCM: %s must be bytes, bytearray or memoryview" % name)
    if len(key) not in aes_block.KEY_LENGTHS:
        raise InvalidInput("AES-CCM: key must be 16 or 32 bytes (24 where supported)")
    if not NONCE_MIN_LENGTH <= len(nonce) <= NONCE_MAX_LENGTH:
        raise InvalidInput("AES-CCM: nonce must be 7..13 bytes, got %d" % len(nonce))
    if not isinstance(tag_length, int) or tag_length not in TAG_LENGTHS:
        raise InvalidInput("AES-CCM: tag_length must be one of 4, 6, 8, 10, 12, 14, 16")
    if len(aad) >= 1 << 64:
        raise InvalidInput("AES-CCM: aad must be shorter than 2**64 bytes")


def _check_payload_length(nonce, length):
    # SP 800-38C A.1: the payload length must fit the q-byte length field of B0.
    length_field = 15 - len(nonce)
    if length >= 1 << (8 * length_field):
        raise InvalidInput(
            "AES-CCM: payload of %d bytes exceeds the limit for a %d-byte nonce"
            % (length, len(nonce))
        )


def _authenticate_header(encrypt_block, nonce, payload_length, aad, tag_length):
    """Run the CBC-MAC over B0 and the encoded aad; return the MAC state (a 16-byte bytearray)."""
    nonce_length = len(nonce)
    length_field = 15 - nonce_length
    mac = bytearray(BLOCK_SIZE)
    flags = ((tag_length - 2) // 2) << 3 | (length_field - 1)
    if len(aad):
        flags |= 0x40
    mac[0] = flags
    for index in range(nonce_length):
        mac[1 + index] = nonce[index]
    value = payload_length
    for index in range(15, nonce_length, -1):
        mac[index] = value & 0xFF
        value >>= 8
    encrypt_block(mac, mac)
    aad_length = len(aad)
    if not aad_length:
        return mac
    if aad_length < _AAD_SHORT_LIMIT:
        header = aad_length.to_bytes(2, "big")
    elif aad_length < _AAD_MEDIUM_LIMIT:
        header = b"\xff\xfe" + aad_length.to_bytes(4, "big")
    else:
        header = b"\xff\xff" + aad_length.to_bytes(8, "big")
    fill = _absorb(encrypt_block, mac, header, 0)
    fill = _absorb(encrypt_block, mac, aad, fill)
    if fill:
        encrypt_block(mac, mac)  # zero padding: XOR with zeros leaves the state as it is
    return mac


def _absorb(encrypt_block, mac, data, fill):
    """XOR ``data`` into the CBC-MAC state from offset ``fill``, enciphering each full block."""
    position = 0
    length = len(data)
    # Complete the partly filled block, then whole blocks, then the tail.
    while position < length:
        take = min(BLOCK_SIZE - fill, length - position)
        for index in range(take):
            mac[fill + index] ^= data[position + index]
        position += take
        fill += take
        if fill == BLOCK_SIZE:
            encrypt_block(mac, mac)
            fill = 0
    return fill


def _counter_block(nonce):
    """Ctr_0 = (q-1) || nonce || 0...0 as a bytearray (SP 800-38C A.3)."""
    counter = bytearray(BLOCK_SIZE)
    counter[0] = 14 - len(nonce)
    for index in range(len(nonce)):
        counter[1 + index] = nonce[index]
    return counter


def _process_payload(state, source, output, encrypting):
    """CTR-encrypt (or decrypt) the first len(output) bytes of ``source`` into ``output`` with
    counters 1, 2, ..., and run the CBC-MAC over the plaintext blocks in the same pass.

    ``state`` is (encrypt_block, mac, counter, keystream); the buffers are updated in place.
    """
    encrypt_block, mac, counter, keystream = state
    length = len(output)
    position = 0
    while position < length:
        index = 15
        while True:  # counter += 1 in its q-byte big-endian field (never wraps: length checked)
            counter[index] = (counter[index] + 1) & 0xFF
            if counter[index]:
                break
            index -= 1
        encrypt_block(counter, keystream)
        take = min(length - position, BLOCK_SIZE)
        if encrypting:
            for index in range(take):
                byte = source[position + index]
                mac[index] ^= byte
                output[position + index] = byte ^ keystream[index]
        else:
            for index in range(take):
                byte = source[position + index] ^ keystream[index]
                output[position + index] = byte
                mac[index] ^= byte
        encrypt_block(mac, mac)
        position += take


def _finish_tag(state, tag_length):
    """Turn the CBC-MAC state into the tag in place: mac[:t] ^= S_0[:t] with S_0 = E(Ctr_0)."""
    encrypt_block, mac, counter, keystream = state
    for index in range(15 - counter[0], BLOCK_SIZE):
        counter[index] = 0
    encrypt_block(counter, keystream)
    for index in range(tag_length):
        mac[index] ^= keystream[index]


def _pycryptodome_cipher(key, nonce, length, aad, tag_length):
    from Crypto.Cipher import AES

    cipher = AES.new(
        bytes(key), AES.MODE_CCM, nonce=bytes(nonce), mac_len=tag_length,
        msg_len=length, assoc_len=len(aad),
    )
    cipher.update(aad)
    return cipher


def _encrypt_pycryptodome(key, nonce, plaintext, aad, tag_length):
    cipher = _pycryptodome_cipher(key, nonce, len(plaintext), aad, tag_length)
    ciphertext, tag = cipher.encrypt_and_digest(plaintext)
    return ciphertext + tag


def _decrypt_pycryptodome(key, nonce, ciphertext_and_tag, aad, tag_length):
    length = len(ciphertext_and_tag) - tag_length
    cipher = _pycryptodome_cipher(key, nonce, length, aad, tag_length)
    data = memoryview(ciphertext_and_tag)
    try:
        return cipher.decrypt_and_verify(data[:length], data[length:])
    except ValueError:
        raise AuthenticationFailed()
