"""Term encodings and budgeted term selection (docs/algorithms.md#term-quantization), against independent
references.

Every encoding the library knows (``ENCODINGS``) goes through the generic checks; NAF is also checked for
minimality, HESE against its run rule (never longer than binary, not always minimal: 27 -> 4 terms).

The vectorised TensorFlow forms (``digit_planes``, ``keep_group_terms``, ``truncate_groups``, ``truncate_values``)
must agree exactly with the sequential Python forms (``encode_value``, ``group_terms``,
``truncate_groups_reference``), and both with the definitions written out here: NAF by brute force over
signed-digit vectors, and "keep the k most significant terms, ties to the lower index" as an order relation.
"""

import itertools
import re
from functools import cache

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mrfpga.training.term_encodings import (
    ENCODINGS,
    check_encoding,
    digit_masks,
    digit_planes,
    encode_value,
    group_terms,
    keep_group_terms,
    mask_bits,
    n_planes,
    truncate_groups,
    truncate_groups_reference,
    truncate_values,
    value_terms,
)

# Encodings whose digit strings are unique given their shape (binary digits; NAF's non-adjacency), so the kept
# digits of T_k(q) are exactly T_k(q)'s own encoding.
UNIQUE = ("binary", "naf")

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def n_terms(q, encoding):
    return sum(1 for d in encode_value(q, encoding) if d)


def top_terms_value(q, k, encoding):
    """Value of the k most significant terms of q (sequential definition)."""
    return sum(d << e for e, d in value_terms(q, encoding)[:k])


# ---------------------------------------------------------------------------
# Independent references for the minimum number of nonzero signed digits


def min_weight_brute_force(n_digits):
    """Minimum number of nonzeros over ALL vectors in {-1, 0, 1}^n_digits, indexed by their (non-negative) value."""
    digits = np.array(list(itertools.product((-1, 0, 1), repeat=n_digits)), dtype=np.int64)
    values = digits @ (np.int64(1) << np.arange(n_digits, dtype=np.int64))
    weights = np.count_nonzero(digits, axis=1)
    best = np.full(int(values.max()) + 1, np.iinfo(np.int64).max)
    keep = values >= 0
    np.minimum.at(best, values[keep], weights[keep])
    return best


