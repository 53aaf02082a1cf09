"""Precompiled standard and ap_types headers for the g++ builds of a project (library and testbench).

Every build of a project parses the same headers before its own code; they are precompiled once per machine,
compiler, flag set and ap_types content into ``cache_dir()/pch``. A project's build_lib.sh takes the header only
while the file is there, so the project builds plainly anywhere else, with the same result.
"""

import functools
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

LIBRARY_FLAGS = ("-O3", "-fPIC", "-std=c++11")  # hls4ml's build_lib.sh, when a project's script cannot tell
# What every build of a project parses before its own code, a third to two thirds of each g++ run: the standard
# headers and ap_types (vendor-independent and the same in every project; the cache is keyed by their content).
PRECOMPILED_SWITCH = "MRFPGA_PRECOMPILED_HEADERS"  # "0": plain builds (a like-for-like timing against hls4ml)
PRECOMPILED = ("algorithm", "iostream", "map", "string", "vector", "ap_fixed.h", "ap_int.h", "hls_stream.h")
# build_lib.sh: hls4ml's include-flags line ends its set-up; the kit's line (project.use_precompiled_header),
# marked so, goes just before it.
BUILD_SCRIPT_INCLUDES = 'INCFLAGS="'
KIT_LINE_MARK = "# mrfpga:"


def library_flags(project_dir):
    """The flags the project's build_lib.sh compiles the library with on this machine (hls4ml's script picks the
    C++ standard and -fno-gnu-unique by asking g++): its set-up lines, run."""
    script = Path(project_dir) / "build_lib.sh"
    if not script.exists():
        return LIBRARY_FLAGS
    # Up to the kit's own line (project.use_precompiled_header) or hls4ml's include flags.
    setup = re.split(f"\n(?:{re.escape(KIT_LINE_MARK)}|{re.escape(BUILD_SCRIPT_INCLUDES)})", script.read_text())[0]
    return _flags_of(setup)


@functools.cache
def _flags_of(setup):
    done = subprocess.run(["bash", "-c", f'{setup}\necho "$CFLAGS"'], capture_output=True, text=True)
    return tuple(done.stdout.split()) if done.returncode == 0 and done.stdout.strip() else LIBRARY_FLAGS


def cache_dir():
    """The kit's cache: ``$MRFPGA_CACHE_DIR``, else ``$XDG_CACHE_HOME/mrfpga`` (``~/.cache/mrfpga``)."""
    if os.environ.get("MRFPGA_CACHE_DIR"):
        return Path(os.environ["MRFPGA_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mrfpga"


def precompiled_header(project_dir, flags, compiler="g++"):
    """A header to ``-include`` that g++ (run with ``flags``) reads precompiled from the ``.gch`` beside it: the
    standard headers and ap_types of ``project_dir``. None when that cannot be: the build is then the plain one,
    with the same result. Built once per compiler, flag set and ap_types content, in ``cache_dir()/pch``."""
    ap_types = Path(project_dir) / "firmware" / "ap_types"
    if os.environ.get(PRECOMPILED_SWITCH) == "0" or shutil.which(compiler) is None or not ap_types.is_dir():
        return None
    flags = tuple(flags)
    text = "".join(f"#include <{h}>\n" if "." not in h else f'#include "{h}"\n' for h in PRECOMPILED)
    key = hashlib.sha256()
    for part in (_compiler_version(compiler), " ".join(flags), text):
        key.update(part.encode() + b"\0")
    for path in sorted(p for p in ap_types.rglob("*") if p.is_file()):
        key.update(path.relative_to(ap_types).as_posix().encode() + b"\0" + path.read_bytes())
    header = _built_header(compiler, flags, text, str(ap_types.resolve()), key.hexdigest()[:20])
    if header is None or not header.with_suffix(".h.gch").exists():  # the cache may be emptied meanwhile
        return None
    return header


@functools.cache
def _compiler_version(compiler):
    return subprocess.run([compiler, "--version"], capture_output=True, text=True).stdout


@functools.cache
def _built_header(compiler, flags, text, ap_types, key):
    root = cache_dir() / "pch"
    final = root / key
    header = final / "mrfpga_pch.h"
    if (final / "mrfpga_pch.h.gch").exists():
        return header
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{key}-"))
    except OSError:  # no writable cache: plain builds
        return None
    try:
        (staging / header.name).write_text(text)
        # Its own copy, named relatively: the header's file names (__FILE__ in ap_types' asserts) end up in the
        # binaries, and must not name the project that happened to build it first.
        shutil.copytree(ap_types, staging / "ap_types")
        cmd = [compiler, *flags, "-Iap_types", "-x", "c++-header", header.name, "-o", f"{header.name}.gch"]
        if subprocess.run(cmd, cwd=staging, capture_output=True, timeout=600).returncode != 0:
            return None
        try:
            staging.rename(final)  # whole or not at all; another process may have put the same one first
        except OSError:
            pass
    except (OSError, subprocess.TimeoutExpired):
        return None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return header if (final / "mrfpga_pch.h.gch").exists() else None
