"""AES-CCM authenticated encryption (NIST SP 800-38C, RFC 3610), built on the AES block.

Stock MicroPython on the ESP32 offers AES only as ``cryptolib.aes`` in ECB/CBC mode, so CCM is
built here on the forward cipher (groupkey.crypto.aes_block: ECB blocks for the counters, the
CBC chain for the MAC). On CPython the ``pycryptodome`` backend (groupkey.crypto.backend) sends
the same calls to pycryptodome's own MODE_CCM; tests require byte-identical output.

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

Work is done CHUNK (64) bytes per library call: the MAC input is staged in a 64-byte buffer
(or read in place when aligned) and run through the CBC chain; CTR encrypts 4 counter blocks
per ECB call and XORs the 64 bytes as one big int (int.from_bytes / to_bytes are C code), so
no Python loop touches every byte. Heap: the output bytearray (returned as a bytes copy) and a
few buffers of at most 64 bytes; per-chunk temporaries are small garbage for the collector.
"""

import sys

from groupkey.crypto import aes_block, backend
from groupkey.crypto.ct import bytes_eq
from groupkey.crypto.errors import AuthenticationFailed, InvalidInput

TAG_LENGTHS = (4, 6, 8, 10, 12, 14, 16)
NONCE_MIN_LENGTH = 7
NONCE_MAX_LENGTH = 13
BLOCK_SIZE = 16
CHUNK = 64  # bytes handed to the AES library per call (4 blocks)

_BUFFER_TYPES = (bytes, bytearray, memoryview)
_MICROPYTHON = sys.implementation.name == "micropython"

_AAD_SHORT_LIMIT = 0xFF00  # 2**16 - 2**8: below this, the AAD length takes two bytes
_AAD_MEDIUM_LIMIT = 1 << 32


def encrypt(key, nonce, plaintext, aad=b"", tag_length=16):
    """Encrypt and authenticate; return ``ciphertext || tag`` (len(plaintext) + tag_length bytes).

    ``aad`` is authenticated but not encrypted. Never reuse a nonce under the same key.
    Raises InvalidInput for a bad key, nonce, tag length or an over-long plaintext or aad.
    """
    _check_parameters(key, nonce, plaintext, aad, tag_length)
    length = len(plaintext)
    _check_payload_length(nonce, length)
    if not _MICROPYTHON and backend.fast():
        return _encrypt_pycryptodome(key, nonce, plaintext, aad, tag_length)
    mac = _CbcMac(key)
    _authenticate_header(mac, nonce, length, aad, tag_length)
    mac.absorb(plaintext)
    mac.pad()
    encrypt_blocks = aes_block.new(key)
    output = bytearray(length + tag_length)
    _counter_mode(encrypt_blocks, nonce, plaintext, output, length)
    tag_mask = _tag_mask(encrypt_blocks, nonce)
    mac_value = mac.finish()
    for index in range(tag_length):
        output[length + index] = mac_value[index] ^ tag_mask[index]
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
    if not _MICROPYTHON and backend.fast():
        return _decrypt_pycryptodome(key, nonce, ciphertext_and_tag, aad, tag_length)
    encrypt_blocks = aes_block.new(key)
    output = bytearray(length)
    _counter_mode(encrypt_blocks, nonce, ciphertext_and_tag, output, length)
    mac = _CbcMac(key)
    _authenticate_header(mac, nonce, length, aad, tag_length)
    mac.absorb(output)
    mac.pad()
    mac_value = mac.finish()
    tag_mask = _tag_mask(encrypt_blocks, nonce)
    expected_tag = bytearray(tag_length)
    for index in range(tag_length):
        expected_tag[index] = mac_value[index] ^ tag_mask[index]
    if not bytes_eq(expected_tag, memoryview(ciphertext_and_tag)[length:]):
        _wipe(output)
        raise AuthenticationFailed()
    return bytes(output)


def _check_parameters(key, nonce, data, aad, tag_length):
    if not (
        isinstance(key, _BUFFER_TYPES) and isinstance(nonce, _BUFFER_TYPES)
        and isinstance(data, _BUFFER_TYPES) and isinstance(aad, _BUFFER_TYPES)
    ):
        raise InvalidInput("AES-CCM: key, nonce, data and aad must be bytes-like buffers")
    if len(key) not in aes_block.KEY_LENGTHS:
        raise InvalidInput("AES-CCM: key must be 16 or 32 bytes (24 where supported)")
    if not NONCE_MIN_LENGTH <= len(nonce) <= NONCE_MAX_LENGTH:
        raise InvalidInput("AES-CCM: nonce must be 7..13 bytes, got %d" % len(nonce))
    if not isinstance(tag_length, int) or tag_length not in TAG_LENGTHS:
        raise InvalidInput("AES-CCM: tag_length must be one of 4, 6, 8, 10, 12, 14, 16")
    # aad needs no check: no Python object reaches 2**64 bytes, the limit of its encoding.


def _check_payload_length(nonce, length):
    # SP 800-38C A.1: the payload length must fit the q-byte length field of B0.
    length_field = 15 - len(nonce)
    if length >= 1 << (8 * length_field):
        raise InvalidInput(
            "AES-CCM: payload of %d bytes exceeds the limit for a %d-byte nonce"
            % (length, len(nonce))
        )


