"""The crypto operations the benchmarks measure, with fixed inputs (MicroPython and CPython).

``OPERATIONS`` lists (name, n, module): ``n`` is the payload size in bytes (message, plaintext,
hash input, HKDF output, or the 32-byte scalar). ``prepare(name, n)`` imports only the one
module it needs, builds the fixed inputs and returns a function of no arguments that performs
the operation once. Inputs are constants so that instruction counts are reproducible; the
Ed25519 key, message and signature are RFC 8032 section 7.1 "TEST SHA(abc)", the X25519
scalar and u-coordinate are the first RFC 7748 section 5.2 vector.

On CPython the active backend (groupkey.crypto.backend.use) decides which implementation runs.
"""

OPERATIONS = (
    ("x25519", 32, "x25519"),
    ("x25519_base", 32, "x25519"),
    ("ed25519_sign", 64, "ed25519"),
    ("ed25519_verify", 64, "ed25519"),
    ("sha512", 64, "sha512"),
    ("sha512", 1024, "sha512"),
    ("hkdf", 64, "hkdf"),
    ("aes_ccm_encrypt", 64, "aes_ccm"),
    ("aes_ccm_encrypt", 1024, "aes_ccm"),
)

X25519_SCALAR = "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"
X25519_U = "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"
ED25519_SEED = "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42"
ED25519_PUBLIC = "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf"
ED25519_MESSAGE = (
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
)
ED25519_SIGNATURE = (
    "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
    "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"
)


class MissingApi(Exception):
    """The module exists but lacks the function this operation calls."""


def module_for(name):
    """The groupkey.crypto module name an operation needs (None when the name is unknown)."""
    for entry in OPERATIONS:
        if entry[0] == name:
            return entry[2]
    return None


def load(module):
    """Import groupkey.crypto.<module> and return it (ImportError when it does not exist)."""
    return __import__("groupkey.crypto." + module, None, None, ["__name__"])


def payload(length):
    """``length`` deterministic, non-trivial bytes."""
    data = bytearray(length)
    value = 1
    for index in range(length):
        value = (value * 73 + 41) & 0xFF
        data[index] = value
    return bytes(data)


def unhex(text):
    """bytes.fromhex, written out because not every MicroPython build has it."""
    return bytes(int(text[index:index + 2], 16) for index in range(0, len(text), 2))


def _require(module, attribute):
    if not hasattr(module, attribute):
        raise MissingApi("groupkey.crypto.%s has no %s()" % (module.__name__.split(".")[-1],
                                                             attribute))
    return getattr(module, attribute)


def api_used(name):
    """Which public API ``prepare(name, ...)`` calls, for the report (import must succeed)."""
    if name in ("ed25519_sign", "ed25519_verify"):
        module = load("ed25519")
        if name == "ed25519_sign" and hasattr(module, "SigningKey"):
            return "ed25519.SigningKey(seed).sign(message)"
        if name == "ed25519_verify" and hasattr(module, "VerifyingKey"):
            return "ed25519.VerifyingKey(public).verify(message, signature)"
        return "ed25519.%s" % ("sign" if name == "ed25519_sign" else "verify")
    return {
        "x25519": "x25519.x25519(scalar, u)",
        "x25519_base": "x25519.x25519_base(scalar)",
        "sha512": "sha512.sha512(data)",
        "hkdf": "hkdf.hkdf(ikm, salt, info, length)",
        "aes_ccm_encrypt": "aes_ccm.encrypt(key, nonce, plaintext, aad)",
    }.get(name, "?")


def prepare(name, n):
    """Return a function of no arguments that runs operation ``name`` once on ``n`` bytes.

    Raises ImportError when its module does not exist yet, MissingApi when the module lacks
    the function, ValueError for an unknown name.
    """
    module_name = module_for(name)
    if module_name is None:
        raise ValueError("unknown operation %r" % (name,))
    module = load(module_name)
    if name == "x25519":
        function = _require(module, "x25519")
        scalar = unhex(X25519_SCALAR)
        u = unhex(X25519_U)
        return lambda: function(scalar, u)
    if name == "x25519_base":
        function = _require(module, "x25519_base")
        scalar = unhex(X25519_SCALAR)
        return lambda: function(scalar)
    if name == "ed25519_sign":
        seed = unhex(ED25519_SEED)
        message = unhex(ED25519_MESSAGE)
        if hasattr(module, "SigningKey"):
            signing_key = module.SigningKey(seed)
            return lambda: signing_key.sign(message)
        function = _require(module, "sign")
        return lambda: function(seed, message)
    if name == "ed25519_verify":
        public = unhex(ED25519_PUBLIC)
        message = unhex(ED25519_MESSAGE)
        signature = unhex(ED25519_SIGNATURE)
        if hasattr(module, "VerifyingKey"):
            verifying_key = module.VerifyingKey(public)
            return lambda: verifying_key.verify(message, signature)
        function = _require(module, "verify")
        return lambda: function(public, message, signature)
    if name == "sha512":
        function = _require(module, "sha512")
        data = payload(n)
        return lambda: function(data)
    if name == "hkdf":
        function = _require(module, "hkdf")
        ikm = payload(32)
        salt = payload(48)[16:]
        info = b"groupkey bench"
        return lambda: function(ikm, salt, info, n)
    # aes_ccm_encrypt
    function = _require(module, "encrypt")
    key = payload(16)
    nonce = payload(13)
    plaintext = payload(n)
    aad = b"groupkey bench aad"
    return lambda: function(key, nonce, plaintext, aad)
