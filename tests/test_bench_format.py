"""The benchmark harness prints results in the promised schema (bench/report.py).

One real, quick measurement goes through the formatter and back; malformed results are
rejected; targets show PASS/MISS in the table but never leak into the JSON line; the
MicroPython timing script yields a usable measurement; the valgrind total is parsed from
callgrind's real output format. Speeds are never asserted here (targets live in benchmarks).
"""

from __future__ import annotations

import io
import json
import math

import pytest

from bench import crypto, report
from bench import micropython as bench_micropython
from bench.instructions import COLLECTED
from bench.mpy import crypto_ops
from bench.run import SUITES, Options, load_suite
from bench.timing import seconds_per_call

SCHEMA_KEYS = ["bench", "interpreter", "n", "metric", "value", "unit"]


def first_present_operation():
    # The cheapest operations first: this checks the harness, not the primitive's speed.
    preferred = sorted(crypto_ops.OPERATIONS, key=lambda entry: entry[2] != "hkdf")
    for name, n, module in preferred:
        if crypto.module_exists(module):
            return name, n
    pytest.skip("no groupkey.crypto module to measure exists yet")


def check_line(line: str) -> dict:
    document = json.loads(line)
    assert list(document) == SCHEMA_KEYS
    assert isinstance(document["bench"], str) and document["bench"]
    assert document["interpreter"] in ("micropython", "cpython")
    assert isinstance(document["n"], int) and not isinstance(document["n"], bool)
    assert isinstance(document["value"], (int, float)) and math.isfinite(document["value"])
    assert isinstance(document["metric"], str) and isinstance(document["unit"], str)
    return document


def test_quick_cpython_measurement_round_trips_through_the_json_line():
    name, n = first_present_operation()
    seconds = seconds_per_call(crypto_ops.prepare(name, n), 3, 0.001)
    result = report.make_result(name + "/pure", "cpython", n, "time_per_op",
                                round(seconds * 1e6, 3), "us", target=1e9)
    line = report.json_line(result)
    assert "\n" not in line
    document = check_line(line)
    assert "target" not in document
    assert document["value"] > 0
    assert document == {key: result[key] for key in SCHEMA_KEYS}
    assert report.parse_json_line(line) == document


@pytest.mark.micropython
@pytest.mark.usefixtures("micropython")  # fails (never skips) when the interpreter is missing
def test_micropython_timing_script_measures_an_operation():
    name, n = first_present_operation()
    outcome = bench_micropython.run("crypto_run.py", ["time", name, n, 3, 2000])
    assert outcome.ok, outcome.describe()
    data = outcome.last_json()
    assert data is not None and "skip" not in data, outcome.stdout
    samples = data["samples_us"]
    assert len(samples) == 3 and samples == sorted(samples)
    assert samples[0] <= data["median_us"] <= samples[-1]
    assert data["median_us"] > 0 and data["batch"] >= 1
    result = report.make_result(name + "/pure", "micropython", n, "time_per_op",
                                data["median_us"], "us")
    check_line(report.json_line(result))


@pytest.mark.parametrize(
    ("change", "value"),
    [
        ("interpreter", "pypy"),
        ("n", True),
        ("n", -1),
        ("n", 1.5),
        ("value", float("nan")),
        ("value", "12"),
        ("bench", ""),
        ("unit", None),
        ("extra", 1),
    ],
)
def test_malformed_results_are_rejected(change, value):
    good = report.make_result("sha512/pure", "cpython", 64, "time_per_op", 1.5, "us")
    bad = dict(good)
    bad[change] = value
    with pytest.raises(report.ResultError):
        report.json_line(bad)


def test_missing_key_is_rejected():
    good = report.make_result("sha512/pure", "cpython", 64, "time_per_op", 1.5, "us")
    for key in SCHEMA_KEYS:
        bad = {k: v for k, v in good.items() if k != key}
        with pytest.raises(report.ResultError):
            report.validate(bad)


def test_table_marks_targets_pass_and_miss():
    passed = report.make_result("a/pure", "micropython", 32, "time_per_op", 3999.0, "us", 4000)
    missed = report.make_result("b/pure", "micropython", 32, "time_per_op", 4001.0, "us", 4000)
    plain = report.make_result("c/pure", "cpython", 32, "time_per_op", 7.0, "us")
    lines = report.table([passed, missed, plain]).splitlines()
    assert lines[2].startswith("a/pure") and lines[2].endswith("PASS")
    assert lines[3].startswith("b/pure") and lines[3].endswith("MISS")
    assert lines[4].startswith("c/pure") and not lines[4].endswith(("PASS", "MISS"))
    assert report.misses([passed, missed, plain]) == [missed]


def test_collected_line_of_callgrind_is_parsed():
    stderr = (
        "==6353== Events    : Ir\n"
        "==6353== Collected : 70717021\n"
        "==6353== \n"
        "==6353== I   refs:      70,717,021\n"
    )
    match = COLLECTED.search(stderr)
    assert match is not None and int(match.group(1)) == 70717021


def test_missing_suite_is_skipped_with_a_note():
    options = Options(stream=io.StringIO())
    assert load_suite("no_such_suite", options) is None
    assert options.errors == []
    assert any("bench/no_such_suite.py does not exist yet" in text for text in options.notes)
    assert set(SUITES) >= {"crypto", "instructions", "tgdh", "ledger", "e2e"}


PEAK_SCRIPT = """
from bench.mpy.heap import peak_bytes
for size in (0, 1000, 10000):
    peak, scraps, free = peak_bytes(lambda: bytearray(size))
    print('{"size": %d, "peak": %d, "scraps": %d, "free": %d}' % (size, peak, scraps, free))
"""


@pytest.mark.micropython
def test_peak_heap_search_finds_a_known_allocation(micropython):
    # bench/mpy/heap.py must recover the size of a block the operation keeps alive, within
    # the documented +-64 bytes (a bytearray's 32-byte header and the fill's scraps).
    result = micropython(code=PEAK_SCRIPT, heap="256K")
    lines = result.json_lines()
    assert [line["size"] for line in lines] == [0, 1000, 10000]
    for line in lines:
        assert 0 <= line["scraps"] <= 64
        assert line["size"] - 64 <= line["peak"] <= line["size"] + 64, line
        assert line["peak"] < line["free"]


def test_footprint_script_runs_on_the_unix_port_and_parses():
    """bench/mpy/footprint.py in the real interpreter (code in the heap): every module is
    measured, the sizes add up to no more than the total, the qstr pools grew."""
    from bench import footprint

    modules, total, pool = footprint.unix(romfs=False)
    assert [name for name, _ in modules][:2] == ["groupkey.crypto.x25519",
                                                  "groupkey.crypto.ed25519"]
    assert len(modules) == 24
    assert all(size >= 0 for _, size in modules)
    assert 0 < sum(size for _, size in modules) <= total
    assert pool > 0
    with pytest.raises(ValueError):
        footprint.parse("qstr pool: n_total_bytes=10\nnot json\n")
