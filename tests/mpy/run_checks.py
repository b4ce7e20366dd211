# MicroPython side of tests/test_vectors.py.
# usage: micropython run_checks.py CHECK_NAME VECTOR_FILE
# Prints one JSON line per vector: {"index": i, "result": {...}} or {"index": i, "exception": "..."}
import gc
import json
import sys

name = sys.argv[1]
path = sys.argv[2]
module = __import__("checks." + name, None, None, ["compute"])
with open(path) as handle:
    document = json.load(handle)
vectors = document["vectors"]
document = None
for index in range(len(vectors)):
    vector = vectors[index]
    gc.collect()
    try:
        result = module.compute(vector["input"])
        print(json.dumps({"index": index, "result": result}))
    except Exception as exc:  # reported, compared and failed by the CPython side
        sys.print_exception(exc)
        print(json.dumps({"index": index, "exception": repr(exc)}))
    vectors[index] = None
print(json.dumps({"done": len(vectors)}))
