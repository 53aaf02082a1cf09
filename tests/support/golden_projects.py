"""Fifteen projects and one Verilog twin, written from seeded models, hashed file by file.

A change meant to keep every generated file as it was (a move, a rename, a split of the Python code) is
checked against ``tests/data/golden_projects.json``; a change meant to alter generated files regenerates
it (``python tests/golden_projects.py --update``) and says which files changed and why in its commit.
"""

import argparse
import hashlib
import json
import re
import sys
import tempfile
from pathlib import Path

GOLDEN = Path(__file__).parents[1] / "data" / "golden_projects.json"

# name: (model kind, scheme, io_type, board, backend, reuse factor, mmac unit)
CASES = {
    "term_mlp_parallel": ("mlp", "term", "io_parallel", "pynq-z2", "Vivado", 1, None),
    "term_mlp_reuse4": ("mlp", "term", "io_parallel", "pynq-z2", "Vivado", 4, None),
    "term_mlp_term_pair": ("mlp", "term", "io_parallel", "zedboard", "Vivado", 2, "term_pair"),
    "term_mlp_stream": ("mlp", "term", "io_stream", "pynq-z2", "Vivado", 1, None),
    "term_mlp_vitis_zc706": ("mlp", "term", "io_parallel", "zc706", "Vitis", 1, None),
    "term_mlp_vc707": ("mlp", "term", "io_stream", "vc707", "Vivado", 2, None),
    "onion_mlp_parallel": ("mlp", "onion", "io_parallel", "pynq-z2", "Vivado", 1, None),
    "rowwise_mlp_parallel": ("mlp", "rowwise", "io_parallel", "pynq-z2", "Vivado", 1, None),
    "rowwise_mlp_stream": ("mlp", "rowwise", "io_stream", "pynq-z2", "Vivado", 2, None),
    "qkeras_mlp_parallel": ("mlp", "qkeras", "io_parallel", "pynq-z2", "Vivado", 1, None),
    "term_cnn_parallel": ("cnn", "term", "io_parallel", "pynq-z2", "Vivado", 1, None),
    "term_cnn_stream": ("cnn", "term", "io_stream", "pynq-z2", "Vivado", 4, None),
    "onion_cnn_stream": ("cnn", "onion", "io_stream", "pynq-z2", "Vivado", 1, None),
    "rowwise_cnn_parallel": ("cnn", "rowwise", "io_parallel", "zc706", "Vivado", 1, None),
    "qkeras_cnn_stream": ("cnn", "qkeras", "io_stream", "pynq-z2", "Vivado", 1, None),
}
TWIN_CASE = "term_mlp_reuse4"


def _model(kind, scheme):
    from mrfpga.cli.run_config import ModelConfig, QuantizationConfig
    from mrfpga.training.models import build_model

    if kind == "mlp":
        config, shape = ModelConfig(kind="mlp", hidden=[24, 16]), (64,)
    else:
        config, shape = ModelConfig(kind="cnn", filters=[4, 8]), (8, 8, 1)
    return build_model(config, shape, 10, QuantizationConfig(scheme=scheme), seed=7)


def normalized_files(root):
    """Every file under ``root`` (but hls4ml's zipped Keras model, whose times differ per run), with the run's
    random stamp and the folder's path replaced by fixed words."""
    files = {}
    config = root / "hls4ml_config.yml"
    stamp = re.search(r"^Stamp: '?([0-9a-f]+)'?$", config.read_text(), re.M).group(1) if config.is_file() else None
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix != ".keras":
            text = path.read_bytes().replace(str(root).encode(), b"ROOT")
            if path.name == "build_lib.sh":  # the precompiled header's line names this machine's cache, if any
                text = re.sub(rb"# mrfpga: headers precompiled.*\n.*\.gch.*\n", b"", text)
            if stamp:
                text = text.replace(stamp.encode(), b"STAMP").replace(b"'STAMP'", b"STAMP")
            files[str(path.relative_to(root))] = hashlib.sha256(text).hexdigest()
    return files


def digests(out_dir, names=None):
    """{case: {file: sha256}} of the projects written into ``out_dir``, plus the twin's files."""
    from mrfpga.hls import config_from_keras_model, convert_from_keras_model
    from mrfpga.hls.twin.spec import twin_specs
    from mrfpga.hls.twin.verilog import write_verilog

    result = {}
    for name in names or CASES:
        kind, scheme, io_type, board, backend, reuse, unit = CASES[name]
        model = _model(kind, scheme)
        config = config_from_keras_model(model, board, backend, io_type, reuse_factor=reuse, mmac_unit=unit)
        hls_model = convert_from_keras_model(model, str(Path(out_dir) / name), hls_config=config)
        hls_model.write()
        result[name] = normalized_files(Path(out_dir) / name)
        if name == TWIN_CASE:
            twin = Path(out_dir) / "twin"
            write_verilog(twin_specs(hls_model), twin)
            result["twin"] = normalized_files(twin)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--update", action="store_true", help=f"rewrite {GOLDEN.name}")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        found = digests(tmp)
    if args.update:
        GOLDEN.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
        print(f"wrote {GOLDEN}: {len(found)} projects, {sum(map(len, found.values()))} files")
        return 0
    golden = json.loads(GOLDEN.read_text())
    changed = {n: sorted(f for f in set(golden.get(n, {})) | set(found.get(n, {}))
                         if golden.get(n, {}).get(f) != found.get(n, {}).get(f))
               for n in set(golden) | set(found)}  # fmt: skip
    changed = {n: f for n, f in changed.items() if f}
    print(json.dumps(changed, indent=1) if changed else "every file as in the golden digests")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
