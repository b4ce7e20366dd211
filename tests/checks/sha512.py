"""SHA-512 vector check (tests/vectors/sha512_fips180_4.json), CPython and MicroPython.

Input: {"message_hex": ...} or {"message_ascii": ...} or {"repeat": <text>, "count": n}
(the message is <text> * n, fed in 1000-byte updates so it never sits in memory whole).
Output: {"digest": <hex>}.

Under the ``pure`` backend (always, on MicroPython) the pure-Python code runs; under the other
CPython backend the default ``sha512``/``SHA512``, i.e. the interpreter's hashlib. Every
message is hashed in one shot and streamed (one byte, then uneven chunks, with a ``copy()``
midway); a disagreement is reported under an extra key, so the comparison fails.
"""

CHUNK = 1000


def _functions():
    from groupkey.crypto import backend, sha512

    if backend.current() == backend.PURE:
        return sha512.sha512_pure, sha512.PureSHA512
    return sha512.sha512, sha512.SHA512


def _streamed(hash_class, message):
    hasher = hash_class()
    hasher.update(message[:1])
    offset = 1
    step = 1
    while offset < len(message):
        hasher.update(message[offset:offset + step])
        offset += step
        step = step * 3 + 1
        if offset > len(message) // 2 and step > 1:
            hasher = hasher.copy()
    return hasher.digest()


def compute(inputs):
    one_shot, hash_class = _functions()
    if "repeat" in inputs:
        text = inputs["repeat"].encode()
        count = inputs["count"]
        chunk = text * (CHUNK // len(text))
        per_chunk = CHUNK // len(text)
        hasher = hash_class()
        done = 0
        while count - done >= per_chunk:
            hasher.update(chunk)
            done += per_chunk
        hasher.update(text * (count - done))
        return {"digest": hasher.digest().hex()}
    if "message_ascii" in inputs:
        message = inputs["message_ascii"].encode()
    else:
        message = bytes.fromhex(inputs["message_hex"])
    digest = one_shot(message).hex()
    result = {"digest": digest}
    streamed = _streamed(hash_class, message).hex()
    if streamed != digest:
        result["streamed_digest_differs"] = streamed
    return result
