"""Golden model of the lock-step mMAC schedule (docs/mmac_core.md), on the layers' core descriptions.

A layer's core description (``core_spec()`` of the hls4ml ``DataTerm`` and ``MMACDense`` layers) is a plain
dict. ``simulate`` runs one layer on integer codes at one resolution and returns its output codes and the
cycles each sample takes; the Verilog twin (``mrfpga.hls.twin.verilog``) and the C-simulation cycle count are held
to it. Codes are Python/numpy integers: signed values for signed codes, never raw two's-complement bits.
"""

import numpy as np

from mrfpga.hls.layers.common import bits_for
from mrfpga.training.term_encodings import group_terms, value_terms

DATA_TERM_KEYS = (
    "name",
    "n_in",
    "bits",
    "frac",
    "encoding",
    "budgets",
    "floors",
    "round_half_even",
    "in_width",
    "in_frac",
    "in_signed",
)
MMAC_DENSE_KEYS = (
    "name",
    "n_in",
    "n_out",
    "group_size",
    "n_groups",
    "group_bases",
    "reuse",
    "n_units",
    "max_terms",
    "table",
    "index_bits",
    "exponent_bits",
    "mode",
    "data_bits",
    "data_signed",
    "data_frac",
    "max_data_terms",
    "weight_budgets",
    "weight_floors",
    "data_budgets",
    "group_terms",
    "acc_width",
    "acc_shift",
    "bias",
    "out_frac",
)
MODES = ("term_pair", "weight_term")

TWIN_LAYERS = ("DataTerm", "MMACDense")
FLAT_LAYERS = ("Input", "Reshape")  # a flatten keeps the values' order: the twin's buses are flat already


def twin_specs(hls_model):
    """The core descriptions of the model's layers when the Verilog twin covers it (a chain of data-term and
    mMAC Dense layers in io_parallel: the twin is the io_parallel core's schedule), else None."""
    if hls_model.config.get_config_value("IOType") != "io_parallel":
        return None
    layers = [n for n in hls_model.get_layers() if n.class_name not in FLAT_LAYERS]
    if not layers or any(n.class_name not in TWIN_LAYERS for n in layers):
        return None
    return [n.core_spec() for n in layers]


def n_resolutions(spec):
    return len(spec["budgets"] if spec["kind"] == "data_term" else spec["weight_budgets"])


