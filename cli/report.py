"""report.json, the per-resolution table and the accuracy/cycles plot."""

import re

import numpy as np

from mrfpga.cli.run_config import resolution_settings
from mrfpga.hls.sim.csim import mismatches


def _accuracy(logits, y):
    return float(np.mean(np.argmax(logits, axis=1) == y))


COST_AXES = {"term": ("gamma", "term-pair budget gamma = a * k"), "onion": ("precision", "onion precision (bits)")}


def clock_source(config, board):
    """Where the project's clock comes from, for the figures derived from it."""
    return "hls.clock_period" if config.hls.clock_period else f"the {board.name} board's clock"


def throughput(row, estimated_cycles, clock_ns, clock_from, samples):
    """Frames (samples) a second at the project's clock, one frame after another: from the cycles per frame the
    kit's layers counted in C simulation (the most over the samples), or the estimate without a count; and
    where the layers' own counts are known, the figure if HLS overlaps the layers (DATAFLOW: a new frame
    enters when the slowest layer is free)."""
    clock = f"{1000.0 / clock_ns:g} MHz ({clock_ns:g} ns, {clock_from})"
    if "csim_cycles" in row:
        interval = int(np.max(row["csim_cycles"]))
        basis = f"C-sim count: the cycles per frame the kit's layers counted in C simulation, the most over {samples}"
    else:
        interval = int(estimated_cycles)
        basis = "estimate (the cost model; the design has no counting layer): the cycles per frame"
    if interval <= 0:
        return None
    out = {
        "interval_cycles": interval,
        "clock_mhz": 1000.0 / clock_ns,
        "frames_per_second": 1e9 / (clock_ns * interval),
        "source": f"{basis}, at {clock}; one frame after another, frames a second = clock / cycles",
    }
    slowest = row.get("csim_slowest_layer", 0)
    if slowest > 0:
        out["dataflow_interval_cycles"] = slowest
        out["dataflow_frames_per_second"] = 1e9 / (clock_ns * slowest)
        out["dataflow_source"] = (
            f"C-sim count of the slowest kit layer (the most over {samples} samples) at {clock}: a new frame each "
            "time that layer is free, if HLS overlaps the layers (DATAFLOW); hls4ml's own layers are not counted"
        )
    return out


def build_report(config, hls_model, project, rows, y, estimates, input_description=None, test_accuracy=None):
    """report.json's content; ``test_accuracy`` is ``(Keras' accuracy per resolution, samples)`` on the whole
    test split."""
    board = hls_model.mrfpga_board
    clock = config.hls.clock_period or board.clock_period_ns
    clock_from = clock_source(config, board)
    resolutions = []
    settings = resolution_settings(config.quantization, len(rows))
    for r, (setting, row) in enumerate(zip(settings, rows, strict=True)):
        predict_bad = mismatches(row["predict"], row["exact"])
        testbench_bad = mismatches(row["testbench"], row["exact"])
        cycles = estimates["cycles"][r]
        whole = {}
        if test_accuracy is not None:
            whole = {"keras_test_accuracy": test_accuracy[0][r], "test_samples": test_accuracy[1]}
        resolutions.append(
            {
                "index": r,
                **setting,
                **whole,
                "keras_accuracy": _accuracy(row["keras"], y),
                "csim_accuracy": _accuracy(row["predict"], y),
                "csim_mismatches": max(predict_bad, testbench_bad),
                "predict_mismatches": predict_bad,
                "testbench_mismatches": testbench_bad,
                # Samples where Keras' float32 sums rounded away from the exact result.
                "keras_float32_rounded": mismatches(row["keras"], row["exact"]),
                "samples": int(len(y)),
                "estimated_cycles": cycles,
                "estimated_latency_us": cycles * clock / 1000.0,
            }
        )
        if "interval" in estimates:  # DATAFLOW: a new frame every (slowest layer's) cycles
            resolutions[-1]["estimated_interval"] = estimates["interval"][r]
        if "csim_cycles" in row:  # counted by the kit's layers in C simulation, per simulated sample
            resolutions[-1]["csim_cycles"] = {
                "mean": float(np.mean(row["csim_cycles"])),
                "max": int(np.max(row["csim_cycles"])),
            }
        resolutions[-1]["throughput"] = throughput(row, cycles, clock, clock_from, len(y))
    n_test = f"all {test_accuracy[1]}" if test_accuracy is not None else "the"
    return {
        "scheme": config.quantization.scheme,
        "board": board.name,
        "part": board.part,
        "clock_period_ns": clock,
        "clock_source": clock_from,
        "backend": config.hls.backend,
        "io_type": config.hls.io_type,
        "hls_project": str(project),
        "mmac_unit": mmac_unit(hls_model),
        # reuse_factor auto: the folding chosen per layer and the estimate it was chosen on; None otherwise.
        "folding": None if hls_model.mrfpga_folding is None else hls_model.mrfpga_folding.to_dict(),
        "sources": {
            "keras_test_accuracy": f"Keras on {n_test} test samples (test_samples), fed as the board is: scaled, "
            "normalized, on the input port's grid",
            "keras_accuracy": f"Keras on the {len(y)} C-simulated test samples (samples: the test split's first)",
            "csim_accuracy": f"C simulation (hls4ml's compiled model, g++) on the same {len(y)} samples",
        },
        "resolutions": resolutions,
        # Per layer: cycles (C simulation counts the kit layers' sum) and interval, per resolution.
        "layers": estimates.get("layers", {}),
        "resources": {
            "estimated": estimates["resources"],
            "board": board.resources,
            "utilization": estimates["utilization"],
        },
        "input": input_description,
        "warnings": (input_description or {}).get("warnings", []) + estimates["warnings"],
    }


