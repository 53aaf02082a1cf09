"""Term encodings and budgeted term selection (docs/algorithms.md#term-quantization).

A *term* is one nonzero signed digit ``±2^e`` of an unsigned integer magnitude
``q``. Two forms of the selection live here and must agree exactly:

- the vectorised forms used inside TensorFlow graphs (training and Keras
  inference): ``keep_group_terms``, the "waterline" over the digit masks'
  planes, for groups (``truncate_groups``), and ``peel_terms``, top terms taken off one value at
  a time in value arithmetic, for single values (``truncate_values``);
- ``group_terms``: a plain sequential reference (largest exponent first, lower
  index on ties) used by the tests and by the HLS converter to build the term
  tables the mMAC reads.
"""

import numpy as np
import tensorflow as tf

ENCODINGS = ("binary", "naf", "hese")


def check_encoding(encoding):
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown term encoding {encoding!r}; known: {', '.join(ENCODINGS)}")


def n_planes(bits):
    """Digit positions needed for a ``bits``-bit magnitude (NAF may carry one more)."""
    return bits + 1


def digit_masks(q, encoding):
    """Signed digits of int32 ``q >= 0`` as two bit masks ``(pos, neg)``: bit p of ``pos`` (``neg``) is set where
    digit p is +1 (-1), so ``q == pos - neg``."""
    check_encoding(encoding)
    q = tf.cast(q, tf.int32)
    b = tf.bitwise
    if encoding == "binary":
        return q, tf.zeros_like(q)
    if encoding == "naf":
        # Non-adjacent form by bit arithmetic: x3 = x + x>>1, c = (x>>1) ^ x3.
        half = b.right_shift(q, 1)
        x3 = q + half
        carry = b.bitwise_xor(half, x3)
        return b.bitwise_and(x3, carry), b.bitwise_and(half, carry)
    # HESE: a run of two or more ones, bits m..n, becomes 2^(n+1) - 2^m; a lone one stays.
    run_start = b.bitwise_and(q, b.invert(b.left_shift(q, 1)))
    above_run = b.bitwise_and(b.invert(q), b.left_shift(q, 1))
    neg = b.bitwise_and(run_start, b.right_shift(q, 1))
    lone = b.bitwise_and(run_start, b.invert(b.right_shift(q, 1)))
    return b.bitwise_or(lone, b.bitwise_and(above_run, b.left_shift(q, 2))), neg


def mask_bits(mask, n):
    """Bits 0..n-1 of an int mask as a trailing axis of 0/1."""
    return tf.bitwise.bitwise_and(tf.bitwise.right_shift(mask[..., None], tf.range(n, dtype=mask.dtype)), 1)


def digit_planes(q, bits, encoding):
    """Signed digits of int32 ``q >= 0`` as a trailing axis of ``n_planes(bits)`` planes (plane p is 2^p)."""
    pos, neg = digit_masks(q, encoding)
    return mask_bits(pos, n_planes(bits)) - mask_bits(neg, n_planes(bits))


def exclusive_cumsum(x, axis, reverse=False):
    """``tf.cumsum(x, axis, exclusive=True, reverse=reverse)`` of small non-negative int counts, as a
    triangular matmul: XLA's cumsum on CPU is a slow reduce-window; float32 sums of counts are exact."""
    n = x.shape[axis]
    # counts[j, i] = 1 when x[j] adds to position i: j < i, or j > i in reverse.
    counts = np.tril(np.ones((n, n), np.float32), -1) if reverse else np.triu(np.ones((n, n), np.float32), 1)
    moved = tf.experimental.numpy.moveaxis(tf.cast(x, tf.float32), axis, -1)
    summed = tf.tensordot(moved, counts, axes=1)
    return tf.cast(tf.experimental.numpy.moveaxis(summed, -1, axis), x.dtype)


def members_before(flags, axis):
    """How many of the earlier members along ``axis`` have their boolean flag set (an exclusive count).

    Up to 62 members: the flagged members' bits are summed into one integer word per group, and each member
    counts the set bits below its own (a population count). Only that word is per group; the rest stays
    elementwise, so a compiled kernel fuses it, where a cumulative sum is a matmul over a copy of the flags."""
    axis %= len(flags.shape)
    n = int(flags.shape[axis])
    if n > 62:
        return exclusive_cumsum(tf.cast(flags, tf.int32), axis)
    dtype = tf.int32 if n <= 30 else tf.int64
    member_bits = tf.reshape(
        tf.bitwise.left_shift(tf.constant(1, dtype), tf.range(n, dtype=dtype)),
        [n if a == axis else 1 for a in range(len(flags.shape))],
    )
    word = tf.reduce_sum(tf.where(flags, member_bits, tf.constant(0, dtype)), axis, keepdims=True)
    below = tf.bitwise.bitwise_and(word, member_bits - 1)
    return tf.cast(tf.raw_ops.PopulationCount(x=below), tf.int32)


