// Drive bench/mpy/footprint.py in MicroPython's WebAssembly port (32-bit: wasm32), the only
// 32-bit MicroPython that installs from a package registry here (npm). Used by
// bench/footprint.py:
//     node bench/wasm/footprint.mjs MICROPYTHON_MJS LIBRARY_DIR BENCH_MPY_DIR
// LIBRARY_DIR (build/mpy: the mpy-cross output a board gets) is copied into the port's
// in-memory filesystem at /lib. That port's collector runs only between runPython calls,
// so each import is its own call, with the collections in calls of their own.
import fs from "fs";
import path from "path";

const [moduleUrl, library, benchDir] = process.argv.slice(2);
const { loadMicroPython } = await import(moduleUrl);
let out = "";
const mp = await loadMicroPython({
  heapsize: 4 * 1024 * 1024,
  stdout: (line) => { out += line + "\n"; },
  linebuffer: true,
});

function copy(source, target) {
  for (const name of fs.readdirSync(source)) {
    const from = path.join(source, name);
    const to = target + "/" + name;
    if (fs.statSync(from).isDirectory()) {
      mp.FS.mkdir(to);
      copy(from, to);
    } else {
      mp.FS.writeFile(to, fs.readFileSync(from));
    }
  }
}

mp.FS.mkdir("/lib");
copy(library, "/lib");
mp.FS.mkdir("/bench");
mp.FS.writeFile("/bench/footprint.py", fs.readFileSync(path.join(benchDir, "footprint.py")));
mp.runPython("import sys, gc, json, micropython\nsys.path[:0] = ['/lib', '/bench']\n" +
             "import footprint\nsizes = []");
mp.runPython("micropython.qstr_info()");
mp.runPython("gc.collect()");
mp.runPython("start = gc.mem_alloc()");
mp.runPython("count = len(footprint.MODULES)");
const count = mp.globals.get("count");
for (let index = 0; index < count; index++) {
  mp.runPython("gc.collect()");
  mp.runPython("before = gc.mem_alloc()");
  mp.runPython(`__import__(footprint.MODULES[${index}])`);
  mp.runPython("gc.collect()");
  mp.runPython(`sizes.append([footprint.MODULES[${index}], gc.mem_alloc() - before])`);
}
mp.runPython("gc.collect()");
mp.runPython("total = gc.mem_alloc() - start");
mp.runPython("micropython.qstr_info()");
mp.runPython("print(json.dumps({'modules': sizes, 'total': total}))");
process.stdout.write(out);
