"""The member's answers to gateway messages (docs/e2e.md flows 1-6), one function each.

``dispatch(member, message)`` routes a decoded relay message from our resp topic. Every
acceptance is "parse, verify, apply": app.accept checks first (receipts, entry, TGDH bytes),
then the TGDH member builds the new state on the side, and only ``member.commit`` (durable
save first) replaces the old one. A check that fails raises Rejected or a TGDH/crypto error;
the caller (Member.handle) logs it and resynchronizes with a CATCHUP.
"""

import asyncio
import binascii
import time

from app import accept
from app.accept import Rejected
from app.logger import fingerprint

# contribution secrets kept for one epoch besides the latest (a gateway that sends SPONSOR
# again for the same epoch must not make the device lose the one that became final)
MAX_EARLIER_SECRETS = 3


async def dispatch(member, message):
    """Route one decoded relay message to its flow."""
    from groupkey import relay

    kind = message.kind
    if kind == relay.RECEIPTS:
        await registered(member, message)
    elif kind == relay.GENESIS:
        await genesis(member, message)
    elif kind == relay.SPONSOR:
        await sponsor(member, message)
    elif kind == relay.SIGN_ENTRY:
        await sign_entry(member, message)
    elif kind == relay.EPOCH:
        await epoch_update(member, message)
    elif kind == relay.WELCOME:
        await welcome(member, message)
    elif kind == relay.FINAL:
        await final(member, message)
    elif kind == relay.LEAF_PROOF:
        leaf_proof(member, message)
    elif kind == relay.ERROR:
        await error(member, message)
    else:
        member.log("unexpected", {"kind": kind})


async def registered(member, message):
    """RECEIPTS for our inception entry: t-of-n receipts make the identity registered."""
    from groupkey.crypto import ed25519
    from groupkey.ledger import events
    from groupkey.ledger.entry import decode

    if member.state["registered"]:
        return
    entry = events.inception(member.seed, ed25519.public_key(
        binascii.unhexlify(member.state["next"])))
    entry_hash = decode(entry).entry_hash()
    if message.entry_hash != entry_hash:
        raise Rejected("receipts for another entry")
    accept.check_receipts(entry_hash, message.bundle, member.config)
    member.state["registered"] = True
    member.save()
    member.log("registered", {"identity": fingerprint(member.identity)})
    member.schedule(0)


async def genesis(member, message):
    """GENESIS: the founder's epoch 0, exactly its own one-leaf tree."""
    from groupkey.tgdh.member import Member as TGDHMember

    if member.tgdh is not None:
        return
    if not member.founder or not member.state["pending"]:
        raise Rejected("genesis for a device that did not found")
    started = time.ticks_ms()
    entry = accept.decode_entry(message.entry)
    accept.check_receipts(entry.entry_hash(), message.bundle, member.config)
    await asyncio.sleep(0)  # let the watchdog feeder and keepalive run between stages
    founded = TGDHMember.found_from_parts(member.group_id.encode(), member.identity,
                                          member.seed, member.pending_secret(), full=False)
    accept.check_genesis(entry, member.config, founded.tree_hash)
    member.commit(founded, entry.entry_hash(), "genesis", started)


async def sponsor(member, message):
    """SPONSOR: contribute our new path with a fresh leaf secret, stored durably first. A
    member keeps it pending until the EPOCH that includes it (a later SPONSOR replaces it;
    after a reboot it is restored from the state); a joiner that the rule names (a subtree of
    joiners) uses it for its WELCOME."""
    from groupkey import relay

    if member.tgdh is None and not member.state["pending"]:
        raise Rejected("sponsor request for a device that is not joining")
    if member.tgdh is not None:  # a member vouches for every join it contributes to
        await check_joins(member, message)
    secret = member.random_bytes(32)
    # stored before the contribution leaves: after a reboot the EPOCH (or WELCOME) that
    # publishes our new leaf key can still be opened
    if member.state.get("sponsor_secret"):
        # a second SPONSOR before the epoch: the earlier contribution's transition may be
        # the one that became final, so its secret is kept too (docs/security.md, finding D);
        # never evicted: past the limit the device refuses to contribute until a commit
        earlier = member.state.get("earlier_secrets") or []
        if len(earlier) >= MAX_EARLIER_SECRETS:
            raise Rejected("%d contributions for one epoch already" % (len(earlier) + 1))
        member.state["earlier_secrets"] = earlier + [member.state["sponsor_secret"]]
    member.state["sponsor_secret"] = binascii.hexlify(secret).decode()
    member.save()
    if member.tgdh is None:
        from groupkey.tgdh import sponsor as tgdh_sponsor
        from groupkey.tgdh.messages import SponsorRequest

        data, _ = await member.steps(tgdh_sponsor.contribute_steps(
            SponsorRequest.decode(message.data), member.identity, member.seed, secret))
        member.log("sponsored", {"epoch": None, "joiner": True})
    else:
        data = await member.steps(member.tgdh.contribute_steps(message.data, secret))
        member.log("sponsored", {"epoch": member.tgdh.epoch + 1,
                                 "x25519": member.tgdh.x25519_operations})
    member.contribution = data
    await member.send(relay.contribution(message.request_id, data))


