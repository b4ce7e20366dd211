"""Benchmark results: build them, check their schema, print them as a table and as JSON lines.

A result is a dict with exactly these keys, and one JSON line per result carries exactly them:

    {"bench": "x25519/pure", "interpreter": "micropython", "n": 32,
     "metric": "time_per_op", "value": 3712.4, "unit": "us"}

``bench``        what was measured; CPython crypto results name the backend after a slash
``interpreter``  "micropython" or "cpython"
``n``            problem size, payload size in bytes or iterations (the suite says which)
``metric``       e.g. "time_per_op", "min_heap", "peak_heap", "alloc_per_op",
                 "instructions_per_op"
``value``        a number (int or float)
``unit``         e.g. "us", "KB", "bytes", "instructions"

A suite may attach an upper bound to a result with ``with_target(result, maximum)``; the
bound (same unit as the value) is kept beside the result, never inside the JSON line, and the
table prints it with PASS or MISS. Targets are checked here, never asserted in tests.
"""

import json
import math

INTERPRETERS = ("micropython", "cpython")
KEYS = ("bench", "interpreter", "n", "metric", "value", "unit")


class ResultError(ValueError):
    """A result dict does not follow the schema above."""


def make_result(bench, interpreter, n, metric, value, unit, target=None):
    """Build a result dict (validated); ``target`` is an optional upper bound on ``value``."""
    result = {
        "bench": bench,
        "interpreter": interpreter,
        "n": n,
        "metric": metric,
        "value": value,
        "unit": unit,
    }
    validate(result)
    if target is not None:
        result = with_target(result, target)
    return result


def with_target(result, maximum):
    """Return a copy of ``result`` that carries the upper bound ``maximum`` (same unit)."""
    if not _is_number(maximum):
        raise ResultError("target must be a finite number, got %r" % (maximum,))
    copy = dict(result)
    copy["target"] = maximum
    return copy


def _is_number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return not (isinstance(value, float) and (math.isnan(value) or math.isinf(value)))


def validate(result):
    """Raise ResultError unless ``result`` has the six keys (plus optionally ``target``)."""
    if not isinstance(result, dict):
        raise ResultError("a result is a dict, got %r" % (type(result).__name__,))
    extra = set(result) - set(KEYS) - {"target"}
    missing = [key for key in KEYS if key not in result]
    if missing or extra:
        raise ResultError("result keys: missing %s, unexpected %s" % (missing, sorted(extra)))
    for key in ("bench", "metric", "unit"):
        if not isinstance(result[key], str) or not result[key]:
            raise ResultError("%s must be a non-empty string, got %r" % (key, result[key]))
    if result["interpreter"] not in INTERPRETERS:
        raise ResultError("interpreter must be one of %s, got %r"
                          % (INTERPRETERS, result["interpreter"]))
    if isinstance(result["n"], bool) or not isinstance(result["n"], int) or result["n"] < 0:
        raise ResultError("n must be a non-negative int, got %r" % (result["n"],))
    if not _is_number(result["value"]):
        raise ResultError("value must be a finite number, got %r" % (result["value"],))
    if "target" in result and not _is_number(result["target"]):
        raise ResultError("target must be a finite number, got %r" % (result["target"],))
    return result


def json_line(result):
    """The one JSON line for ``result``: exactly the six keys, in schema order."""
    validate(result)
    return json.dumps({key: result[key] for key in KEYS})


def verdict(result):
    """"PASS", "MISS" or "" (no target) for ``result``."""
    if "target" not in result:
        return ""
    return "PASS" if result["value"] <= result["target"] else "MISS"


def format_number(value):
    """A number for humans: thousands separated, about three significant decimals."""
    if isinstance(value, int) or (float(value).is_integer() and abs(value) >= 1000):
        return "{:,}".format(int(value))
    if abs(value) >= 100:
        return "{:,.1f}".format(value)
    if abs(value) >= 1:
        return "{:.2f}".format(value)
    return "{:.3g}".format(value)


def table(results):
    """Format ``results`` as an aligned text table with the targets and PASS/MISS."""
    header = ("bench", "interpreter", "n", "metric", "value", "unit", "target", "check")
    rows = [header]
    for result in results:
        target = ""
        if "target" in result:
            target = "<= " + format_number(result["target"])
        rows.append((
            result["bench"],
            result["interpreter"],
            str(result["n"]),
            result["metric"],
            format_number(result["value"]),
            result["unit"],
            target,
            verdict(result),
        ))
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    right_aligned = {2, 4, 6}
    lines = []
    for index, row in enumerate(rows):
        cells = []
        for column, cell in enumerate(row):
            if column in right_aligned:
                cells.append(cell.rjust(widths[column]))
            else:
                cells.append(cell.ljust(widths[column]))
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths).rstrip())
    return "\n".join(lines)


def misses(results):
    """The results whose value exceeds their target."""
    return [result for result in results if verdict(result) == "MISS"]


def parse_json_line(line):
    """Parse one JSON line back into a result dict and validate it (for consumers and tests)."""
    result = json.loads(line)
    if list(result) != list(KEYS):
        raise ResultError("JSON line keys must be exactly %s in order, got %s"
                          % (list(KEYS), list(result)))
    return validate(result)
