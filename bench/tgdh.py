"""TGDH benchmark suite (``make bench``; bench/run.py calls ``run(options)``).

For n = 8, 64, 256, 1024, 4096 (``--quick``: 8, 64, 256) a group of n members is built
directly by ``groupkey.tgdh.simulation.synthetic_group`` (the public tree is simulated in full,
every leaf secret is known to the builder). For each event type the real protocol runs on it:
the PublicGroupState names the sponsors, sponsors are materialized from their leaf secret
(``Member.from_public_state``) and contribute, the state validates the transition (what a
ledger node does) and builds every sampled member's MemberUpdate. Secrets are computed only
for the sponsors and a sample of members (8 random ones and the one whose path shares most
with the sponsor's, the worst case); X25519 counts for ALL members are computed exactly from
the published nodes (the number of a member's path nodes the transition republishes), and
checked against the sampled members' own counters.

Metrics (bench "tgdh/<event>"):
- x25519_member_mean / _max: target ceil(log2 n')+1, n' = group size after the event;
- x25519_sponsor: per sponsor, the max; target 2*(ceil(log2 n')+1);
- bytes_member_mean / _max: a light member's MemberUpdate (transition, co-path delta, sponsor
  identities); target 730 for a leave at n=1024; bytes_welcome for a joiner;
- time_sponsor / time_member / time_member_worst / time_ledger: CPython ms, default backend.
"tgdh/height": height after 10,000 random joins and leaves (1,000 with --quick) around n
members; target ceil(log2 n)+1. "tgdh/leave" on MicroPython: member time (worst and typical
member) and the heap of a light member (precompiled modules).
"""

import math
import random
import statistics
import tempfile
import time
from pathlib import Path

from bench.report import make_result
from groupkey.tgdh import events, messages, sponsor, tree
from groupkey.tgdh.member import Member
from groupkey.tgdh.simulation import (
    DeterministicRandom,
    Identity,
    sequential_leaves,
    synthetic_group,
)

SIZES = (8, 64, 256, 1024, 4096)
QUICK_SIZES = (8, 64, 256)
SCRIPT = Path(__file__).resolve().parents[1] / "tests" / "mpy" / "tgdh_light_member.py"
BUDGET = 96 * 1024


def bound(n):
    """ceil(log2 n) + 1."""
    return math.ceil(math.log2(n)) + 1 if n > 1 else 1


class Event:
    """One transition run on a synthetic group, with everything the metrics need."""

    def __init__(self, state, identities, operations, rand, joiners, merged=None):
        self.state = state
        self.identities = identities
        self.joiners = joiners
        self.sponsor_operations = []
        self.sponsor_times = []
        self.sponsor_inputs = None
        data = state.prepare(operations)
        while True:
            request = state.sponsor_request(data)
            if request is None:
                break
            decoded = messages.SponsorRequest.decode(request)
            _, staged, _ = state.replay(data, verify=False, allow_incomplete=True)
            public = staged.identity[decoded.leaf]
            secret = rand(32)
            if public in identities:
                member = Member.from_public_state(state, public, identities[public].secret,
                                                  identities[public].seed)
                if self.sponsor_inputs is None:
                    # What the MicroPython sponsor run needs (bench "tgdh/leave" sponsor).
                    self.sponsor_inputs = (member.export_state(), request, secret,
                                           identities[public].seed)
                start = time.perf_counter()
                data = member.contribute_from_parts(request, secret)
                self.sponsor_times.append(time.perf_counter() - start)
                self.sponsor_operations.append(member.x25519_operations)
            else:
                joiner = joiners.get(public) or merged[public]
                counter = [0]
                start = time.perf_counter()
                data, _ = sponsor.run_steps(sponsor.contribute_steps(
                    decoded, public, joiner.seed, secret, counter))
                self.sponsor_times.append(time.perf_counter() - start)
                self.sponsor_operations.append(counter[0])
                joiner.secret = secret
        self.data = data
        start = time.perf_counter()
        self.new_state = state.apply(data)
        self.ledger_time = time.perf_counter() - start
        self.published = set(self.new_state.tree.blinded) & set(
            transition_published(data))
        self.sponsors = set()
        for contribution in decode(data).contributions:
            self.sponsors.add(contribution.sponsor)

    def member_operations(self):
        """Exact X25519 count of every continuing non-sponsor member (leaf -> count)."""
        counts = {}
        for public in self.identities:
            leaf = self.new_state.leaf_of(public)
            if leaf is None or leaf in self.sponsors:
                continue
            counts[leaf] = sum(1 for node in tree.path(leaf)[1:] if node in self.published)
        return counts


def transition_published(data):
    return decode(data).published()


def decode(data):
    from groupkey.tgdh import transition

    return transition.decode(data)