def plane_counts(terms, n_planes, group_axis):
    """Each plane's count of terms per group, planes on a new last axis (plane 0 first), from one sum per int64
    word: bit p of a member's term mask moves to its own field, wide enough for a whole group's count, so a sum
    over the members counts every plane of the word at once."""
    group_axis %= len(terms.shape)
    field = int(terms.shape[group_axis]).bit_length()
    per_word = 63 // field
    terms = tf.cast(terms, tf.int64)
    counts = []
    for first in range(0, n_planes, per_word):
        planes = tf.range(first, min(first + per_word, n_planes), dtype=tf.int64)
        bits = tf.bitwise.bitwise_and(tf.bitwise.right_shift(terms[..., None], planes), 1)
        word = tf.reduce_sum(tf.bitwise.left_shift(bits, field * (planes - first)), [group_axis, -1])
        fields = tf.bitwise.right_shift(tf.expand_dims(word, group_axis)[..., None], field * (planes - first))
        counts.append(tf.cast(tf.bitwise.bitwise_and(fields, 2**field - 1), tf.int32))
    return tf.concat(counts, -1)


def keep_group_terms(pos, neg, budget, n_planes, group_axis):
    """The digit masks of the ``budget`` most significant terms of each group (members along ``group_axis``);
    within a plane, earlier members win ties.

    A plane whose terms fit in the budget left by the planes above it is kept whole, and the first that does
    not is the group's waterline: only there are the members ranked, and the first ``left`` of them keep their
    digit. Only the per-group counts are per plane, so no value is expanded into planes.
    """
    terms = tf.bitwise.bitwise_or(pos, neg)
    counts = plane_counts(terms, n_planes, group_axis)  # the group axis 1 long, planes last
    left = tf.cast(budget, tf.int32) - exclusive_cumsum(counts, -1, reverse=True)  # budget left on reaching a plane
    fits = counts <= left
    crossing = tf.logical_and(tf.logical_not(fits), left > 0)
    powers = tf.bitwise.left_shift(1, tf.range(n_planes))
    whole_planes = tf.reduce_sum(tf.where(fits, powers, 0), -1)
    waterline = tf.reduce_sum(tf.where(crossing, powers, 0), -1)
    waterline_left = tf.reduce_sum(tf.where(crossing, left, 0), -1)
    at_waterline = tf.bitwise.bitwise_and(terms, waterline) != 0
    first = tf.logical_and(at_waterline, members_before(at_waterline, group_axis) < waterline_left)
    keep = tf.bitwise.bitwise_or(whole_planes, tf.where(first, waterline, 0))
    return tf.bitwise.bitwise_and(pos, keep), tf.bitwise.bitwise_and(neg, keep)