def check_spec(spec):
    """Raise ValueError naming the problem when ``spec`` is not a complete, consistent core description."""
    kind = spec.get("kind")
    keys = {"data_term": DATA_TERM_KEYS, "mmac_dense": MMAC_DENSE_KEYS}.get(kind)
    if keys is None:
        raise ValueError(f"core spec {spec.get('name', '?')}: unknown kind {kind!r} (data_term or mmac_dense)")
    missing = [key for key in keys if key not in spec]
    if missing:
        raise ValueError(f"core spec {spec['name'] if 'name' in spec else '?'}: missing {', '.join(missing)}")
    name = spec["name"]
    if kind == "data_term":
        if len(spec["floors"]) != len(spec["budgets"]):
            raise ValueError(f"core spec {name}: {len(spec['floors'])} floors for {len(spec['budgets'])} budgets")
        if spec["encoding"] not in ("naf", "binary", "hese"):
            raise ValueError(f"core spec {name}: unknown encoding {spec['encoding']!r}")
        return
    if spec["mode"] not in MODES:
        raise ValueError(f"core spec {name}: unknown mode {spec['mode']!r} ({' or '.join(MODES)})")
    n_res = len(spec["weight_budgets"])
    for key in ("weight_floors", "data_budgets", "group_terms"):
        if len(spec[key]) != n_res:
            raise ValueError(f"core spec {name}: {len(spec[key])} {key} for {n_res} resolutions")
    n_flat = spec["n_out"] * spec["n_groups"]
    if spec["n_units"] != -(-n_flat // spec["reuse"]):
        raise ValueError(f"core spec {name}: n_units {spec['n_units']} != ceil({n_flat} groups / reuse)")
    table = np.asarray(spec["table"])
    if table.shape != (spec["reuse"] * spec["max_terms"], spec["n_units"]):
        raise ValueError(
            f"core spec {name}: table shape {table.shape}, expected (reuse * max_terms, n_units) = "
            f"({spec['reuse'] * spec['max_terms']}, {spec['n_units']})"
        )
    if len(spec["group_bases"]) != spec["n_groups"] or len(spec["bias"]) != spec["n_out"]:
        raise ValueError(f"core spec {name}: group_bases/bias lengths disagree with n_groups/n_out")
    if max(spec["group_terms"]) > spec["max_terms"]:
        raise ValueError(f"core spec {name}: group_terms {spec['group_terms']} past max_terms {spec['max_terms']}")
    if spec["mode"] == "term_pair" and spec["data_signed"]:
        raise ValueError(f"core spec {name}: term_pair mode takes unsigned data-term codes")
    if spec["acc_width"] > 52:
        raise ValueError(f"core spec {name}: accumulator of {spec['acc_width']} bits, more than 52")


def in_width(spec):
    return spec["in_width"] if spec["kind"] == "data_term" else spec["data_bits"]


def in_signed(spec):
    return spec["in_signed"] if spec["kind"] == "data_term" else spec["data_signed"]


def out_width(spec):
    return spec["bits"] + 1 if spec["kind"] == "data_term" else spec["acc_width"]


def out_signed(spec):
    return spec["kind"] == "mmac_dense"


def n_inputs(spec):
    return spec["n_in"]


def n_outputs(spec):
    return spec["n_in"] if spec["kind"] == "data_term" else spec["n_out"]


def layer_cycles(spec, r):
    """Cycles one sample takes in the layer at resolution ``r`` (docs/mmac_core.md, Cycles)."""
    if spec["kind"] == "data_term":
        return 1
    r = min(r, n_resolutions(spec) - 1)
    steps_per_round = spec["group_terms"][r]
    if spec["mode"] == "term_pair":
        steps_per_round *= spec["data_budgets"][r]
    return spec["reuse"] * steps_per_round + 3


def to_signed(raw, width):
    """Two's-complement bits (non-negative ints) -> signed values."""
    raw = np.asarray(raw, np.int64) & ((1 << width) - 1)
    return np.where(raw >> (width - 1) & 1, raw - (1 << width), raw)


def _on_grid(x, spec):
    """The input value on ap_ufixed<bits, bits - frac, AP_RND or AP_RND_CONV, AP_SAT>: its unsigned code."""
    shift = spec["in_frac"] - spec["frac"]
    if shift > 0:
        q, rem = divmod(x, 1 << shift)
        half = 1 << (shift - 1)
        if spec["round_half_even"]:
            q += rem > half or (rem == half and q & 1)
        else:
            q += rem >= half
    else:
        q = x << -shift
    return min(max(q, 0), (1 << spec["bits"]) - 1)


def _data_term_value(x, spec, r):
    code = _on_grid(int(x), spec)
    dropped = spec["floors"][r]
    code = code >> dropped << dropped
    kept = value_terms(code, spec["encoding"])[: spec["budgets"][r]]
    return sum(digit << exp for exp, digit in kept)


def _simulate_data_term(spec, codes, r):
    values, inverse = np.unique(codes, return_inverse=True)
    out = np.array([_data_term_value(x, spec, r) for x in values], np.int64)
    return out[inverse].reshape(codes.shape)


def _data_terms(codes, width, max_terms):
    """NAF terms of each code, most significant first, at most ``max_terms``: (exponents, negative, count)."""
    exps = np.zeros((*codes.shape, max_terms), np.int64)
    negs = np.zeros((*codes.shape, max_terms), bool)
    counts = np.zeros(codes.shape, np.int64)
    for index, code in np.ndenumerate(codes):
        terms = value_terms(int(code) & ((1 << width) - 1), "naf")[:max_terms]
        counts[index] = len(terms)
        for d, (exp, digit) in enumerate(terms):
            exps[(*index, d)] = exp
            negs[(*index, d)] = digit < 0
    return exps, negs, counts


def _shifted(x, shift, mask, width):
    """(x << shift) mod 2^width for x already reduced mod 2^width, without leaving int64."""
    if shift >= width:
        return np.zeros_like(x)
    return (x & ((1 << (width - shift)) - 1)) << shift & mask


def _simulate_mmac_dense(spec, codes, r):
    width, mask = spec["acc_width"], (1 << spec["acc_width"]) - 1
    n_samples = codes.shape[0]
    k, floor = spec["weight_budgets"][r], spec["weight_floors"][r]
    a, n_steps = spec["data_budgets"][r], spec["group_terms"][r]
    reuse, n_units, max_terms = spec["reuse"], spec["n_units"], spec["max_terms"]
    index_bits, exponent_bits = spec["index_bits"], spec["exponent_bits"]
    table = np.asarray(spec["table"], np.int64).reshape(reuse, max_terms, n_units)
    term_pair = spec["mode"] == "term_pair"
    if term_pair:
        max_data = spec["max_data_terms"]
        data_exp, data_neg, data_count = _data_terms(codes, spec["data_bits"], max_data)
    else:
        x_mod = codes.astype(np.int64) & mask
    n_flat = spec["n_out"] * spec["n_groups"]
    partial = np.zeros((n_samples, n_flat), np.int64)
    for j in range(reuse):
        for u in range(n_units):
            f = j * n_units + u
            if f >= n_flat:
                continue
            base = spec["group_bases"][f % spec["n_groups"]]
            acc = np.zeros(n_samples, np.int64)
            for t in range(n_steps):
                entry = int(table[j, t, u])
                valid = entry >> (index_bits + exponent_bits + 1) & 1
                exp = entry >> index_bits & ((1 << exponent_bits) - 1)
                negative = entry >> (index_bits + exponent_bits) & 1
                if not valid or exp < floor or t >= k:
                    continue
                i = base + (entry & ((1 << index_bits) - 1))
                if term_pair:
                    for d in range(min(a, max_data)):
                        on = d < data_count[:, i]
                        shift = exp + data_exp[:, i, d] + spec["acc_shift"]
                        product = np.where(on & (shift < width), np.left_shift(1, np.minimum(shift, 62)), 0)
                        subtract = data_neg[:, i, d] != bool(negative)
                        acc = np.where(subtract, acc - product, acc + product) & mask
                else:
                    product = _shifted(x_mod[:, i], exp + spec["acc_shift"], mask, width)
                    acc = (acc - product if negative else acc + product) & mask
            partial[:, f] = acc
    bias = np.asarray(spec["bias"], np.int64) & mask
    out = (partial.reshape(n_samples, spec["n_out"], spec["n_groups"]).sum(axis=2) + bias) & mask
    return to_signed(out, width)


def simulate(spec, codes, r):
    """One layer at resolution ``r`` on ``codes`` (samples, n_in): (output codes (samples, n_out), cycles per sample).

    ``r`` past the last resolution means the last one, as in the HLS core.
    """
    check_spec(spec)
    codes = np.asarray(codes, np.int64)
    if codes.ndim != 2 or codes.shape[1] != spec["n_in"]:
        raise ValueError(f"layer {spec['name']}: codes of shape {codes.shape}, expected (samples, {spec['n_in']})")
    width, signed = in_width(spec), in_signed(spec)
    low, high = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    if codes.size and (codes.min() < low or codes.max() > high):
        raise ValueError(
            f"layer {spec['name']}: input codes span {codes.min()}..{codes.max()}, "
            f"outside the {width}-bit {'signed' if signed else 'unsigned'} range {low}..{high}"
        )
    r = min(r, n_resolutions(spec) - 1)
    run = _simulate_data_term if spec["kind"] == "data_term" else _simulate_mmac_dense
    out = run(spec, codes, r)
    return out, np.full(codes.shape[0], layer_cycles(spec, r), np.int64)


def check_chain(specs):
    """Raise ValueError unless each layer's output feeds the next one's input exactly (count, width, signedness)."""
    if not specs:
        raise ValueError("no layers to chain")
    for spec in specs:
        check_spec(spec)
    for before, after in zip(specs, specs[1:], strict=False):
        produced = (n_outputs(before), out_width(before), out_signed(before))
        expected = (n_inputs(after), in_width(after), in_signed(after))
        if produced != expected:
            raise ValueError(
                f"layer {before['name']} gives (values, width, signed) {produced}, but {after['name']} takes {expected}"
            )


def simulate_chain(specs, codes, r):
    """The layers one after another: (output codes of the last, cycles per sample of the whole chain)."""
    check_chain(specs)
    codes = np.asarray(codes, np.int64)
    cycles = np.zeros(codes.shape[0], np.int64)
    for spec in specs:
        codes, layer = simulate(spec, codes, r)
        cycles += layer
    return codes, cycles


def dense_spec(
    name,
    magnitudes,
    signs,
    bias,
    *,
    group_size,
    reuse,
    weight_bits,
    weight_budgets,
    mode,
    data_bits,
    data_budgets,
    weight_floors=None,
    data_signed=False,
    data_frac=0,
    acc_shift=0,
    encoding="naf",
):
    """A core description built from integer weights (magnitudes and signs, shape (n_in, n_out)) as the layers do.

    For tests and measurements before (and beside) the hls4ml layers' own ``core_spec()``: the same term table
    layout (docs/mmac_core.md), the group terms of the weights in ``encoding``, most significant first.
    """
    magnitudes = np.asarray(magnitudes, np.int64)
    n_in, n_out = magnitudes.shape
    spans = [(start, min(group_size, n_in - start)) for start in range(0, n_in, group_size)]
    n_groups = len(spans)
    max_terms = max(weight_budgets)
    index_bits, exponent_bits = bits_for(group_size - 1), bits_for(weight_bits)
    n_units = -(-n_out * n_groups // reuse)
    weight_floors = list(weight_floors or [0] * len(weight_budgets))
    table = np.zeros((reuse * max_terms, n_units), np.int64)
    held = np.zeros((len(weight_budgets), n_out * n_groups), np.int64)  # terms at or above each floor
    for o in range(n_out):
        for g, (start, size) in enumerate(spans):
            j, u = divmod(o * n_groups + g, n_units)
            kept = group_terms(magnitudes[start : start + size, o], encoding)[:max_terms]
            for t, (exp, digit, idx) in enumerate(kept):
                negative = (digit < 0) != (signs[start + idx, o] < 0)
                entry = idx | exp << index_bits | int(negative) << (index_bits + exponent_bits)
                table[j * max_terms + t, u] = entry | 1 << (index_bits + exponent_bits + 1)
            for r, floor in enumerate(weight_floors):
                held[r, o * n_groups + g] = sum(exp >= floor for exp, _, _ in kept)
    bias = [int(b) for b in bias]
    # Every term pair at its largest, from every input, plus the bias.
    bound = (int(np.abs(magnitudes).sum(axis=0).max(initial=0)) * 2 + 1) << (data_bits + acc_shift)
    acc_width = bits_for(bound + max((abs(b) for b in bias), default=0)) + 1
    return {
        "kind": "mmac_dense",
        "name": name,
        "n_in": n_in,
        "n_out": n_out,
        "group_size": group_size,
        "n_groups": n_groups,
        "group_bases": [start for start, _ in spans],
        "reuse": reuse,
        "n_units": n_units,
        "max_terms": max_terms,
        "table": table.tolist(),
        "index_bits": index_bits,
        "exponent_bits": exponent_bits,
        "mode": mode,
        "data_bits": data_bits,
        "data_signed": data_signed,
        "data_frac": data_frac,
        "max_data_terms": (data_bits + 2) // 2 if mode == "term_pair" else 1,
        "weight_budgets": list(weight_budgets),
        "weight_floors": weight_floors,
        "data_budgets": list(data_budgets),
        "group_terms": [min(k, int(held[r].max(initial=0))) for r, k in enumerate(weight_budgets)],
        "acc_width": acc_width,
        "acc_shift": acc_shift,
        "bias": bias,
        "out_frac": data_frac + acc_shift,
    }