def event_results(n, options, rand):
    results = []
    state, identities = synthetic_group(b"bench-%d" % n, n, rand)
    chooser = random.Random(n)
    leaves = state.tree.leaves()
    cases = [("join", 1), ("leave", None), ("refresh", None), ("batch_join", 4),
             ("partition", max(2, min(16, n // 4))), ("merge", 8)]
    for name, size in cases:
        joiners = {}
        merged = None
        if name in ("join", "batch_join"):
            operations = []
            for _ in range(size):
                identity = Identity(rand)
                joiners[identity.public] = identity
                operations.append(events.join(identity.public, identity.blinded_key()))
        elif name == "leave":
            operations = [events.leave(chooser.choice(leaves))]
        elif name == "refresh":
            operations = [events.refresh(chooser.choice(leaves))]
        elif name == "partition":
            operations = sequential_leaves(chooser.sample(leaves, size))
        else:
            other, merged = synthetic_group(b"merged-%d" % n, size, rand)
            operations = [events.merge(other.tree)]
        event = Event(state, identities, operations, rand, joiners, merged)
        bench = "tgdh/" + name
        limit = bound(event.new_state.tree.size())  # the group size after the event
        counts = event.member_operations()
        values = list(counts.values())
        results.append(make_result(bench, "cpython", n, "x25519_member_mean",
                                   round(statistics.mean(values), 2), "ops", limit))
        results.append(make_result(bench, "cpython", n, "x25519_member_max", max(values),
                                   "ops", limit))
        results.append(make_result(bench, "cpython", n, "x25519_sponsor",
                                   max(event.sponsor_operations), "ops", 2 * limit))
        results.append(make_result(bench, "cpython", n, "sponsors",
                                   len(event.sponsor_operations), "count"))
        # Sampled light members: real processing, checked against the exact count.
        worst = max(counts, key=lambda leaf: counts[leaf])
        sample = [worst] + chooser.sample(sorted(counts), min(8, len(counts)))
        sizes = []
        times = []
        for leaf in sample:
            public = event.new_state.tree.identity[leaf]
            member = Member.from_public_state(state, public, identities[public].secret)
            update = event.new_state.member_update(state, event.data, public)
            start = time.perf_counter()
            member.handle(update)
            times.append(time.perf_counter() - start)
            sizes.append(len(update))
            if member.x25519_operations != counts[leaf]:
                options.error("tgdh: %s n=%d: member count %d != exact %d"
                              % (name, n, member.x25519_operations, counts[leaf]))
        target = 730 if name == "leave" and n == 1024 else None
        results.append(make_result(bench, "cpython", n, "bytes_member_mean",
                                   round(statistics.mean(sizes)), "bytes"))
        results.append(make_result(bench, "cpython", n, "bytes_member_max", max(sizes),
                                   "bytes", target))
        results.append(make_result(bench, "cpython", n, "bytes_transition", len(event.data),
                                   "bytes"))
        if joiners or merged:
            public = next(iter(joiners or merged))
            welcome = event.new_state.welcome(state, event.data, public)
            results.append(make_result(bench, "cpython", n, "bytes_welcome", len(welcome),
                                       "bytes"))
        results.append(make_result(bench, "cpython", n, "time_sponsor",
                                   round(max(event.sponsor_times) * 1000, 2), "ms"))
        results.append(make_result(bench, "cpython", n, "time_member",
                                   round(statistics.median(times) * 1000, 2), "ms"))
        results.append(make_result(bench, "cpython", n, "time_member_worst",
                                   round(times[0] * 1000, 2), "ms"))
        results.append(make_result(bench, "cpython", n, "time_ledger",
                                   round(event.ledger_time * 1000, 2), "ms"))
        if name == "leave":
            event.worst_leaf = worst
            leave_event = event
    return results, leave_event


def height_result(n, count):
    """Tree height after ``count`` random joins/leaves around n members (structure only)."""
    from groupkey.tgdh.public_tree import PublicTree

    chooser = random.Random(1000 + n)
    key = b"\x09" + b"\x00" * 31
    public_tree = PublicTree.single(b"\x00" * 32, key)
    serial = 1
    for _ in range(n - 1):
        public_tree.insert(public_tree.insertion_point(0),
                           PublicTree.single(serial.to_bytes(32, "big"), key))
        serial += 1
    highest = public_tree.height()
    for _ in range(count):
        size = public_tree.size()
        leave_probability = min(1.0, max(0.0, 0.5 + 0.5 * (size - n) / n))
        if size > 1 and chooser.random() < leave_probability:
            public_tree.remove_leaf(chooser.choice(public_tree.leaves()))
        else:
            public_tree.insert(public_tree.insertion_point(0),
                               PublicTree.single(serial.to_bytes(32, "big"), key))
            serial += 1
        highest = max(highest, public_tree.height())
    return [make_result("tgdh/height", "cpython", n, "height_final", public_tree.height(),
                        "levels", bound(n)),
            make_result("tgdh/height", "cpython", n, "height_max", highest, "levels",
                        bound(n))]


def micropython_results(n, event, options):
    from bench import micropython

    results = []
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        typical = next(leaf for leaf in sorted(event.member_operations())
                       if event.member_operations()[leaf] == 1)
        for label, leaf in (("worst", event.worst_leaf), ("typical", typical)):
            public = event.new_state.tree.identity[leaf]
            member = Member.from_public_state(event.state, public,
                                              event.identities[public].secret)
            (folder / "state").write_bytes(member.export_state())
            (folder / "update").write_bytes(
                event.new_state.member_update(event.state, event.data, public))
            arguments = ["run", folder / "state", folder / "update"]
            outcome = micropython.run(SCRIPT, arguments, heap="192K", precompiled=True)
            line = outcome.last_json()
            if not line:
                options.error("tgdh: MicroPython %s member failed: %s"
                              % (label, outcome.describe()))
                continue
            results.append(make_result("tgdh/leave", "micropython", n,
                                       "time_member_" + label, round(line["ms"], 1), "ms",
                                       150))
            results.append(make_result("tgdh/leave", "micropython", n,
                                       "x25519_member_" + label, line["x25519"], "ops"))
            if label != "worst":
                continue
            peak = micropython.run(SCRIPT, ["peak"] + arguments[1:], heap="512K",
                                   precompiled=True).last_json()
            code = micropython.run(SCRIPT, ["footprint"] + arguments[1:], heap="512K",
                                   precompiled=True).last_json()
            fits = micropython.run(SCRIPT, arguments, heap="96K", precompiled=True).ok
            # The same cold run with the code in a ROMFS image outside the heap, as in a
            # board's flash (tests/micropython_romfs.py): what a device's heap must hold.
            rom = micropython.run(SCRIPT, arguments, heap="96K", romfs=True)
            rom_code = micropython.run(SCRIPT, ["footprint"] + arguments[1:], heap="512K",
                                       romfs=True).last_json()
            results.append(make_result("tgdh/leave", "micropython", n, "runs_in_96k_romfs",
                                       1 if rom.ok and rom.last_json() else 0, "bool"))
            if peak and rom_code:
                results.append(make_result("tgdh/leave", "micropython", n, "code_heap_romfs",
                                           rom_code["code_bytes"], "bytes"))
                results.append(make_result("tgdh/leave", "micropython", n,
                                           "peak_heap_total_romfs",
                                           peak["peak_bytes"] + rom_code["code_bytes"],
                                           "bytes", BUDGET))
            if peak and code:
                results.append(make_result("tgdh/leave", "micropython", n, "peak_heap_data",
                                           peak["peak_bytes"], "bytes"))
                results.append(make_result("tgdh/leave", "micropython", n, "code_heap",
                                           code["code_bytes"], "bytes"))
                results.append(make_result("tgdh/leave", "micropython", n,
                                           "peak_heap_total",
                                           peak["peak_bytes"] + code["code_bytes"], "bytes",
                                           BUDGET))
            results.append(make_result("tgdh/leave", "micropython", n, "runs_in_96k",
                                       1 if fits else 0, "bool"))
    results += micropython_sponsor_results(n, event, options)
    return results


def micropython_sponsor_results(n, event, options):
    """The leave's sponsor computing its contribution inside MicroPython (first sponsor)."""
    from bench import micropython

    if event.sponsor_inputs is None:
        return []
    state, request, secret, seed = event.sponsor_inputs
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        (folder / "state").write_bytes(state)
        (folder / "request").write_bytes(request)
        outcome = micropython.run(SCRIPT, ["sponsor", folder / "state", folder / "request",
                                           secret.hex(), seed.hex()],
                                  heap="192K", precompiled=True)
    line = outcome.last_json()
    if not line:
        options.error("tgdh: MicroPython sponsor failed: %s" % outcome.describe())
        return []
    if len(event.sponsor_operations) == 1 and bytes.fromhex(line["transition"]) != event.data:
        options.error("tgdh: MicroPython sponsor n=%d: transition differs from CPython's" % n)
    return [make_result("tgdh/leave", "micropython", n, "time_sponsor", round(line["ms"], 1),
                        "ms"),
            make_result("tgdh/leave", "micropython", n, "x25519_sponsor", line["x25519"],
                        "ops")]


def run(options):
    """The suite entry point (see bench/run.py)."""
    results = []
    sizes = QUICK_SIZES if options.quick else SIZES
    rand = DeterministicRandom(b"bench-tgdh")
    for n in sizes:
        options.log("tgdh: n=%d events" % n)
        event_list, leave_event = event_results(n, options, rand)
        results += event_list
        options.log("tgdh: n=%d height" % n)
        results += height_result(n, 1000 if options.quick else 10000)
        if n in (1024, 4096):
            options.log("tgdh: n=%d MicroPython light member" % n)
            results += micropython_results(n, leave_event, options)
    options.note("tgdh: groups are synthetic (simulation.synthetic_group); secrets computed "
                 "for sponsors and 9 sampled members, X25519 counts exact for all members")
    return results
