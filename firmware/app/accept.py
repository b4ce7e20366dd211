"""What a device checks before it accepts anything from the (untrusted) gateway.

docs/e2e.md, flow 4 step 7 ("parse, verify, apply"): every function here only parses and
verifies; none changes the member. Each raises ``Rejected`` with a short reason, which the
member logs (with fingerprints) before asking the gateway to resynchronize. A MemoryError is
never turned into ``Rejected`` (``failed``): running out of heap says nothing about the
message, and the member handles it apart (firmware/app/member.py ``handle``).

    check_receipts(entry_hash, bundle, config)      t-of-n ledger receipts (trusted keys only,
                                                    verifiers cached: trusted_nodes)
    check_transition(entry, config, epoch, head)    kind, group, sequence, previous hash
    check_genesis(entry, config, tree_hash)         the founder's own epoch 0
    check_sign_request(unsigned, ...)               SIGN_ENTRY: what the device signs
    check_leaf_proof(message, epoch, tree_hash)     WHO answer, recomputed tree hash

Heavy modules (receipt, bodies, tgdh) are imported inside the functions: a device that only
sends readings between epochs keeps them off the heap until the next rekey needs them.
"""

import binascii


class Rejected(Exception):
    """Something the gateway delivered fails a check; the text says which."""


def failed(check, exc):
    """The Rejected to raise when ``check`` raised ``exc``; a MemoryError is raised again
    as it is (the device lacked heap: the message may be valid)."""
    if isinstance(exc, MemoryError):
        raise exc
    return Rejected("%s: %s" % (check, exc))


def unhex_list(values):
    """Bytes of a list of hex strings (the configured ledger node keys)."""
    return [binascii.unhexlify(value) for value in values]


# (configured hex keys, TrustedNodes): the verifiers of the configured ledger nodes, kept
# across epochs. One entry, replaced if the configuration names other keys: bounded by the
# configuration, never by what the gateway sends.
_trusted = None


def trusted_nodes(config):
    """The TrustedNodes of ``config["ledger_keys"]`` (made once, reused while the configured
    keys stay the same)."""
    global _trusted
    from groupkey.ledger.receipt import TrustedNodes

    keys = list(config.get("ledger_keys") or [])
    if _trusted is None or _trusted[0] != keys:
        _trusted = (keys, TrustedNodes(unhex_list(keys)))
    return _trusted[1]


def caching_verifiers():
    """True while the ledger node verifiers are cached, False after a MemoryError switched
    the cache off, None before the first receipt check (logged with each epoch)."""
    return None if _trusted is None else _trusted[1].caching


def drop_verifiers():
    """Free the cached ledger node verifiers and stop caching them (after a MemoryError
    anywhere in an acceptance: a device at its heap limit runs uncached). True when there
    was a cache to drop."""
    if _trusted is None or not _trusted[1].caching:
        return False
    _trusted[1].forget()
    return True


def check_receipts(entry_hash, bundle, config):
    """Raise Rejected unless ``bundle`` holds ``ledger_threshold`` valid receipts of distinct
    configured ledger nodes for ``entry_hash`` (checkpoint signatures and inclusion proofs,
    through the cached verifiers of ``trusted_nodes``)."""
    from groupkey.ledger.receipt import decode_bundle, verify_bundle

    keys = config.get("ledger_keys") or []
    threshold = config.get("ledger_threshold") or 0
    if not keys or threshold < 1:
        raise Rejected("no ledger keys configured")
    try:
        verify_bundle(entry_hash, decode_bundle(bundle), trusted_nodes(config), threshold)
    except Exception as exc:  # DecodeError, InsufficientReceipts, ...
        raise failed("receipts", exc)


def decode_entry(data):
    """The ledger Entry in ``data`` (Rejected if malformed)."""
    from groupkey.ledger import entry as entries

    try:
        return entries.decode(data)
    except Exception as exc:
        raise failed("entry", exc)


def check_transition(entry, config, epoch, head, catchup=False):
    """A group transition entry that may follow (``epoch``, ``head``): kind, group, sequence
    epoch + 1 and previous hash ``head``. With ``catchup`` (one proof after missed epochs)
    any later sequence is allowed; the chain link is then vouched for by the receipts.
    Returns the decoded transition body."""
    from groupkey.ledger import bodies
    from groupkey.ledger import entry as entries

    if entry.kind != entries.TRANSITION:
        raise Rejected("not a transition entry")
    if entry.log_id != config["group_id"].encode():
        raise Rejected("entry of another group")
    if epoch is not None:
        if catchup:
            if entry.sequence <= epoch:
                raise Rejected("entry %d is not newer than epoch %d" % (entry.sequence, epoch))
        elif entry.sequence != epoch + 1:
            raise Rejected("entry %d does not follow epoch %d" % (entry.sequence, epoch))
        if entry.sequence == epoch + 1 and head is not None and entry.previous_hash != head:
            raise Rejected("entry does not link to the last accepted entry")
    try:
        body = bodies.Transition.decode(entry.body)
    except Exception as exc:
        raise failed("transition body", exc)
    return body


def check_tgdh_matches(body, transition_bytes):
    """The ledger entry must carry exactly the TGDH transition delivered beside it, and its
    new tree hash must be the one the sponsors signed."""
    from groupkey.tgdh import transition

    if bytes(body.tgdh) != bytes(transition_bytes):
        raise Rejected("entry and update carry different transitions")
    try:
        final = transition.decode(transition_bytes).final()
    except Exception as exc:
        raise failed("transition", exc)
    if final.tree_hash != body.new_tree_hash:
        raise Rejected("entry tree hash differs from the signed transition")