def mmac_unit(hls_model):
    """The unit the mMAC layers after data terms use (docs/mmac_core.md), or None without one."""
    from mrfpga.hls.layers.data_terms import DataTerm

    units = {
        node.get_attr("unit")
        for node in hls_model.get_layers()
        if node.class_name in ("MMACDense", "MMACConv2D") and isinstance(node.data_source(), DataTerm)
    }
    return units.pop() if len(units) == 1 else None


def streamed(row):
    """Whether a report row's hardware figures come from the streaming twin (latency and interval apart)."""
    return "rtl_cycles_equal_model" in row


def print_table(report):
    clock_from = report.get("clock_source", "")
    print(f"\nboard {report['board']} ({report['part']}), clock {report['clock_period_ns']} ns ({clock_from})")
    print(f"HLS project: {report['hls_project']}")
    head = (
        f"{'res':>3} {'setting':>12} {'keras all':>9} {'keras sim':>9} {'csim acc':>9} {'mismatch':>8} "
        f"{'C-sim cyc':>9} {'frames/s':>10} {'est. cyc':>8}"
    )
    print(head)
    print("-" * len(head))
    rows = report["resolutions"]
    # A streaming design runs its layers overlapping: a frame each time the slowest one is free.
    overlapping = report.get("io_type") == "io_stream" and any(
        "dataflow_frames_per_second" in r.get("throughput", {}) for r in rows
    )
    fps_key = "dataflow_frames_per_second" if overlapping else "frames_per_second"
    for r in rows:
        whole = f"{r['keras_test_accuracy']:>9.4f}" if "keras_test_accuracy" in r else f"{'-':>9}"
        counted = f"{r['csim_cycles']['max']:>9}" if "csim_cycles" in r else f"{'-':>9}"
        fps = r.get("throughput")
        fps = f"{fps.get(fps_key, fps['frames_per_second']):>10,.0f}" if fps else f"{'-':>10}"
        print(
            f"{r['index']:>3} {r['label']:>12} {whole} {r['keras_accuracy']:>9.4f} "
            f"{r['csim_accuracy']:>9.4f} {r['csim_mismatches']:>8} {counted} {fps} {r['estimated_cycles']:>8}"
        )
    if rows:
        test = f"all {rows[0]['test_samples']}" if "test_samples" in rows[0] else "the"
        print(f"keras all: Keras on {test} test samples; keras sim, csim acc: Keras and C simulation on the "
              f"{rows[0]['samples']} C-simulated samples")  # fmt: skip
    print("C-sim cyc: cycles per sample counted in C simulation by the kit's layers (max over samples; in a streaming "
          "design, their sum: a bound);")  # fmt: skip
    fps = rows[0].get("throughput") if rows else None
    if fps and overlapping:
        print(f"frames/s: {fps['clock_mhz']:g} MHz / the slowest kit layer's C-sim count, the layers overlapping as "
              "the streaming design runs them (report.json: throughput; the measured interval below)")  # fmt: skip
    elif fps:
        basis = "C-sim cyc" if fps["source"].startswith("C-sim") else "est. cyc (no C-sim count)"
        print(f"frames/s: {fps['clock_mhz']:g} MHz / {basis}, one frame after another (report.json: throughput, with "
              "the slowest layer's figure if HLS overlaps the layers)")  # fmt: skip
    print("est. cyc: the cost model's estimate (docs/estimates.md)")
    est, board = report["resources"]["estimated"], report["resources"]["board"]
    print("estimated resources: " + ", ".join(f"{k} {est[k]}/{board[k]}" for k in est))