async def check_joins(member, message):
    """accept.check_join_proofs with the signature checks yielding to the event loop (one
    Ed25519 verification per join: long on a board, the watchdog must be fed)."""
    from groupkey.crypto import ed25519
    from groupkey.crypto.errors import CryptoError

    checks = accept.join_checks(message.data, message.join_proofs, member.group_id.encode(),
                                member.tgdh.epoch)
    for identity, request, signature in checks:
        try:
            await member.steps(ed25519.verify_steps(identity, request, signature))
        except CryptoError:
            raise Rejected("join of %s: its request signature does not verify"
                           % fingerprint(identity))


async def sign_entry(member, message):
    """SIGN_ENTRY: sign the transition entry only if it is the one we can vouch for."""
    from groupkey import relay
    from groupkey.ledger import entry as entries

    if member.tgdh is None:
        raise Rejected("sign request for a device that is not a member")
    entry = accept.check_sign_request(message.data, member.config, member.identity,
                                      member.tgdh.epoch, member.head(), member.contribution)
    signed = entries.sign(entry, member.seed)
    member.log("signed_entry", {"sequence": entry.sequence})
    await member.send(relay.signed_entry(message.request_id, signed))


async def epoch_update(member, message):
    """EPOCH: receipts, entry link, entry = update's transition, then the TGDH checks."""
    from groupkey.tgdh.messages import MemberUpdate

    if member.tgdh is None:
        raise Rejected("epoch update for a device that is not a member")
    started = time.ticks_ms()
    entry = accept.decode_entry(message.entry)
    if entry.sequence <= member.tgdh.epoch:
        return  # already have it (e.g. through a catch-up)
    accept.check_receipts(entry.entry_hash(), message.bundle, member.config)
    member.probe("receipts")
    await asyncio.sleep(0)  # let the watchdog feeder and keepalive run between stages
    body = accept.check_transition(entry, member.config, member.tgdh.epoch, member.head())
    update = MemberUpdate.decode(message.data)
    accept.check_tgdh_matches(body, update.transition)
    member.probe("checked")
    from groupkey.tgdh.errors import Removed

    # handle_steps changes the member only after every TGDH check passed
    try:
        await handle_with_earlier(member, message.data)
    except Removed:
        # a receipted transition (checked above) that takes our leaf out: proof we are gone
        if member.identity not in body.removed:
            raise Rejected("the transition removes our leaf but does not declare it")
        removed(member, "epoch")
        return
    member.commit(member.tgdh, entry.entry_hash(), "epoch", started)


async def handle_with_earlier(member, data):
    """``handle_steps`` with the pending secret, then, if our leaf key in the transition is
    not that secret's, with each earlier contribution's secret for this epoch (newest first);
    the pending secret is put back when none fits."""
    from groupkey.tgdh.errors import InconsistentBlindedKey

    try:
        await member.steps(member.tgdh.handle_steps(data))
        return
    except InconsistentBlindedKey as exc:
        failure = exc
    for hexed in reversed(member.state.get("earlier_secrets") or []):
        member.tgdh.restore_pending(binascii.unhexlify(hexed))
        try:
            await member.steps(member.tgdh.handle_steps(data))
            member.log("earlier_contribution", {"epoch": member.tgdh.epoch})
            return
        except InconsistentBlindedKey as exc:
            failure = exc
    if member.state.get("sponsor_secret"):
        member.tgdh.restore_pending(binascii.unhexlify(member.state["sponsor_secret"]))
    raise failure


