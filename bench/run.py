"""Run the benchmark suites and print a table and JSON lines (``make bench``).

Suite interface
---------------
A suite is a module ``bench/<name>.py`` listed in ``SUITES`` below that exposes

    def run(options):
        '''Return a list of result dicts (bench.report.make_result).'''

``options`` has these attributes (a suite must ignore the ones it does not use):

    quick      bool   fewer repetitions and smaller sizes, for a fast look (``--quick``)
    heap       bool   measure MicroPython heap needs (``--no-heap`` turns it off)
    precompiled bool  MicroPython imports the library as mpy-cross output, as a board does
                      (default; ``--source`` imports source instead); pass it on to
                      bench.micropython.run(..., precompiled=options.precompiled)
    wants(name)       False when ``--filter TEXT`` excludes this bench name (skip it)
    log(text)         progress line on stderr
    note(text)        a remark printed under the table (a skipped item, the API measured)
    error(text)       a failure; the run goes on but exits 1

Results follow bench/report.py: {"bench", "interpreter", "n", "metric", "value", "unit"};
``make_result(..., target=maximum)`` attaches a target that the table prints with PASS/MISS.
Suites run in the fixed order of ``SUITES``; a suite module that does not exist yet is skipped
with a note. To add one: write bench/<name>.py with ``run(options)`` and its section in
docs/benchmarks.md (tgdh, ledger and e2e already have their place in the list).

Usage: python -m bench.run [--suite NAME ...] [--filter TEXT] [--quick] [--no-heap] [--source]
                           [--json] [--out FILE] [--strict]
"""

import argparse
import datetime
import importlib
import os
import platform
import sys
from pathlib import Path

from bench import report

SUITES = ("crypto", "instructions", "tgdh", "ledger", "e2e", "footprint")
OUT_DIR = Path(__file__).resolve().parent / "out"


class Options:
    """What every suite receives: the switches plus note/error/log sinks."""

    def __init__(self, quick=False, heap=True, stream=None, name_filter="", precompiled=True):
        self.quick = quick
        self.heap = heap
        self.precompiled = precompiled
        self.name_filter = name_filter
        self.notes = []
        self.errors = []
        self._stream = stream if stream is not None else sys.stderr

    def wants(self, name):
        """True unless ``--filter`` was given and its text is not part of ``name``."""
        return not self.name_filter or self.name_filter in name

    def log(self, text):
        """A progress line on stderr."""
        print(text, file=self._stream, flush=True)

    def note(self, text):
        """A remark for the report (printed under the table)."""
        self.notes.append(text)
        self.log("note: " + text)

    def error(self, text):
        """A failure: reported, and the run exits 1."""
        self.errors.append(text)
        self.log("ERROR: " + text)


def load_suite(name, options):
    """Import bench.<name>; None (with a note) when the module does not exist yet."""
    module_name = "bench." + name
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            options.note("suite %s: bench/%s.py does not exist yet, skipped" % (name, name))
            return None
        raise


def run_suites(names, options):
    """Run the named suites in SUITES order; returns all their results."""
    results = []
    for name in SUITES:
        if name not in names:
            continue
        try:
            suite = load_suite(name, options)
            if suite is None:
                continue
            options.log("== suite %s" % name)
            suite_results = suite.run(options)
            for result in suite_results:
                report.validate(result)
            results.extend(suite_results)
        except Exception as exc:  # one broken suite must not hide the others' numbers
            options.error("suite %s crashed: %r" % (name, exc))
    return results


def cpu_model():
    """The CPU model name from /proc/cpuinfo (or platform.processor())."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_summary():
    """One line: date, cores, CPU, interpreter versions (goes at the top of the report)."""
    from bench import micropython

    try:
        micropython_version = micropython.version()
    except Exception as exc:  # the crypto suite reports the real failure
        micropython_version = "MicroPython unavailable (%s)" % exc
    return "%s UTC | %d cores | %s | CPython %s | %s" % (
        datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        os.cpu_count() or 0,
        cpu_model(),
        platform.python_version(),
        micropython_version,
    )


def parse_arguments(argv):
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--suite", action="append", choices=SUITES,
                        help="run only this suite (repeatable); default: all")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--filter", default="",
                        help="only benchmarks whose name contains this text, e.g. x25519")
    parser.add_argument("--source", action="store_true",
                        help="MicroPython imports source instead of mpy-cross output")
    parser.add_argument("--no-heap", action="store_true",
                        help="skip the MicroPython heap searches")
    parser.add_argument("--json", action="store_true",
                        help="print only the JSON lines on stdout (table goes to stderr)")
    parser.add_argument("--out", default=None,
                        help="also write the JSON lines to this file ('' for none; default "
                             "bench/out/<suites>.jsonl, e.g. bench/out/all.jsonl)")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when a target is missed (default: report only)")
    return parser.parse_args(argv)


def main(argv=None):
    """Entry point; returns the process exit code."""
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    options = Options(quick=arguments.quick, heap=not arguments.no_heap,
                      name_filter=arguments.filter, precompiled=not arguments.source)
    names = arguments.suite or list(SUITES)
    summary = machine_summary() + (" | MicroPython imports %s" % (
        "source" if arguments.source else "mpy-cross output (as on a board)"))
    options.log("bench: %s" % summary)
    results = run_suites(names, options)

    lines = [report.json_line(result) for result in results]
    human = sys.stderr if arguments.json else sys.stdout
    print("\n" + summary, file=human)
    print(report.table(results) if results else "(no results)", file=human)
    for text in options.notes:
        print("note: " + text, file=human)
    for text in options.errors:
        print("ERROR: " + text, file=human)
    missed = report.misses(results)
    print("targets: %d checked, %d missed" % (sum(1 for r in results if "target" in r),
                                              len(missed)), file=human)
    if not arguments.json:
        print("")
    for line in lines:
        print(line)
    if arguments.out is None:
        arguments.out = str(OUT_DIR / ("%s.jsonl" % ("-".join(arguments.suite)
                                                     if arguments.suite else "all")))
    if arguments.out:
        out = Path(arguments.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(line + "\n" for line in lines))
        print("JSON lines written to %s" % out, file=sys.stderr)
    if options.errors or (arguments.strict and missed):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