def write_plot(report, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key, axis_label = COST_AXES.get(report.get("scheme", "term"), ("index", "resolution index"))
    rows = sorted(report["resolutions"], key=lambda r: (r[key], r["index"]))
    cost = [r[key] for r in rows]
    fig, left = plt.subplots(figsize=(7, 4.2))
    if all("keras_test_accuracy" in r for r in rows):
        label = f"Keras accuracy ({rows[0]['test_samples']} test samples)"
        left.plot(cost, [100 * r["keras_test_accuracy"] for r in rows], "^-", color="tab:green", label=label)
    n = rows[0]["samples"] if rows else 0
    left.plot(cost, [100 * r["keras_accuracy"] for r in rows], "o-", label=f"Keras accuracy ({n} C-sim samples)")
    left.plot(cost, [100 * r["csim_accuracy"] for r in rows], "x--", label=f"C-sim accuracy ({n} samples)")
    left.set_xlabel(axis_label)
    left.set_ylabel("test accuracy (%)")
    right = left.twinx()
    if all("csim_cycles" in r for r in rows):
        right.plot(cost, [r["csim_cycles"]["mean"] for r in rows], "s-", color="tab:red", label="C-sim counted cycles")
    right.plot(cost, [r["estimated_cycles"] for r in rows], "+:", color="tab:gray", label="estimated cycles")
    right.set_ylabel("cycles per inference")
    handles = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    left.legend(handles, [h.get_label() for h in handles], loc="center right")
    left.set_title(f"One model, {len(rows)} resolutions on {report['board']}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def print_hardware(report):
    """The Verilog twin's figures: Verilator cycles and mismatches per resolution, Yosys resources per layer,
    beside the C-simulation count, the estimate and the board's totals, each labelled with its source."""
    measured = report.get("measured_resources")
    head = f"{'res':>3} {'setting':>12} {'rtl mismatch':>12} {'rtl cycles':>10} {'C-sim cycles':>12} {'= C-sim':>7}"
    streaming = any(streamed(r) for r in report["resolutions"])
    if streaming:
        head = (
            f"{'res':>3} {'setting':>12} {'rtl mismatch':>12} {'rtl latency':>11} {'rtl interval':>12} {'= model':>7}"
        )
    print(f"\n{head}\n{'-' * len(head)}")
    for r in report["resolutions"]:
        if "rtl_cycles" not in r:
            continue
        rtl = r["rtl_cycles"]
        if streaming:
            same = {True: "yes", False: "NO"}.get(r.get("rtl_cycles_equal_model"), "-")
            interval = rtl.get("interval", "-")
            print(
                f"{r['index']:>3} {r['label']:>12} {r['rtl_mismatches']:>12} {rtl['max']:>11} {interval:>12} {same:>7}"
            )
            continue
        csim_max = r["csim_cycles"]["max"] if "csim_cycles" in r else "-"
        same = {True: "yes", False: "NO"}.get(r.get("rtl_cycles_equal_csim"), "-")
        print(f"{r['index']:>3} {r['label']:>12} {r['rtl_mismatches']:>12} {rtl['max']:>10} {csim_max:>12} {same:>7}")
    if streaming:
        print(
            "rtl latency and interval: measured in Verilator on the streaming twin (a frame's first word to its last "
            "output word; frame to frame back to back); model: the dataflow model of the C-sim-counted layers"
        )
    else:
        print(
            "rtl cycles: measured in Verilator on the Verilog twin (max over samples); C-sim: counted in C simulation"
        )
    if measured:
        est, board = report["resources"]["estimated"], measured["board"]
        print(f"\nresources measured by {measured['tool']} ({measured['method']}):")
        print(f"{'':>14} {'LUT':>8} {'FF':>8} {'CARRY4':>7} {'DSP48E1':>8} {'BRAM_18K':>9}")
        rows = [(name, figures) for name, figures in measured["layers"].items()] + [
            ("total (Yosys)", measured["total"])
        ]
        for name, f in rows:
            print(f"{name:>14} {f['LUT']:>8} {f['FF']:>8} {f['CARRY4']:>7} {f['DSP48E1']:>8} {f['BRAM_18K']:>9}")
        print(f"{'estimate':>14} {est['LUT']:>8} {est['FF']:>8} {'':>7} {est['DSP48E1']:>8} {est['BRAM_18K']:>9}")
        print(f"{'board':>14} {board['LUT']:>8} {board['FF']:>8} {'':>7} {board['DSP48E1']:>8} {board['BRAM_18K']:>9}")
    print_comparison(report)


def _depth(figures):
    depth = figures.get("depth")
    return f"{depth['logic_levels']} ({depth['lut_levels']})" if depth else "-"


def print_comparison(report):
    """Per resolution, the design's figures (``hardware``) and the matched plain baseline's (``baseline``) with
    the ratio of LUT x cycles, then where each figure comes from; nothing when the report has no such figures."""
    rows = [r for r in report.get("resolutions", []) if "hardware" in r]
    if not rows:
        return
    base = report.get("baseline") or {}
    with_base = all("baseline" in r for r in rows)
    streaming = any(streamed(r) for r in rows)
    cycles = "interval" if streaming else "latency"  # what LUT x cycles multiplies
    ours_head = f"{'accuracy':>8} {'cycles':>6} {'LUT':>6} {'BRAM':>4} {'LUT x cyc':>10} {'depth':>6}"
    head = f"{'res':>3} {'setting':>12} {ours_head}"
    # a streaming baseline's reuse: its layers' factors in a word
    reuse_width = max([5] + [len(str(r["baseline"]["reuse_factor"])) for r in rows if "baseline" in r])
    if with_base:
        head += (
            f" | {'reuse':>{reuse_width}} {'cycles':>6} {'LUT':>6} {'BRAM':>4} {'LUT x cyc':>10} {'depth':>6} | "
            f"{'LUT x cyc':>9}"
        )
    title = "the design (ours)"
    if with_base:
        matched = "at most our interval" if streaming else "at the closest cycles"
        title += f" | the {base['width']}-bit plain baseline {matched} | ours / baseline"
    print(f"\n{title}\n{head}\n{'-' * len(head)}")
    for r in rows:
        h = r["hardware"]
        line = (
            f"{r['index']:>3} {r['label']:>12} {h['accuracy']:>8.4f} {h['cycles'][cycles]:>6} {h['LUT']:>6} "
            f"{h['BRAM_18K']:>4} {h['lut_x_cycles']:>10,} {_depth(h):>6}"
        )
        if with_base:
            b, ratio = r["baseline"], r["vs_baseline"]["lut_x_cycles"]
            slower = "*" if b.get("within_interval") is False else ""
            line += (
                f" | {b['reuse_factor']:>{reuse_width}} {str(b['cycles'][cycles]) + slower:>6} {b['LUT']:>6} "
                f"{b['BRAM_18K']:>4} {b['lut_x_cycles']:>10,} {_depth(b):>6} | {ratio:>9.2f}"
            )
        print(line)
    if any(r.get("baseline", {}).get("within_interval") is False for r in rows):
        print("*: the plain design's layers, each within our interval alone, stall one another past it")
    sources = rows[0]["hardware"]["sources"]
    print(f"accuracy: {sources['accuracy']}")
    what = "the interval, frame to frame" if streaming else "latency = interval"
    print(f"cycles ({what}): {sources['cycles']}")
    print("LUT, BRAM (BRAM_18K), LUT x cycles: Yosys (above); depth: logic levels (the LUTs among them) on the "
          "longest combinational path between registers (Yosys ltp)")  # fmt: skip
    if with_base:
        b = rows[0]["baseline"]["sources"]
        print(f"baseline: {base['source']}; accuracy {base['accuracy']:.4f}")
        print(f"baseline cycles: {b['cycles']}; reuse: {base['matching']}")
        first, *others = base["sized"].items()
        print(f"baseline resources at reuse {first[0]}: {first[1]['tool']} ({first[1]['method']})")
        for reuse, sized in others:  # the same method but for the weight ROMs
            roms = re.search(r"smaller ones in logic: ([^;]*)", sized["method"])
            print(f"  at reuse {reuse}: the same; weight ROMs: {roms.group(1) if roms else sized['method']}")
    elif base.get("skipped"):
        print(f"no baseline: {base['skipped']}")