def _authenticate_header(mac, nonce, payload_length, aad, tag_length):
    """Feed B0 and the length-prefixed, zero-padded aad into the CBC-MAC (SP 800-38C A.2)."""
    nonce_length = len(nonce)
    length_field = 15 - nonce_length
    aad_length = len(aad)
    # B0, then (when there is aad) its length encoding, in one buffer and one absorb
    if not aad_length:
        header = bytearray(BLOCK_SIZE)
    elif aad_length < _AAD_SHORT_LIMIT:
        header = bytearray(BLOCK_SIZE + 2)
        header[16:18] = aad_length.to_bytes(2, "big")
    elif aad_length < _AAD_MEDIUM_LIMIT:
        header = bytearray(BLOCK_SIZE + 6)
        header[16:22] = b"\xff\xfe" + aad_length.to_bytes(4, "big")
    else:
        header = bytearray(BLOCK_SIZE + 10)
        header[16:26] = b"\xff\xff" + aad_length.to_bytes(8, "big")
    header[0] = ((tag_length - 2) // 2) << 3 | (length_field - 1)
    if aad_length:
        header[0] |= 0x40
    header[1 : 1 + nonce_length] = nonce
    value = payload_length
    for index in range(15, nonce_length, -1):
        header[index] = value & 0xFF
        value >>= 8
    mac.absorb(header)
    if aad_length:
        mac.absorb(aad)
        mac.pad()


class _CbcMac:
    """CBC-MAC over a stream of byte strings (SP 800-38C A.2: T = MSB_t(Y_r)).

    Input is staged in a CHUNK-byte buffer (or, when aligned, read straight from the caller's
    buffer) and handed to the library's CBC chain CHUNK bytes at a time, so Python never XORs a
    byte of the MAC itself.
    """

    def __init__(self, key):
        self._chain = aes_block.new_chain(key)
        self._stage = bytearray(CHUNK)
        self._stage_view = memoryview(self._stage)
        self._fill = 0  # bytes staged, not yet chained
        self._end = 0  # end of the newest output block in the stage

    def absorb(self, data):
        """Append ``data`` to the MAC input."""
        chain = self._chain
        stage = self._stage
        stage_view = self._stage_view
        view = memoryview(data)
        length = len(view)
        fill = self._fill
        position = 0
        while position < length:
            if fill == 0 and length - position >= CHUNK:
                chain(view[position : position + CHUNK], stage_view)
                self._end = CHUNK
                position += CHUNK
                continue
            take = min(CHUNK - fill, length - position)
            stage[fill : fill + take] = view[position : position + take]
            fill += take
            position += take
            if fill == CHUNK:
                chain(stage_view, stage_view)
                self._end = CHUNK
                fill = 0
        self._fill = fill

    def pad(self):
        """Zero-pad the input to a block boundary (aad and payload are padded separately)."""
        fill = self._fill
        boundary = (fill + BLOCK_SIZE - 1) // BLOCK_SIZE * BLOCK_SIZE
        for index in range(fill, boundary):
            self._stage[index] = 0
        self._fill = boundary
        if boundary == CHUNK:
            self._chain(self._stage_view, self._stage_view)
            self._end = CHUNK
            self._fill = 0

    def finish(self):
        """Chain what is staged (a whole number of blocks after pad) and return the MAC block."""
        fill = self._fill
        if fill:
            part = self._stage_view[:fill]
            self._chain(part, part)
            self._end = fill
            self._fill = 0
        return self._stage_view[self._end - BLOCK_SIZE : self._end]


def _counter_block(nonce):
    """Ctr_0 = (q-1) || nonce || 0...0 as a bytearray (SP 800-38C A.3)."""
    counter = bytearray(BLOCK_SIZE)
    counter[0] = 14 - len(nonce)
    counter[1 : 1 + len(nonce)] = nonce
    return counter


def _counter_mode(encrypt_blocks, nonce, source, output, length):
    """output[:length] = source[:length] XOR S_1 S_2 ... with S_i = E(Ctr_i), CHUNK at a time.

    Counter blocks of one chunk go to the library in one call; the XOR of a whole chunk is one
    big-int operation (int.from_bytes / to_bytes run in C on both interpreters).
    """
    counter = _counter_block(nonce)
    counters = bytearray(CHUNK)
    counters_view = memoryview(counters)
    keystream = bytearray(CHUNK)
    keystream_view = memoryview(keystream)
    source_view = memoryview(source)
    position = 0
    while position < length:
        take = min(CHUNK, length - position)
        blocks_end = (take + BLOCK_SIZE - 1) // BLOCK_SIZE * BLOCK_SIZE
        for offset in range(0, blocks_end, BLOCK_SIZE):
            index = 15
            while True:  # counter += 1 in its q-byte field (never wraps: length checked)
                counter[index] = (counter[index] + 1) & 0xFF
                if counter[index]:
                    break
                index -= 1
            counters[offset : offset + BLOCK_SIZE] = counter
        if take == CHUNK:  # whole chunk: no slices of the buffers to allocate
            encrypt_blocks(counters, keystream)
            stream = int.from_bytes(keystream, "big")
        else:
            encrypt_blocks(counters_view[:blocks_end], keystream_view[:blocks_end])
            stream = int.from_bytes(keystream_view[:take], "big")
        data = int.from_bytes(source_view[position : position + take], "big")
        output[position : position + take] = (data ^ stream).to_bytes(take, "big")
        position += take


def _tag_mask(encrypt_blocks, nonce):
    """S_0 = E(Ctr_0), which masks the MAC into the tag (SP 800-38C A.3)."""
    counter = _counter_block(nonce)
    encrypt_blocks(counter, counter)
    return counter


def _wipe(buffer):
    """Overwrite a bytearray with zeros, CHUNK bytes per call."""
    zeros = bytes(CHUNK)
    length = len(buffer)
    for position in range(0, length, CHUNK):
        take = min(CHUNK, length - position)
        buffer[position : position + take] = zeros[:take]


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