@cache
def min_weight_dp(n):
    """Same minimum by dynamic programming over the last digit, with unbounded length."""
    if n == 0:
        return 0
    if n == 1:
        return 1
    if n % 2 == 0:
        return min_weight_dp(n // 2)
    return 1 + min(min_weight_dp((n - 1) // 2), min_weight_dp((n + 1) // 2))


def hese_by_runs(q):
    """HESE as the rule on runs of ones: a run over bits m..n (n > m) is 2^(n+1) - 2^m, a lone one stays."""
    bits = bin(q)[2:][::-1] if q else ""
    digits = [0] * (len(bits) + 1)
    for run in re.finditer("1+", bits):
        m, n = run.start(), run.end() - 1
        if m == n:
            digits[m] += 1
        else:
            digits[n + 1] += 1
            digits[m] -= 1
    while digits and digits[-1] == 0:
        digits.pop()
    return digits


def test_encodings_known():
    assert set(ENCODINGS) >= {"binary", "naf"}


def test_spec_example_27():
    assert encode_value(27, "binary") == [1, 1, 0, 1, 1]
    assert encode_value(27, "naf") == [-1, 0, -1, 0, 0, 1]  # 32 - 4 - 1
    assert n_terms(27, "binary") == 4
    assert n_terms(27, "naf") == 3
    if "hese" in ENCODINGS:
        assert n_terms(27, "hese") == 4  # 32 - 8 + 4 - 1: runs are not merged
    assert value_terms(27, "naf") == [(5, 1), (2, -1), (0, -1)]
    assert value_terms(27, "binary") == [(4, 1), (3, 1), (1, 1), (0, 1)]


def test_zero_has_no_terms():
    for encoding in ENCODINGS:
        assert encode_value(0, encoding) == []
        assert value_terms(0, encoding) == []


def test_naf_is_minimal_for_every_byte():
    brute = min_weight_brute_force(11)  # NAF of q < 256 needs at most 9 digits; 11 leaves room to spare
    for q in range(256):
        naf = n_terms(q, "naf")
        assert naf == brute[q] == min_weight_dp(q), q
        assert naf <= n_terms(q, "binary"), q


@pytest.mark.skipif("hese" not in ENCODINGS, reason="no HESE encoder")
def test_hese_follows_run_rule_and_sits_between_naf_and_binary():
    for q in range(4096):
        assert encode_value(q, "hese") == hese_by_runs(q), q
        assert n_terms(q, "naf") <= n_terms(q, "hese") <= n_terms(q, "binary"), q
    assert any(n_terms(q, "naf") < n_terms(q, "hese") for q in range(256))  # not always minimal
    assert any(n_terms(q, "hese") < n_terms(q, "binary") for q in range(256))


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_encode_value_reconstructs_and_has_its_shape(encoding):
    for q in range(4096):
        digits = encode_value(q, encoding)
        assert sum(d << p for p, d in enumerate(digits)) == q
        if q:
            assert digits[-1] == 1, q  # most significant digit is +1, no leading zeros
        assert len(digits) <= q.bit_length() + (encoding != "binary"), q
        assert set(digits) <= {-1, 0, 1}
        if encoding == "binary":
            assert digits == [int(c) for c in reversed(bin(q)[2:])][: q.bit_length()]
        if encoding == "naf":
            assert all(not (a and b) for a, b in zip(digits, digits[1:], strict=False)), (q, digits)


def test_naf_length_fits_n_planes():
    # The vectorised form has n_planes(bits) = bits + 1 planes; NAF of 2^bits - 1 (bits >= 2) uses all of them.
    for bits in range(1, 13):
        if bits >= 2:
            assert len(encode_value(2**bits - 1, "naf")) == bits + 1 == n_planes(bits)
        for encoding in ENCODINGS:
            assert max(len(encode_value(q, encoding)) for q in range(2**bits)) <= n_planes(bits)


def test_unknown_encoding_rejected():
    for bad in ("csd", "NAF", "", None):
        with pytest.raises(ValueError, match="unknown term encoding"):
            check_encoding(bad)
        with pytest.raises(ValueError, match="unknown term encoding"):
            encode_value(5, bad)
        with pytest.raises(ValueError, match="unknown term encoding"):
            digit_planes(tf.constant([5]), 4, bad)


# ---------------------------------------------------------------------------
# digit_planes (vectorised) == encode_value (sequential)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("bits", [1, 2, 5, 8, 12])
def test_digit_planes_match_encode_value(bits, encoding):
    q = np.arange(2**bits, dtype=np.int32)
    planes = digit_planes(q, bits, encoding).numpy()
    assert planes.shape == (2**bits, n_planes(bits))
    expected = np.zeros_like(planes)
    for v in range(2**bits):
        digits = encode_value(v, encoding)
        expected[v, : len(digits)] = digits
    np.testing.assert_array_equal(planes, expected)
    np.testing.assert_array_equal((planes << np.arange(n_planes(bits))).sum(axis=-1), q)  # the planes' value
    # Any leading shape is fine: planes are a trailing axis.
    if 2**bits % 4 == 0:
        np.testing.assert_array_equal(
            digit_planes(q.reshape(4, -1), bits, encoding).numpy(), planes.reshape(4, -1, n_planes(bits))
        )


# ---------------------------------------------------------------------------
# truncate_groups (vectorised) == truncate_groups_reference (sequential)


@st.composite
def grouped_arrays(draw):
    bits = draw(st.integers(1, 10))
    group_size = draw(st.sampled_from([1, 4, 8, 16]))
    fan_in = draw(st.integers(1, 40))
    out = draw(st.integers(1, 3))
    if draw(st.booleans()):
        shape = (fan_in, out)  # Dense kernel
    else:
        shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), fan_in, out)  # Conv2D kernel
    q = draw(hnp.arrays(np.int64, shape, elements=st.integers(0, 2**bits - 1)))
    budget = draw(st.integers(0, group_size * n_planes(bits) + 2))
    encoding = draw(st.sampled_from(ENCODINGS))
    return q, bits, budget, group_size, encoding


@FAST
@given(grouped_arrays())
def test_truncate_groups_matches_reference(case):
    q, bits, budget, group_size, encoding = case
    got = truncate_groups(q, bits, budget, group_size, encoding)
    assert got.dtype == tf.int32
    assert tuple(got.shape) == q.shape
    np.testing.assert_array_equal(got.numpy(), truncate_groups_reference(q, budget, group_size, encoding))


@pytest.mark.parametrize(
    "shape, group_size",
    [((20, 3), 16), ((5, 2), 4), ((17, 1), 8), ((3, 3, 12, 2), 8), ((2, 1, 7, 3), 4), ((33, 2), 16)],
)
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_truncate_groups_short_last_group(shape, group_size, encoding):
    """Fan-ins that are not a multiple of the group size, at every budget up to 'keep all'."""
    rng = np.random.default_rng(sum(shape) * 31 + group_size)
    q = rng.integers(0, 256, size=shape)
    for budget in range(0, 4 * group_size + 2, 3):
        got = truncate_groups(q, 8, tf.constant(budget), group_size, encoding).numpy()
        np.testing.assert_array_equal(got, truncate_groups_reference(q, budget, group_size, encoding))
    np.testing.assert_array_equal(truncate_groups(q, 8, 9 * group_size, group_size, encoding).numpy(), q)


@pytest.mark.parametrize("bits, group_size", [(16, 16), (15, 16), (12, 40), (6, 64)])
def test_truncate_groups_wide_groups_and_values(bits, group_size):
    """Per-plane counts are packed into int64 words: more planes than one word holds (16 bits), and groups
    whose counts need wider fields (40 and 64 members). The two digit masks share one int32 up to 15 bits
    (16 planes), and a group's waterline members are ranked in one int32 word up to 30 members, one int64
    word up to 62, by a cumulative sum beyond."""
    rng = np.random.default_rng(bits * 100 + group_size)
    q = rng.integers(0, 2**bits, size=(2 * group_size + 3, 2))
    for encoding in ENCODINGS:
        for budget in (1, group_size // 2, group_size * 3, group_size * n_planes(bits)):
            got = truncate_groups(q, bits, budget, group_size, encoding).numpy()
            np.testing.assert_array_equal(got, truncate_groups_reference(q, budget, group_size, encoding))


def test_short_last_group_is_its_own_group():
    q = np.ones((5, 1), dtype=np.int64)  # groups {0, 1, 2, 3} and {4}
    for encoding in ENCODINGS:
        np.testing.assert_array_equal(truncate_groups(q, 4, 1, 4, encoding).numpy()[:, 0], [1, 0, 0, 0, 1])
        np.testing.assert_array_equal(truncate_groups_reference(q, 1, 4, encoding)[:, 0], [1, 0, 0, 0, 1])


def test_conv_groups_run_along_input_channels():
    # Kernel (kh=1, kw=2, cin=3, cout=2): each (kernel position, filter) has its own group over cin.
    q = np.zeros((1, 2, 3, 2), dtype=np.int64)
    q[0, 0, :, 0] = [1, 2, 4]
    q[0, 1, :, 0] = [4, 2, 1]
    q[0, 0, :, 1] = [3, 3, 3]
    q[0, 1, :, 1] = [8, 0, 8]
    expected = np.zeros_like(q)
    expected[0, 0, :, 0] = [0, 2, 4]
    expected[0, 1, :, 0] = [4, 2, 0]
    expected[0, 0, :, 1] = [2, 2, 0]  # terms (1,0) (1,1) first: plane 1 beats plane 0
    expected[0, 1, :, 1] = [8, 0, 8]
    np.testing.assert_array_equal(truncate_groups(q, 4, 2, 3, "binary").numpy(), expected)
    np.testing.assert_array_equal(truncate_groups_reference(q, 2, 3, "binary"), expected)


# ---------------------------------------------------------------------------
# Selection rule, term sharing, budget accounting (per group)


def kept_term_set(group, bits, budget, encoding):
    """Terms kept by the vectorised selection, as a set of (exponent, sign, index)."""
    masks = digit_masks(np.asarray(group, dtype=np.int32), encoding)
    pos, neg = keep_group_terms(*masks, budget, n_planes(bits), group_axis=0)
    kept = (mask_bits(pos, n_planes(bits)) - mask_bits(neg, n_planes(bits))).numpy()
    return {(int(e), int(kept[i, e]), int(i)) for i, e in zip(*np.nonzero(kept), strict=True)}


@st.composite
def groups(draw, max_size=16):
    bits = draw(st.integers(1, 8))
    group = draw(st.lists(st.integers(0, 2**bits - 1), min_size=1, max_size=max_size))
    return group, bits, draw(st.sampled_from(ENCODINGS))


@settings(max_examples=40, deadline=None)
@given(groups())
def test_group_terms_order_and_content(case):
    group, _, encoding = case
    listed = group_terms(group, encoding)
    keys = [(-e, i) for e, _, i in listed]
    assert keys == sorted(keys)  # largest exponent first, lower index first on ties
    assert len(set(keys)) == len(keys)
    for i, q in enumerate(group):
        assert sum(d << e for e, d, j in listed if j == i) == q
        assert sum(1 for *_, j in listed if j == i) == n_terms(q, encoding)


@settings(max_examples=40, deadline=None)
@given(groups())
def test_term_sharing_and_selection_rule(case):
    group, bits, encoding = case
    listed = group_terms(group, encoding)
    total = len(listed)
    all_terms = set(listed)
    previous = set()
    for k in range(total + 3):
        kept = kept_term_set(group, bits, k, encoding)
        # Exactly the first k of the significance-ordered list: a prefix, hence nested in budget k + 1.
        assert kept == set(listed[:k])
        assert previous <= kept
        assert len(kept) == min(k, total)
        # The definition, stated as an order: every kept term beats every dropped term.
        for e_kept, _, i_kept in kept:
            for e_drop, _, i_drop in all_terms - kept:
                assert e_kept > e_drop or (e_kept == e_drop and i_kept < i_drop)
        previous = kept


@settings(max_examples=30, deadline=None)
@given(groups())
def test_budget_accounting_and_error_per_group(case):
    group, bits, encoding = case
    q = np.array(group, dtype=np.int64)[:, None]  # one Dense column = one group
    total = sum(n_terms(v, encoding) for v in group)
    prev_err = None
    for k in range(total + 3):
        t = truncate_groups(q, bits, k, len(group), encoding).numpy()[:, 0]
        kept_terms = sum(n_terms(int(v), encoding) for v in t)
        if encoding in UNIQUE:
            # Kept digits are a subset of q's digits (non-adjacent for NAF, so they are T_k(q)'s own NAF): their
            # count is the number of terms of T_k(q).
            assert kept_terms == min(k, total)
        else:
            assert kept_terms <= min(k, total)
        assert len(kept_term_set(group, bits, k, encoding)) == min(k, total)
        assert (t >= 0).all() and (t <= 2**bits).all()
        if encoding == "binary":
            assert (t <= q[:, 0]).all()
        if k >= total:
            np.testing.assert_array_equal(t, q[:, 0])  # a group with at most k terms is unchanged
        err = np.abs(q[:, 0] - t)
        if prev_err is not None:
            assert (err <= prev_err).all()  # per value, never worse with a larger budget
            if k <= total:
                assert err.sum() < prev_err.sum()  # and the group strictly better while terms remain
        prev_err = err


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_single_value_error_strictly_decreases(encoding):
    """Exhaustive over 0..1023: |q - T_k(q)| strictly decreases until every term is kept; error sign and bound."""
    for q in range(1024):
        listed = value_terms(q, encoding)
        errs = [q - top_terms_value(q, k, encoding) for k in range(len(listed) + 1)]
        assert errs[-1] == 0
        for k in range(len(listed)):
            assert abs(errs[k + 1]) < abs(errs[k]), (q, k, errs)
            e_next, d_next = listed[k]  # first dropped term at budget k
            assert abs(errs[k]) < 2 ** (e_next + 1)
            assert np.sign(errs[k]) == d_next  # the first dropped term decides the error's sign


def test_truncate_values_matches_sequential_top_terms():
    q = np.arange(512, dtype=np.int32)
    for encoding in ENCODINGS:
        for budget in range(0, 7):
            got = truncate_values(q, 9, budget, encoding).numpy()
            expected = [top_terms_value(int(v), budget, encoding) for v in q]
            np.testing.assert_array_equal(got, expected)


# ---------------------------------------------------------------------------
# Ties: within one exponent plane the lower index wins


def both_forms(group, bits, budget, encoding):
    q = np.array(group, dtype=np.int64)[:, None]
    vec = truncate_groups(q, bits, budget, len(group), encoding).numpy()[:, 0].tolist()
    ref = truncate_groups_reference(q, budget, len(group), encoding)[:, 0].tolist()
    assert vec == ref
    return vec


def test_ties_go_to_lower_index():
    assert both_forms([1, 1, 1], 2, 2, "binary") == [1, 1, 0]
    assert both_forms([1, 1, 1], 2, 2, "naf") == [1, 1, 0]
    # binary 3 = 2 + 1, 5 = 4 + 1: budget 2 keeps 4 (idx 1) and 2 (idx 0); budget 3 adds the tied 1 of idx 0.
    assert both_forms([3, 5], 3, 2, "binary") == [2, 4]
    assert both_forms([3, 5], 3, 3, "binary") == [3, 4]
    assert both_forms([5, 3], 3, 3, "binary") == [5, 2]
    # NAF 3 = 4 - 1: with [3, 1] the -1 of idx 0 wins plane 0; with [1, 3] the +1 of idx 0 wins.
    assert both_forms([3, 1], 2, 2, "naf") == [3, 0]
    assert both_forms([1, 3], 2, 2, "naf") == [1, 4]
    # A whole plane fits, then the budget runs out inside the next plane.
    # binary 6 = 4 + 2: plane 2 (three terms) fits a budget of 4, one term is left for plane 1.
    assert both_forms([6, 6, 6], 3, 4, "binary") == [6, 4, 4]


def test_tie_index_is_along_the_group_axis_not_the_output_axis():
    q = np.array([[4, 1], [1, 1], [1, 4]], dtype=np.int64)  # (fan_in=3, out=2), one group per column
    expected = [[4, 1], [1, 0], [0, 4]]
    for encoding in ENCODINGS:
        np.testing.assert_array_equal(truncate_groups(q, 3, 2, 3, encoding).numpy(), expected)
        np.testing.assert_array_equal(truncate_groups_reference(q, 2, 3, encoding), expected)