def truncate_groups(q, bits, budget, group_size, encoding):
    """Keep ``budget`` terms per group of ``group_size`` along axis -2 of int ``q``; returns int32 values.

    The fan-in is zero-padded to a multiple of the group size (zeros have no
    terms), so a short last group simply has fewer members. Axis -2 is split
    in place into (groups, members): no transpose.
    """
    q = tf.cast(q, tf.int32)
    shape = q.shape.as_list()
    fan_in = shape[-2]
    n_groups = -(-fan_in // group_size)
    pad = n_groups * group_size - fan_in
    if pad:
        q = tf.pad(q, [[0, 0]] * (len(shape) - 2) + [[0, pad], [0, 0]])
    grouped = tf.reshape(q, shape[:-2] + [n_groups, group_size, shape[-1]])
    pos, neg = digit_masks(grouped, encoding)
    if n_planes(bits) <= 16:
        # Both masks in one int32: a compiled kernel then keeps one array per kernel, not three (pos, neg, terms).
        packed = tf.bitwise.bitwise_or(pos, tf.bitwise.left_shift(neg, 16))
        pos = tf.bitwise.bitwise_and(packed, 0xFFFF)
        neg = tf.bitwise.bitwise_and(tf.bitwise.right_shift(packed, 16), 0xFFFF)  # an arithmetic shift
    pos, neg = keep_group_terms(pos, neg, budget, n_planes(bits), group_axis=-2)
    kept = tf.reshape(pos - neg, shape[:-2] + [n_groups * group_size, shape[-1]])
    return kept[..., :fan_in, :]


def highest_power(v):
    """``2^floor(log2 v)`` of every integer-valued float ``v > 0`` (0 for 0), exactly: the float with its
    mantissa bits cleared."""
    as_int = tf.int64 if v.dtype == tf.float64 else tf.int32
    exponent_mask = 0x7FF0000000000000 if v.dtype == tf.float64 else 0x7F800000
    return tf.bitcast(tf.bitwise.bitwise_and(tf.bitcast(v, as_int), tf.constant(exponent_mask, as_int)), v.dtype)


def top_term(r, encoding):
    """The most significant signed term of every integer-valued float ``r`` (0 for 0), in value arithmetic.

    The terms of ``r - top_term(r)`` are the remaining terms of ``r``, so peeling ``a`` times yields the
    ``a`` most significant terms without digit planes:

    - binary (``r >= 0``): the highest set bit;
    - NAF: a NAF led by ``±2^e`` lies in ``(2^(e+1)/3, 2^(e+2)/3)`` in magnitude, so ``e = floor(log2 3|r|) - 1``;
    - HESE: ``r > 0`` is led by its top bit ``2^n``, or by ``2^(n+1)`` when bit ``n-1`` is set too (a run of
      ones); the remainder of a run, ``-(2^m - low)`` with ``low < 2^(m-1)``, is led by ``-2^m``, the
      power of two at or above its magnitude.
    """
    check_encoding(encoding)
    if encoding == "binary":
        return highest_power(r)
    magnitude = tf.abs(r)
    if encoding == "naf":
        return tf.sign(r) * highest_power(3 * magnitude) * 0.5
    top = highest_power(r)  # 0 for r <= 0: the sign bit is not in the exponent mask, but r < 0 is masked below
    run_top = tf.where(r >= 1.5 * top, 2 * top, top)
    return tf.where(r > 0, run_top, -highest_power(tf.maximum(2 * magnitude - 1, 0)))


def peel_terms(q, budget, encoding, max_budget):
    """The ``budget`` most significant terms of every integer-valued float ``q >= 0``, as a float value.

    ``budget`` may be a tensor (a run-time resolution); then ``max_budget`` steps run and those at or above
    the budget subtract nothing.
    """
    rest = q
    for i in range(max_budget):
        term = top_term(rest, encoding)
        if isinstance(budget, (int, np.integer)):
            rest = rest - term
        else:
            rest = rest - term * tf.cast(i < budget, q.dtype)
    return q - rest


def max_terms(bits, encoding):
    """The most terms a ``bits``-bit magnitude has: NAF digits are never adjacent; HESE has at most two per run."""
    return -(-n_planes(bits) // 2) if encoding == "naf" else bits


def truncate_values(q, bits, budget, encoding, max_budget=None):
    """Keep the ``budget`` most significant terms of every value of int ``q`` (group size 1); returns int32.

    ``max_budget`` bounds a tensor ``budget`` (default: every term a ``bits``-bit value can have).
    """
    check_encoding(encoding)
    steps = max_terms(bits, encoding)
    if isinstance(budget, (int, np.integer)):
        steps = min(int(budget), steps)
    elif max_budget is not None:
        steps = min(int(max_budget), steps)
    kept = peel_terms(tf.cast(q, tf.float32), budget, encoding, max(steps, 0))
    return tf.cast(kept, tf.int32)


# ---------------------------------------------------------------------------
# Sequential reference (numpy / plain Python)


def hese_digits(q):
    """HESE as its two-state, right-to-left encoder: least significant digit first.

    State "out" (not in a run of ones): a one followed by a one opens a run
    with digit -1; a lone one is +1. State "in": ones emit 0; the first zero
    closes the run with +1. Runs are not merged with their neighbours, so
    the result is shorter than binary but not always minimal (27 -> 4 terms).
    """
    bits = [(q >> i) & 1 for i in range(q.bit_length() + 2)]
    digits, in_run = [], False
    for i, bit in enumerate(bits[:-1]):
        if in_run:
            digits.append(0 if bit else 1)
            in_run = bool(bit)
        elif bit and bits[i + 1]:
            digits.append(-1)
            in_run = True
        else:
            digits.append(bit)
    while digits and digits[-1] == 0:
        digits.pop()
    return digits


def encode_value(q, encoding):
    """Signed digits of one non-negative int, least significant first."""
    check_encoding(encoding)
    q = int(q)
    if encoding == "hese":
        return hese_digits(q)
    digits = []
    while q:
        if encoding == "binary" or q % 2 == 0:
            d = q % 2
        else:
            d = 2 - (q % 4)  # NAF: pick ±1 so the next digit is 0
        digits.append(d)
        q = (q - d) // 2
    return digits


def value_terms(q, encoding):
    """Terms of one value as (exponent, sign) pairs, most significant first."""
    return [(e, d) for e, d in reversed(list(enumerate(encode_value(q, encoding)))) if d]


def group_terms(group, encoding):
    """All terms of a group as (exponent, sign, index), in significance order (ties: lower index)."""
    terms = [(e, d, i) for i, q in enumerate(group) for e, d in value_terms(q, encoding)]
    return sorted(terms, key=lambda t: (-t[0], t[2]))


def truncate_groups_reference(q, budget, group_size, encoding):
    """Sequential counterpart of ``truncate_groups`` on a numpy int array (groups along axis -2)."""
    q = np.asarray(q, dtype=np.int64)
    moved = np.moveaxis(q, -2, -1)
    out = np.zeros_like(moved)
    for idx in np.ndindex(moved.shape[:-1]):
        row = moved[idx]
        for start in range(0, row.shape[0], group_size):
            for e, d, i in group_terms(row[start : start + group_size], encoding)[:budget]:
                out[idx + (start + i,)] += d << e
    return np.moveaxis(out, -1, -2)