def check_genesis(entry, config, tree_hash):
    """The founder's epoch 0: a genesis entry of this group whose public tree is exactly the
    founder's own (same tree hash), naming the configured ledger nodes and threshold."""
    from groupkey.ledger import bodies
    from groupkey.ledger import entry as entries
    from groupkey.tgdh.state import PublicGroupState

    if entry.kind != entries.GENESIS or entry.sequence != 0:
        raise Rejected("not a genesis entry")
    if entry.log_id != config["group_id"].encode():
        raise Rejected("genesis of another group")
    try:
        body = bodies.Genesis.decode(entry.body)
        state = PublicGroupState.decode(body.public_tree)
    except Exception as exc:
        raise failed("genesis body", exc)
    if state.epoch != 0 or state.tree_hash() != tree_hash:
        raise Rejected("genesis tree is not this founder's epoch 0")
    configured = unhex_list(config.get("ledger_keys") or [])
    if sorted(body.nodes) != sorted(configured) or body.threshold < config["ledger_threshold"]:
        raise Rejected("genesis names other ledger nodes or a lower threshold")
    return body


def _short(identity):
    """The first 8 bytes of a public identity key, hex (for the log line of a rejection)."""
    return binascii.hexlify(bytes(identity[:8])).decode()


# joins one SPONSOR may ask a member to vouch for: each costs an Ed25519 verification
# (yielding, but many seconds on a board); the gateway batches at most 16 requests a round
MAX_JOINS = 32


def join_checks(sponsor_request, proofs, group_id, epoch=None):
    """The structural half of ``check_join_proofs``: the transition must be for the epoch
    after ``epoch`` (when given), with no merge, no identity joining twice, at most MAX_JOINS
    joins, and a proof for exactly each join's blinded key. Returns (identity, message,
    signature) per join, for the signature checks (cheap checks first: a gateway cannot
    make a device verify signatures for a transition it would refuse anyway)."""
    from groupkey import relay
    from groupkey.tgdh import events, transition
    from groupkey.tgdh.messages import SponsorRequest

    try:
        request = SponsorRequest.decode(sponsor_request)
        parsed = transition.decode(request.prefix, allow_incomplete=True)
    except Exception as exc:
        raise failed("sponsor request", exc)
    if epoch is not None and parsed.epoch != epoch + 1:
        raise Rejected("sponsor request for epoch %d, we are at %d" % (parsed.epoch, epoch))
    checks = []
    joining = []
    for operation in parsed.operations:
        if operation.kind == events.MERGE:
            raise Rejected("a merge without its members' signed requests")
        if operation.kind != events.JOIN:
            continue
        if operation.identity in joining:
            raise Rejected("%s joins twice" % _short(operation.identity))
        joining.append(operation.identity)
        if len(joining) > MAX_JOINS:
            raise Rejected("more than %d joins in one transition" % MAX_JOINS)
        for identity, blinded_key, signature in proofs:
            if identity == operation.identity and blinded_key == operation.blinded_key:
                checks.append((identity, relay.request_message(
                    relay.JOIN, group_id, identity, blinded_key), signature))
                break
        else:
            raise Rejected("join of %s without its signed request"
                           % _short(operation.identity))
    return checks


def check_join_proofs(sponsor_request, proofs, group_id, epoch=None):
    """SPONSOR as a member: every join of the transition must come with the joiner's own
    signed JOIN request for exactly that blinded key, so the gateway cannot slip in a join
    with a key of its choosing (docs/security.md, finding A). A merge is refused: nothing
    carries the consent of the merged group's members. (The firmware runs the same checks
    with yielding verifications: flows.sponsor.)"""
    from groupkey.crypto import ed25519
    from groupkey.crypto.errors import CryptoError

    for identity, message, signature in join_checks(sponsor_request, proofs, group_id, epoch):
        try:
            ed25519.verify(identity, message, signature)
        except CryptoError:
            raise Rejected("join of %s: its request signature does not verify"
                           % _short(identity))


def check_sign_request(unsigned, config, identity, epoch, head, contribution):
    """SIGN_ENTRY: the unsigned transition entry must be for this group, signed by this
    device, the next sequence after its epoch, linked to its last entry, and its TGDH bytes
    must carry this device's own latest contribution. Returns the decoded Entry."""
    if not contribution:
        raise Rejected("no contribution of ours is pending")
    entry = decode_entry(bytes(unsigned) + b"\x00" * 64)
    if entry.signer != identity:
        raise Rejected("the entry names another signer")
    body = check_transition(entry, config, epoch, head)
    if bytes(body.tgdh[:len(contribution)]) != bytes(contribution):
        raise Rejected("the entry does not carry our contribution")
    return entry


def check_leaf_proof(message, epoch, tree_hash):
    """A LEAF_PROOF (answer to WHO) is believed only if the tree hash recomputed from the
    leaf's identity, BK and node list equals the member's own tree hash of ``epoch``."""
    from groupkey.tgdh import sponsor, tree
    from groupkey.tgdh.messages import decode_node_list

    if message.epoch != epoch:
        raise Rejected("proof for epoch %d, not %d" % (message.epoch, epoch))
    try:
        entries = decode_node_list(message.data)
        path = {}
        hashes = {}
        for node in tree.path(message.leaf)[1:]:
            path[node] = entries[node][0]
        for node in tree.copath(message.leaf):
            hashes[node] = entries[node][1]
        recomputed = sponsor.climb_hash(message.identity, message.leaf, message.blinded_key,
                                        path, hashes)
    except Exception as exc:  # missing node, malformed list
        raise failed("leaf proof", exc)
    if recomputed != tree_hash:
        raise Rejected("leaf proof does not match the tree hash")
