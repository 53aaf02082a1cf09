"""``reuse_factor: auto``: per layer, the folding the cost model says fits the board (docs/estimates.md).

A layer with weights is folded by its reuse factor: an mMAC layer's units each serve ``reuse_factor`` outputs
one after another (so only the reuse factors that change the number of units are candidates), a row-wise or
hls4ml layer shares its multipliers over ``reuse_factor`` products (hls4ml's valid reuse factors). Every other
layer costs the same at any folding.

- io_stream (DATAFLOW): a new frame enters every slowest-layer-interval cycles, so folding a faster layer
  costs no throughput. As in FINN's folding search, for each target interval, smallest first, every layer
  takes its cheapest folding that keeps its interval within the target; the first target whose total fits is
  chosen. Layers end up balanced: none much faster than the slowest.
- io_parallel: the layers run one after another, every layer's cycles add to the interval. All layers start
  at their fastest folding; while the total does not fit, the layer whose next folding frees the most of the
  overfull resources per added cycle is folded further.

"Fits": each of LUT, FF, BRAM_18K and DSP48E1 of the estimate at most ``FIT_MARGIN`` of the board's (the rest
is left for the estimate's error, the AXI/DMA shell around the IP and the router). An explicit per-layer reuse
factor is kept as it is. A model that fits at no folding stops with a ``ConversionError`` naming the layer
that takes the most of the board at its most folded.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from mrfpga.hls.layers.mmac import MAX_TERM_LANES, lane_estimates, takes_lanes
from mrfpga.hls.project.boards import RESOURCE_KEYS
from mrfpga.training.errors import ConversionError

from .estimate import design_resources, layer_interval, layer_resources

AUTO = "auto"
FIT_MARGIN = 0.8
PER_OUTPUT_CLASSES = ("MMACDense", "MMACConv2D")  # units own whole outputs
FOLDABLE_CLASSES = (*PER_OUTPUT_CLASSES, "RowwiseDense", "RowwiseConv2D", "Dense", "Conv2D")


@dataclass
class LayerOption:
    reuse: int
    interval: int  # at the slowest resolution
    resources: dict
    lanes: int = 1  # term slots an mMAC unit walks a cycle


@dataclass
class Folding:
    """The chosen reuse factor per foldable layer, and the estimate it was chosen on."""

    layer_reuse: dict[str, int]
    interval: int  # estimated cycles between frames at the slowest resolution
    resources: dict[str, int]
    usable: dict[str, int]  # FIT_MARGIN of the board's resources
    io_type: str
    fixed: list[str] = field(default_factory=list)  # layers whose reuse factor the configuration set
    layer_lanes: dict[str, int] = field(default_factory=dict)  # layers whose units walk several term slots a cycle

    def to_dict(self):
        return {
            "reuse_factor": "auto",
            "layer_reuse": dict(self.layer_reuse),
            "layer_term_lanes": dict(self.layer_lanes),
            "fixed_by_configuration": list(self.fixed),
            "estimated_interval": self.interval,
            "estimated_resources": dict(self.resources),
            "usable": dict(self.usable),
            "margin": f"each resource at most {FIT_MARGIN:.0%} of the board's",
            "source": "estimate (the cost model, docs/estimates.md), not a measurement",
        }

    def describe(self):
        layers = ", ".join(
            f"{name} {reuse}" + (f" ({self.layer_lanes[name]} term lanes)" if name in self.layer_lanes else "")
            for name, reuse in self.layer_reuse.items()
        )
        used = ", ".join(f"{k} {self.resources[k]:,}/{self.usable[k]:,}" for k in RESOURCE_KEYS)
        return (
            f"reuse_factor auto ({self.io_type}): {layers}; estimated interval {self.interval:,} cycles at the "
            f"slowest resolution; estimated {used} (usable: {FIT_MARGIN:.0%} of the board)"
        )


def reuse_candidates(node, keras_layer, backend):
    """The reuse factors worth trying for one layer, fastest first."""
    kernel_shape = keras_layer.kernel.shape
    n_out = int(kernel_shape[-1])
    if node.class_name in PER_OUTPUT_CLASSES:  # n_units = ceil(n_out / reuse): one candidate per unit count
        return sorted({math.ceil(n_out / units) for units in range(1, n_out + 1)})
    n_in = math.prod(int(d) for d in kernel_shape[:-1])
    return sorted(backend.get_valid_reuse_factors(n_in, n_out))


def _total(options, fixed_resources):
    total = dict(fixed_resources)
    for option in options:
        for key in RESOURCE_KEYS:
            total[key] += option.resources[key]
    return total


def _fits(total, usable):
    return all(total[k] <= usable[k] for k in RESOURCE_KEYS)


def _weight(resources, usable):
    """One number to compare foldings of a layer: its share of the usable board, summed over the kinds."""
    return sum(resources[k] / usable[k] for k in RESOURCE_KEYS if usable[k])


def choose_folding(
    convert_at: Callable, model, board, io_type: str, n_resolutions: int, fixed: dict[str, int], progress=None
) -> Folding:
    """The folding for ``model`` on ``board``; ``convert_at({layer: reuse})`` converts the model (nothing
    written) with those layers at those reuse factors; ``fixed`` holds the layers whose reuse factor is set. A
    streaming convolution of weight-term units is also tried with its units walking 2 to ``MAX_TERM_LANES`` term
    slots a cycle at each reuse factor (``mmac.lane_estimates``)."""
    first = convert_at({})
    nodes = {n.name: n for n in first.get_layers() if n.class_name in FOLDABLE_CLASSES and n.name not in fixed}
    keras_layers = {layer.name: layer for layer in model.layers}
    backend = first.config.backend
    candidates = {
        name: reuse_candidates(node, keras_layers[name], backend)
        for name, node in nodes.items()
        if name in keras_layers and hasattr(keras_layers[name], "kernel")
    }
    usable = {k: int(FIT_MARGIN * board.resources[k]) for k in RESOURCE_KEYS}

    def slowest(node):
        return max(layer_interval(node, r) for r in range(n_resolutions))

    # What costs the same at any folding: the other layers and the FIFOs.
    fixed_resources = design_resources(first, skip=candidates)
    unfoldable = [n for n in first.get_layers() if n.name not in first.inputs and n.name not in candidates]
    fixed_interval = [slowest(node) for node in unfoldable]

    # Each layer's cost at each candidate: one conversion per reuse factor, every layer that has it at it.
    # ``first`` has every layer at reuse factor 1, every layer's fastest: io_parallel stops there if it fits.
    options = {name: [] for name in candidates}

    def add_options(node, reuse):
        options[node.name].append(LayerOption(reuse, slowest(node), layer_resources(node)))
        if io_type == "io_stream" and takes_lanes(node):
            for lanes in range(2, MAX_TERM_LANES + 1):
                interval, resources = lane_estimates(node, lanes, n_resolutions)
                options[node.name].append(LayerOption(reuse, interval, resources, lanes))

    for node in first.get_layers():
        if node.name in candidates:
            add_options(node, 1)
    all_reuse = sorted({reuse for values in candidates.values() for reuse in values} - {1})
    if io_type != "io_stream" and _fits(_total([o[0] for o in options.values()], fixed_resources), usable):
        all_reuse = []
    for i, reuse in enumerate(all_reuse):
        if progress:
            progress(f"reuse_factor auto: estimating the layers at reuse factor {reuse} ({i + 1}/{len(all_reuse)})")
        at = {name: reuse for name, values in candidates.items() if reuse in values}
        converted = convert_at(at)
        for node in converted.get_layers():
            if node.name in at:
                add_options(node, reuse)

    if io_type == "io_stream":
        chosen = _balanced(options, fixed_resources, usable, max(fixed_interval, default=0))
    else:
        chosen = _fastest_that_fits(options, fixed_resources, usable)
    if chosen is None:
        raise _does_not_fit(options, {n.name: layer_resources(n) for n in unfoldable}, fixed_resources, usable, board)
    total = _total(chosen.values(), fixed_resources)
    if io_type == "io_stream":
        interval = max([o.interval for o in chosen.values()] + fixed_interval)
    else:
        interval = sum(o.interval for o in chosen.values()) + sum(fixed_interval)
    lanes = {name: o.lanes for name, o in chosen.items() if o.lanes > 1}
    return Folding(
        {name: o.reuse for name, o in chosen.items()}, interval, total, usable, io_type, sorted(fixed), lanes
    )


def _balanced(options, fixed_resources, usable, floor):
    """io_stream: the smallest target interval whose cheapest foldings fit (FINN's search); none below
    ``floor``, the slowest layer that cannot be folded (folding up to it costs no throughput)."""
    targets = sorted({o.interval for values in options.values() for o in values if o.interval >= floor} | {floor})
    for target in targets:
        chosen = {}
        for name, values in options.items():
            within = [o for o in values if o.interval <= target]
            if not within:
                break
            chosen[name] = min(within, key=lambda o: (_weight(o.resources, usable), o.interval))
        else:
            if _fits(_total(chosen.values(), fixed_resources), usable):
                return chosen
    return None


def _fastest_that_fits(options, fixed_resources, usable):
    """io_parallel: every layer at its fastest, folded further where it frees most per added cycle."""
    chosen = {name: min(values, key=lambda o: o.interval) for name, values in options.items()}
    while True:
        total = _total(chosen.values(), fixed_resources)
        if _fits(total, usable):
            return chosen
        over = [k for k in RESOURCE_KEYS if total[k] > usable[k]]
        best, best_gain = None, 0.0
        for name, values in options.items():
            now = chosen[name]
            for option in values:
                freed = sum((now.resources[k] - option.resources[k]) / usable[k] for k in over if usable[k])
                added = max(option.interval - now.interval, 1)
                if freed > 0 and freed / added > best_gain:
                    best, best_gain = (name, option), freed / added
        if best is None:
            return None
        chosen[best[0]] = best[1]


def _does_not_fit(options, unfoldable, fixed_resources, usable, board):
    cheapest = {name: min(values, key=lambda o: _weight(o.resources, usable)) for name, values in options.items()}
    total = _total(cheapest.values(), fixed_resources)
    over = [k for k in RESOURCE_KEYS if total[k] > usable[k]] or list(RESOURCE_KEYS)
    key = max(over, key=lambda k: total[k] / max(usable[k], 1))
    # The layer taking the most of that resource: foldable ones at their most folded, the others as they are.
    held = {
        name: (o.resources.get(key, 0), f"at its most folded (reuse_factor {o.reuse})") for name, o in cheapest.items()
    }
    held.update({name: (r.get(key, 0), "at any folding") for name, r in unfoldable.items()})
    name, (amount, how) = max(held.items(), key=lambda item: item[1][0])
    return ConversionError(
        f"the model does not fit {board.name} at any folding: the estimate needs {total[key]:,} {key} where "
        f"{usable[key]:,} are usable ({FIT_MARGIN:.0%} of {board.resources[key]:,}); layer {name} takes the most of "
        f"it, {amount:,} {key} {how}. Use a larger board or a smaller model"
    )
