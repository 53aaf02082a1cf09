"""Verilator's ``OBJCACHE`` for its own runtime library.

Verilator's make runs every compile as ``$(OBJCACHE) c++ ...``. This program keeps the objects of Verilator's
runtime (``verilated.cpp``, ``verilated_threads.cpp``: the same sources in every twin, about 4 s of g++ a build)
in the kit's cache, by compile command, compiler and source content, and runs every other compile as given.

It runs as a program, ``python runtime_objects.py <cache folder> <compile command>``, through the shell script
``object_cache_program`` writes, and imports nothing of the kit: it starts once per compile.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

RUNTIME_SOURCES = ("verilated.cpp", "verilated_threads.cpp")


def cache_key(cmd, source):
    """What decides the object: the command, the compiler's version, the source and the runtime's headers."""
    digest = hashlib.sha256(repr(cmd).encode())
    digest.update(subprocess.run([cmd[0], "--version"], capture_output=True).stdout)
    for path in [*sorted(source.parent.glob("*.h")), source]:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def compile_cached(cmd, cache):
    source, out = Path(cmd[-1]), cmd[cmd.index("-o") + 1]
    cached = cache / f"{source.stem}-{cache_key(cmd, source)}.o"
    if cached.is_file():
        shutil.copyfile(cached, out)
        return 0
    status = subprocess.call(cmd)
    if status == 0:
        try:
            cache.mkdir(parents=True, exist_ok=True)
            fd, staging = tempfile.mkstemp(dir=cache, prefix=f".{source.stem}-", suffix=".partial")
            os.close(fd)
            shutil.copyfile(out, staging)
            os.chmod(staging, 0o644)
            os.replace(staging, cached)  # whole or not at all; another build may put the same one first
        except OSError:
            pass  # no writable cache: the object is built, not kept
    return status


def main(argv):
    cache, cmd = Path(argv[0]), argv[1:]
    if "-o" in cmd and Path(cmd[-1]).name in RUNTIME_SOURCES:
        return compile_cached(cmd, cache)
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