async def final(member, message):
    """FINAL on our resp topic: the answer to a CATCHUP when we are up to date, or the
    receipted transition that removed us (what the gateway answers a removed member)."""
    if member.tgdh is None:
        return
    entry = accept.decode_entry(message.entry)
    if entry.sequence <= member.tgdh.epoch:
        return  # we are up to date
    accept.check_receipts(entry.entry_hash(), message.bundle, member.config)
    body = accept.check_transition(entry, member.config, member.tgdh.epoch, member.head(),
                                   catchup=True)
    if member.identity in body.removed:
        removed(member, "final")
    elif member.behind is None:
        member.behind = time.ticks_ms()  # a later epoch we do not hold: catch up


def removed(member, proof):
    """Drop the group state: only on proof, a receipted transition that removes us (``proof``
    says which message carried it); the gateway's ERROR "not a member" is not proof."""
    if member.leaving:
        member.state["left"] = True
        member.leaving = False
        member.log("left", {"epoch": member.epoch(), "proof": proof})
    else:
        member.log("removed", {"epoch": member.epoch(), "proof": proof})
    member.tgdh = None
    member.readings.clear()
    member.state["pending"] = None
    member.state["sponsor_secret"] = None
    member.state["earlier_secrets"] = None
    member.state["head"] = None
    member.save()
    member.schedule(member.retry_ms)


async def welcome(member, message):
    """WELCOME: our join (pending leaf secret) or a catch-up (our current leaf secret, or
    the secret of a contribution whose EPOCH we missed): one proof, no replay."""
    from groupkey.tgdh.member import Member as TGDHMember
    from groupkey.tgdh.messages import Welcome

    started = time.ticks_ms()
    entry = accept.decode_entry(message.entry)
    current = member.tgdh
    if current is not None and entry.sequence <= current.epoch:
        return
    accept.check_receipts(entry.entry_hash(), message.bundle, member.config)
    member.probe("receipts")
    await asyncio.sleep(0)  # let the watchdog feeder and keepalive run between stages
    if current is None:
        if not member.state["pending"]:
            raise Rejected("welcome without a pending join")
        body = accept.check_transition(entry, member.config, None, None)
        secrets = [member.pending_secret()] + [
            binascii.unhexlify(hexed) for hexed in member.state.get("earlier_secrets") or []]
        if member.state.get("sponsor_secret"):
            secrets.insert(0, binascii.unhexlify(member.state["sponsor_secret"]))
        how = "welcome"
    else:
        body = accept.check_transition(entry, member.config, current.epoch, member.head(),
                                       catchup=True)
        secrets = current.leaf_secrets() + [
            binascii.unhexlify(hexed) for hexed in member.state.get("earlier_secrets") or []]
        how = "catchup"
    accept.check_tgdh_matches(body, Welcome.decode(message.data).transition)
    member.probe("checked")
    failure = None
    for secret in secrets:
        try:
            joined = await member.steps(TGDHMember.from_welcome_steps(
                message.data, member.identity, secret, member.seed))
        except MemoryError:
            raise  # no heap is not a wrong secret (member.handle: no_heap, catch up)
        except Exception as exc:  # InconsistentBlindedKey: try the next secret
            failure = exc
            continue
        member.commit(joined, entry.entry_hash(), how, started)
        return
    raise failure


def leaf_proof(member, message):
    """LEAF_PROOF (answer to WHO): cache the sender's identity if the proof verifies."""
    if member.tgdh is None:
        return
    accept.check_leaf_proof(message, member.tgdh.epoch, member.tgdh.tree_hash)
    member.readings.learned(message.leaf, message.identity)


async def error(member, message):
    """ERROR from the gateway: retry later, join again, or stop (after our own leave)."""
    from groupkey import relay

    text = bytes(message.text).decode()
    member.log("gateway_error", {"code": message.code, "text": text})
    if message.code != relay.ERROR_REJECTED:
        if member.tgdh is not None and not member.leaving:
            member.behind = time.ticks_ms()  # e.g. a CATCHUP the gateway could not serve yet
        member.schedule(member.retry_ms)
        return
    if text == "not a member":
        # the gateway's word is not proof: keep the state and ask again later; a removed
        # member is answered with the receipted transition that removed it (FINAL, above)
        if member.tgdh is not None and member.behind is None:
            member.behind = time.ticks_add(time.ticks_ms(), member.retry_ms)
        member.schedule(member.retry_ms)
    elif text == "already a member" and member.tgdh is None:
        await member.catchup()  # our WELCOME was lost: one proof brings us in
    elif text == "the group already exists" and member.tgdh is None:
        member.founder = False
        member.schedule(0)
    else:
        member.schedule(member.retry_ms * 2)
