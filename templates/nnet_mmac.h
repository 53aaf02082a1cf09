// mrfpga: multi-resolution term MAC (mMAC) layers, SPEC sections 1 and 5.
//
// One design serves every resolution: the resolution index selects how many
// data terms (a) and weight terms per group (k) are used. Weight terms are
// stored per group, most significant first, so budget k reads a prefix.
// Products are shifts of powers of two: no multiplier touches data or weights.
#ifndef NNET_MMAC_H_
#define NNET_MMAC_H_

#include "ap_fixed.h"
#include "ap_int.h"
#include "hls_stream.h"
#include "nnet_common.h"
#include "nnet_types.h"
#ifndef __SYNTHESIS__
#include <vector>
#endif

namespace nnet {

#ifndef __SYNTHESIS__
// C simulation only: the cycles the schedules of the kit's layers take for the current sample.
inline unsigned long &csim_cycles() {
    static unsigned long cycles = 0;
    return cycles;
}
#define MRFPGA_COUNT_CYCLES(n) (nnet::csim_cycles() += (n))
// Per layer: the generated top calls MRFPGA_LAYER_DONE() after each kit layer, which records the cycles
// counted since the previous one (the testbench clears the list before each sample; at most
// csim_max_layers are kept, so hls4ml's predict, which never clears it, stays bounded).
static const unsigned csim_max_layers = 1024;
inline std::vector<unsigned long> &csim_layer_cycles() {
    static std::vector<unsigned long> cycles;
    return cycles;
}
inline unsigned long &csim_layer_mark() {
    static unsigned long mark = 0;
    return mark;
}
inline void csim_layer_done() {
    if (csim_layer_cycles().size() < csim_max_layers) {
        csim_layer_cycles().push_back(csim_cycles() - csim_layer_mark());
    }
    csim_layer_mark() = csim_cycles();
}
#define MRFPGA_LAYER_DONE() nnet::csim_layer_done()
#else
#define MRFPGA_COUNT_CYCLES(n)
#define MRFPGA_LAYER_DONE()
#endif

// ceil(log2(n)): the depth of an adder tree over n values.
constexpr unsigned ceil_log2(unsigned n, unsigned p = 0) { return (1u << p) >= n ? p : ceil_log2(n, p + 1); }
constexpr unsigned gcd_u(unsigned a, unsigned b) { return b == 0 ? a : gcd_u(b, a % b); }

enum term_encoding { binary_terms = 0, naf_terms = 1, hese_terms = 2 };

// Signed digits of x as +/- bit masks (the same bit arithmetic as the Python side).
template <unsigned BITS, unsigned ENCODING>
void signed_digits(ap_uint<BITS> x, ap_uint<BITS + 1> &pos, ap_uint<BITS + 1> &neg) {
    #pragma HLS INLINE
    ap_uint<BITS + 2> q = x;
    if (ENCODING == naf_terms) {
        ap_uint<BITS + 2> half = q >> 1;
        ap_uint<BITS + 2> x3 = q + half;
        ap_uint<BITS + 2> carry = half ^ x3;
        pos = (x3 & carry).range(BITS, 0);
        neg = (half & carry).range(BITS, 0);
    } else if (ENCODING == hese_terms) {
        // A run of two or more ones, bits m..n, becomes 2^(n+1) - 2^m; a lone one stays.
        ap_uint<BITS + 2> run_start = q & ~(q << 1);
        ap_uint<BITS + 2> above_run = ~q & (q << 1);
        ap_uint<BITS + 2> lone = run_start & ~(q >> 1);
        neg = (run_start & (q >> 1)).range(BITS, 0);
        pos = (lone | (above_run & (q << 2))).range(BITS, 0);
    } else {
        pos = q.range(BITS, 0);
        neg = 0;
    }
}

// Keep the `budget` most significant terms of `x`, as +/- bit masks.
template <unsigned BITS, unsigned ENCODING>
void top_terms(ap_uint<BITS> x, unsigned budget, ap_uint<BITS + 1> &pos, ap_uint<BITS + 1> &neg) {
    #pragma HLS INLINE
    ap_uint<BITS + 1> all_pos, all_neg;
    signed_digits<BITS, ENCODING>(x, all_pos, all_neg);
    pos = 0;
    neg = 0;
    unsigned kept = 0;
Planes:
    for (int p = BITS; p >= 0; p--) {
        #pragma HLS UNROLL
        if (kept < budget && (all_pos[p] || all_neg[p])) {
            pos[p] = all_pos[p];
            neg[p] = all_neg[p];
            kept++;
        }
    }
}

// ---------------------------------------------------------------------------
// Data terms: unsigned fixed point (round half up, saturate), then the `a`
// most significant terms of each value. Onion activations: round half to
// even, drop the code's low bits (its top bits are the lower precision),
// keep every term left.

struct data_term_config {
    static const unsigned n_in = 10;
    static const unsigned bits = 8;     // input grid width
    static const int integer = 3;  // integer bits of the input grid (a learned clip may make it negative)
    static const unsigned encoding = naf_terms;
    static const unsigned n_resolutions = 1;
    typedef ap_ufixed<bits, integer, AP_RND, AP_SAT> grid_t;
    static unsigned data_terms(unsigned resolution) { return bits + 1; }
    static unsigned dropped_bits(unsigned resolution) { return 0; }
};

// One value: on the grid, its low bits dropped (onion), its `budget` most significant terms kept.
template <class res_T, typename CONFIG_T, class data_T>
res_T data_term_value(const data_T &x, const unsigned budget, const unsigned dropped) {
    #pragma HLS INLINE
    typename CONFIG_T::grid_t on_grid = x;
    ap_uint<CONFIG_T::bits> code = on_grid.range(CONFIG_T::bits - 1, 0);
    code = (code >> dropped) << dropped;
    ap_uint<CONFIG_T::bits + 1> pos, neg;
    top_terms<CONFIG_T::bits, CONFIG_T::encoding>(code, budget, pos, neg);
    ap_uint<CONFIG_T::bits + 1> kept = pos - neg;
    res_T y = 0;
    y.range(CONFIG_T::bits, 0) = kept;
    return y;
}

// The per-value operation of a data-term layer at one resolution, as a policy object: the elementwise loops
// below (io_parallel and io_stream) serve the unsigned and the signed layer alike.
template <typename CONFIG_T> struct data_term_op {
    const unsigned budget, dropped;
    explicit data_term_op(unsigned resolution)
        : budget(CONFIG_T::data_terms(resolution)), dropped(CONFIG_T::dropped_bits(resolution)) {}
    template <class res_T, class data_T> res_T apply(const data_T &x) const {
        #pragma HLS INLINE
        return data_term_value<res_T, CONFIG_T>(x, budget, dropped);
    }
};

// Every value at once, in one pipelined stage.
template <class data_T, class res_T, unsigned N, class value_op>
void apply_to_values(const data_T data[N], res_T res[N], const value_op &op) {
    #pragma HLS INLINE
Values:
    for (unsigned i = 0; i < N; i++) {
        #pragma HLS UNROLL
        res[i] = op.template apply<res_T>(data[i]);
    }
    MRFPGA_COUNT_CYCLES(1);
}

template <class data_T, class res_T, typename CONFIG_T>
void data_terms(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in], const unsigned resolution) {
    #pragma HLS INLINE off
    #pragma HLS PIPELINE
    apply_to_values<data_T, res_T, CONFIG_T::n_in>(data, res, data_term_op<CONFIG_T>(resolution));
}

// ---------------------------------------------------------------------------
// mMAC Dense in lock step (docs/mmac_core.md). n_units term-serial units; unit u serves flat group
// f = round * n_units + u (f = output * n_groups + group) in each of reuse_factor rounds. One pipelined
// loop runs over the run-time number of steps, the units unrolled inside it, each predicated by a
// valid bit: no per-unit break, so every unit advances one step per cycle.
// Entry layout of the term table, least significant bit first:
// [index in group : index_bits][exponent : exponent_bits][negative : 1][valid : 1]
// Table layout: [round][term slot][unit], so that unit u reads partition u (its own ROM).

// term_pair: one (weight term, data term) pair per step; weight_term: one weight term per step, a shift
// of the whole input (a data-term input or any fixed-point input).
enum mmac_unit { term_pair_unit = 0, weight_term_unit = 1 };

struct mmac_dense_config {
    static const unsigned n_in = 10;
    static const unsigned n_out = 10;
    static const unsigned group_size = 16;
    static const unsigned n_groups = 1;
    static const unsigned max_weight_terms = 1;  // entries stored per group
    static const unsigned max_data_terms = 1;
    static const unsigned data_bits = 9;  // width of the input code
    static const unsigned unit = term_pair_unit;
    typedef ap_int<9> data_int_t;  // the input's raw code, signed or not
    static const unsigned index_bits = 4;
    static const unsigned exponent_bits = 4;
    static const unsigned acc_shift = 0;  // accumulator grid below the product grid
    static const unsigned reuse_factor = 1;
    // ceil(n_out * n_groups / reuse_factor); the io_stream Dense: ceil(n_out / reuse_factor) (units serve outputs)
    static const unsigned n_units = n_out * n_groups;
    static const unsigned n_resolutions = 1;
    typedef ap_uint<10> term_t;
    typedef ap_int<32> accum_t;
    typedef ap_int<32> bias_t;
    static unsigned weight_terms(unsigned resolution) { return max_weight_terms; }
    // Onion kernels: terms below this exponent are the code's dropped low bits.
    static unsigned weight_floor(unsigned resolution) { return 0; }
    static unsigned data_terms(unsigned resolution) { return max_data_terms; }
    // Term slots every group walks at this resolution: min(k, the fullest group's terms above the floor).
    static unsigned group_terms(unsigned resolution) { return max_weight_terms; }
    static unsigned group_base(unsigned group) { return group * group_size; }  // first input of a group
};


// Fixed stages of mmac_dense around its steps: load (inputs, data terms), the last step's accumulation,
// the output sum (bias + partials).
static const unsigned mmac_fixed_cycles = 3;

// An unsigned type that holds 0..N, no wider.
template <unsigned N> struct uint_upto {
    typedef ap_uint<(ceil_log2(N + 1) > 0 ? ceil_log2(N + 1) : 1)> type;
};

// What a lock-step unit does, shared by the io_parallel core and the streaming Dense: extract the data terms
// of the values it reads, and one unit's step (decode its entry, valid bit, product, accumulate).
template <typename CONFIG_T> struct mmac_core {
    typedef typename CONFIG_T::accum_t accum_t;
    static const bool term_pairs = CONFIG_T::unit == term_pair_unit;
    static const unsigned max_data = term_pairs ? CONFIG_T::max_data_terms : 1;
    typedef typename uint_upto<CONFIG_T::data_bits>::type exp_t; // a data term's exponent
    typedef typename uint_upto<max_data>::type count_t;          // data terms of a value

    // Each value's data terms, most significant first (exponent, sign). The data-term layer already kept `a`
    // terms of its own encoding; the NAF of that value is minimal, so it has at most `a` terms and sums exactly.
    template <unsigned N, class value_T>
    static void data_terms(const value_T values[N], const unsigned a, exp_t data_exp[N][max_data],
                           bool data_neg[N][max_data], count_t data_count[N]) {
        #pragma HLS INLINE
    DataTerms:
        for (unsigned i = 0; i < N; i++) {
            #pragma HLS UNROLL
            ap_uint<CONFIG_T::data_bits> code = values[i].range(CONFIG_T::data_bits - 1, 0);
            ap_uint<CONFIG_T::data_bits + 1> pos, neg;
            top_terms<CONFIG_T::data_bits, naf_terms>(code, a, pos, neg);
            for (unsigned n = 0; n < max_data; n++) {
                #pragma HLS UNROLL
                data_exp[i][n] = 0;
                data_neg[i][n] = false;
            }
            unsigned n = 0;
            for (int p = CONFIG_T::data_bits; p >= 0; p--) {
                #pragma HLS UNROLL
                if ((pos[p] || neg[p]) && n < max_data) {
                    data_exp[i][n] = p;
                    data_neg[i][n] = neg[p];
                    n++;
                }
            }
            data_count[i] = n;
        }
    }

    // One unit's step: its table entry against input i (index `base` + the entry's index) and data term d;
    // returns the accumulator plus the product when the step is valid. `live` is false on a step that walks
    // no term slot (the streaming Dense's one step per group when a resolution has none).
    template <unsigned N, class value_T>
    static accum_t step(const typename CONFIG_T::term_t entry, const unsigned w_floor, const unsigned base,
                        const unsigned d, const bool live, const value_T values[N],
                        const exp_t data_exp[N][max_data], const bool data_neg[N][max_data],
                        const count_t data_count[N], const accum_t acc) {
        #pragma HLS INLINE
        const unsigned idx = entry.range(CONFIG_T::index_bits - 1, 0);
        const unsigned w_exp = entry.range(CONFIG_T::index_bits + CONFIG_T::exponent_bits - 1, CONFIG_T::index_bits);
        bool negative = entry[CONFIG_T::index_bits + CONFIG_T::exponent_bits];
        bool valid = live && entry[CONFIG_T::index_bits + CONFIG_T::exponent_bits + 1] && w_exp >= w_floor;
        const unsigned i = base + idx;
        accum_t product;
        if (term_pairs) {
            valid = valid && d < data_count[i];
            negative = negative != data_neg[i][d];
            product = accum_t(1) << (w_exp + unsigned(data_exp[i][d]) + CONFIG_T::acc_shift);
        } else {
            typename CONFIG_T::data_int_t x;
            x.range() = values[i].range();
            product = accum_t(x) << (w_exp + CONFIG_T::acc_shift);
        }
        return valid ? accum_t(negative ? acc - product : acc + product) : acc;
    }
};

template <class data_T, class res_T, typename CONFIG_T>
void mmac_dense(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out],
                const typename CONFIG_T::term_t
                    terms[CONFIG_T::reuse_factor * CONFIG_T::max_weight_terms * CONFIG_T::n_units],
                const typename CONFIG_T::bias_t biases[CONFIG_T::n_out], const unsigned resolution) {
    #pragma HLS INLINE off
    #pragma HLS ARRAY_PARTITION variable = terms cyclic factor = CONFIG_T::n_units
    typedef mmac_core<CONFIG_T> core;
    typedef typename CONFIG_T::accum_t accum_t;
    static const unsigned max_data = core::max_data;
    const unsigned w_floor = CONFIG_T::weight_floor(resolution);
    const unsigned a = core::term_pairs ? CONFIG_T::data_terms(resolution) : 1;
    const unsigned slots = CONFIG_T::group_terms(resolution);

    // Load: each input's data terms.
    typename core::exp_t data_exp[CONFIG_T::n_in][max_data];
    bool data_neg[CONFIG_T::n_in][max_data];
    typename core::count_t data_count[CONFIG_T::n_in];
    #pragma HLS ARRAY_PARTITION variable = data_exp complete dim = 0
    #pragma HLS ARRAY_PARTITION variable = data_neg complete dim = 0
    #pragma HLS ARRAY_PARTITION variable = data_count complete dim = 0
    if (core::term_pairs) {
        core::template data_terms<CONFIG_T::n_in>(data, a, data_exp, data_neg, data_count);
    }

    accum_t acc[CONFIG_T::n_units];
    accum_t partial[CONFIG_T::reuse_factor][CONFIG_T::n_units];
    #pragma HLS ARRAY_PARTITION variable = acc complete
    #pragma HLS ARRAY_PARTITION variable = partial complete dim = 0
Clear:
    for (unsigned u = 0; u < CONFIG_T::n_units; u++) {
        #pragma HLS UNROLL
        acc[u] = 0;
        for (unsigned j = 0; j < CONFIG_T::reuse_factor; j++) {
            #pragma HLS UNROLL
            partial[j][u] = 0;
        }
    }

    const unsigned n_steps = CONFIG_T::reuse_factor * slots * a;
    unsigned round = 0, slot = 0, d = 0;
Steps:
    for (unsigned step = 0; step < n_steps; step++) {
        #pragma HLS PIPELINE II = 1
        #pragma HLS LOOP_TRIPCOUNT min = CONFIG_T::reuse_factor max = CONFIG_T::reuse_factor * CONFIG_T::max_weight_terms * max_data
        const bool round_ends = slot + 1 == slots && d + 1 == a;
    Units:
        for (unsigned u = 0; u < CONFIG_T::n_units; u++) {
            #pragma HLS UNROLL
            const typename CONFIG_T::term_t entry =
                terms[(round * CONFIG_T::max_weight_terms + slot) * CONFIG_T::n_units + u];
            // A unit always serves one group index when n_units is a multiple of n_groups.
            const unsigned group = CONFIG_T::n_units % CONFIG_T::n_groups == 0
                                       ? u % CONFIG_T::n_groups
                                       : (round * CONFIG_T::n_units + u) % CONFIG_T::n_groups;
            const accum_t sum = core::template step<CONFIG_T::n_in>(
                entry, w_floor, CONFIG_T::group_base(group), d, true, data, data_exp, data_neg, data_count, acc[u]);
            if (round_ends) {
                partial[round][u] = sum;
                acc[u] = 0;
            } else {
                acc[u] = sum;
            }
        }
        // The step counter (round, slot, d), d fastest: counters, not divisions.
        if (d + 1 < a) {
            d++;
        } else {
            d = 0;
            if (slot + 1 < slots) {
                slot++;
            } else {
                slot = 0;
                round++;
            }
        }
    }

Outputs:
    for (unsigned o = 0; o < CONFIG_T::n_out; o++) {
        #pragma HLS UNROLL
        accum_t total = biases[o];
        for (unsigned g = 0; g < CONFIG_T::n_groups; g++) {
            #pragma HLS UNROLL
            const unsigned f = o * CONFIG_T::n_groups + g;
            total += partial[f / CONFIG_T::n_units][f % CONFIG_T::n_units];
        }
        // The accumulator is an integer on the output's grid: copy its bits.
        res[o].range() = total.range(res_T::width - 1, 0);
    }
    MRFPGA_COUNT_CYCLES(n_steps + mmac_fixed_cycles);
}

// ---------------------------------------------------------------------------
// mMAC Conv2D (io_parallel, channels last): every output pixel is an mMAC
// Dense over its zero-padded input patch, flattened (filter row, filter
// column, channel); groups are channel runs at one kernel position.

// The geometry of the kit's convolutions (channels last, undilated).
struct conv2d_geometry {
    static const unsigned in_height = 8;
    static const unsigned in_width = 8;
    static const unsigned n_chan = 1;
    static const unsigned out_height = 6;
    static const unsigned out_width = 6;
    static const unsigned n_filt = 4;
    static const unsigned filt_height = 3;
    static const unsigned filt_width = 3;
    static const unsigned stride_height = 1;
    static const unsigned stride_width = 1;
    static const unsigned pad_top = 0;
    static const unsigned pad_left = 0;
};

// The zero-padded input patch of output pixel (oh, ow), flattened (filter row, filter column, channel)
// like the kernel, so a Dense over the patch computes the pixel.
template <class data_T, typename CONFIG_T>
void gather_patch(const data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
                  data_T patch[CONFIG_T::filt_height * CONFIG_T::filt_width * CONFIG_T::n_chan], unsigned oh,
                  unsigned ow) {
    #pragma HLS INLINE
Patch:
    for (unsigned fh = 0; fh < CONFIG_T::filt_height; fh++) {
        for (unsigned fw = 0; fw < CONFIG_T::filt_width; fw++) {
            const int ih = int(oh * CONFIG_T::stride_height + fh) - int(CONFIG_T::pad_top);
            const int iw = int(ow * CONFIG_T::stride_width + fw) - int(CONFIG_T::pad_left);
            const bool inside = ih >= 0 && ih < int(CONFIG_T::in_height) && iw >= 0 && iw < int(CONFIG_T::in_width);
            for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
                #pragma HLS UNROLL
                patch[(fh * CONFIG_T::filt_width + fw) * CONFIG_T::n_chan + c] =
                    inside ? data[(ih * CONFIG_T::in_width + iw) * CONFIG_T::n_chan + c] : data_T(0);
            }
        }
    }
}

struct mmac_conv2d_config : conv2d_geometry {
    typedef mmac_dense_config dense_config;
};

template <class data_T, class res_T, typename CONFIG_T>
void mmac_conv2d(const data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
                 res_T res[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt],
                 const typename CONFIG_T::dense_config::term_t terms[CONFIG_T::dense_config::reuse_factor *
                                                                     CONFIG_T::dense_config::max_weight_terms *
                                                                     CONFIG_T::dense_config::n_units],
                 const typename CONFIG_T::dense_config::bias_t biases[CONFIG_T::n_filt], const unsigned resolution) {
    #pragma HLS INLINE off
    const unsigned patch_size = CONFIG_T::filt_height * CONFIG_T::filt_width * CONFIG_T::n_chan;
Pixels:
    for (unsigned oh = 0; oh < CONFIG_T::out_height; oh++) {
        for (unsigned ow = 0; ow < CONFIG_T::out_width; ow++) {
            data_T patch[patch_size];
            #pragma HLS ARRAY_PARTITION variable = patch complete
            gather_patch<data_T, CONFIG_T>(data, patch, oh, ow);
            res_T pixel[CONFIG_T::n_filt];
            #pragma HLS ARRAY_PARTITION variable = pixel complete
            mmac_dense<data_T, res_T, typename CONFIG_T::dense_config>(patch, pixel, terms, biases, resolution);
            for (unsigned f = 0; f < CONFIG_T::n_filt; f++) {
                #pragma HLS UNROLL
                res[(oh * CONFIG_T::out_width + ow) * CONFIG_T::n_filt + f] = pixel[f];
            }
        }
    }
}

// ---------------------------------------------------------------------------
// A meta model's switchable batch normalization, folded per resolution:
// y = x * scale[r][c] + shift[r][c] on integer codes, exactly (multipliers).

struct scale_shift_config {
    static const unsigned n_in = 10;
    static const unsigned n_chan = 10;
    static const unsigned n_resolutions = 1;
    static const unsigned scale_up = 0;  // shifts aligning the product and the shift on the output grid
    static const unsigned shift_up = 0;
    typedef ap_int<16> data_int_t;
    typedef ap_int<17> scale_t;
    typedef ap_int<17> shift_t;
    typedef ap_int<40> accum_t;
};

// One value of channel c at resolution r: x * scale + shift on the output grid, exactly.
template <class res_T, typename CONFIG_T, class data_T>
res_T scale_shift_value(const data_T &x_value, const typename CONFIG_T::scale_t scale,
                        const typename CONFIG_T::shift_t shift) {
    #pragma HLS INLINE
    typename CONFIG_T::data_int_t x;
    x.range() = x_value.range();
    typename CONFIG_T::accum_t y = typename CONFIG_T::accum_t(x) * scale;
    y = (y << CONFIG_T::scale_up) + (typename CONFIG_T::accum_t(shift) << CONFIG_T::shift_up);
    res_T out;
    out.range() = y.range(res_T::width - 1, 0);
    return out;
}

template <class data_T, class res_T, typename CONFIG_T>
void switchable_scale_shift(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in],
                            const typename CONFIG_T::scale_t scales[CONFIG_T::n_resolutions * CONFIG_T::n_chan],
                            const typename CONFIG_T::shift_t shifts[CONFIG_T::n_resolutions * CONFIG_T::n_chan],
                            const unsigned resolution) {
    #pragma HLS INLINE off
    #pragma HLS PIPELINE
    const unsigned r = resolution < CONFIG_T::n_resolutions ? resolution : CONFIG_T::n_resolutions - 1;
Values:
    for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
        #pragma HLS UNROLL
        const unsigned c = i % CONFIG_T::n_chan;
        res[i] = scale_shift_value<res_T, CONFIG_T>(data[i], scales[r * CONFIG_T::n_chan + c],
                                                    shifts[r * CONFIG_T::n_chan + c]);
    }
    MRFPGA_COUNT_CYCLES(1);
}

// ---------------------------------------------------------------------------
// Signed inputs (a network's first layer): sign and magnitude. The magnitude
// goes on the unsigned grid (round half up, saturate: half away from zero on
// the value), keeps its `a` most significant terms, and the sign comes back.

template <class res_T, typename CONFIG_T, class data_T>
res_T signed_data_term_value(const data_T &x, const unsigned budget) {
    #pragma HLS INLINE
    const bool negative = x < 0;
    // One more integer bit: the magnitude of the most negative input fits.
    ap_fixed<data_T::width + 1, data_T::iwidth + 1> magnitude = x;
    if (negative)
        magnitude = -magnitude;
    typename CONFIG_T::grid_t on_grid = magnitude;
    ap_uint<CONFIG_T::bits> code = on_grid.range(CONFIG_T::bits - 1, 0);
    ap_uint<CONFIG_T::bits + 1> pos, neg;
    top_terms<CONFIG_T::bits, CONFIG_T::encoding>(code, budget, pos, neg);
    ap_int<CONFIG_T::bits + 2> kept = ap_uint<CONFIG_T::bits + 1>(pos - neg);
    if (negative)
        kept = -kept;
    res_T y = 0;
    y.range(CONFIG_T::bits + 1, 0) = kept.range(CONFIG_T::bits + 1, 0);
    return y;
}

template <typename CONFIG_T> struct signed_data_term_op {
    const unsigned budget;
    explicit signed_data_term_op(unsigned resolution) : budget(CONFIG_T::data_terms(resolution)) {}
    template <class res_T, class data_T> res_T apply(const data_T &x) const {
        #pragma HLS INLINE
        return signed_data_term_value<res_T, CONFIG_T>(x, budget);
    }
};

template <class data_T, class res_T, typename CONFIG_T>
void signed_data_terms(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in], const unsigned resolution) {
    #pragma HLS INLINE off
    #pragma HLS PIPELINE
    apply_to_values<data_T, res_T, CONFIG_T::n_in>(data, res, signed_data_term_op<CONFIG_T>(resolution));
}

// ---------------------------------------------------------------------------
// io_stream (channels last): a stream word ("pack") holds data_T::size values, the channels of one pixel for
// an image, the whole vector for a Dense's input. The elementwise layers work pack by pack (one pixel per
// cycle, the pack's values unrolled: one data-term unit or BN multiplier per channel, shared by all
// pixels); the convolution keeps a line buffer and computes each output pixel with the lock-step core of
// mmac_dense over its window; the Dense cuts its input words into term groups and accumulates group by group
// (the row-wise Dense reads its whole input vector, which it needs at once).
// The resolution is a scalar every layer reads.

// Cycles of a pipelined pack-by-pack loop: one pack per cycle, plus its one registered stage.
static const unsigned pack_loop_fill_cycles = 1;

// Pack by pack: one pack per cycle, its values unrolled (one data-term unit per value of a pack).
template <class data_T, class res_T, unsigned N, class value_op>
void apply_to_packs(hls::stream<data_T> &data, hls::stream<res_T> &res, const value_op &op) {
    #pragma HLS INLINE
    static_assert(res_T::size == data_T::size, "data terms keep the stream's packing");
    static const unsigned n_packs = N / data_T::size;
Packs:
    for (unsigned p = 0; p < n_packs; p++) {
        #pragma HLS PIPELINE II = 1
        const data_T in = data.read();
        res_T out;
        PRAGMA_DATA_PACK(out)
        for (unsigned j = 0; j < data_T::size; j++) {
            #pragma HLS UNROLL
            out[j] = op.template apply<typename res_T::value_type>(in[j]);
        }
        res.write(out);
    }
    MRFPGA_COUNT_CYCLES(n_packs + pack_loop_fill_cycles);
}

template <class data_T, class res_T, typename CONFIG_T>
void data_terms(hls::stream<data_T> &data, hls::stream<res_T> &res, const unsigned resolution) {
    #pragma HLS INLINE off
    apply_to_packs<data_T, res_T, CONFIG_T::n_in>(data, res, data_term_op<CONFIG_T>(resolution));
}

template <class data_T, class res_T, typename CONFIG_T>
void signed_data_terms(hls::stream<data_T> &data, hls::stream<res_T> &res, const unsigned resolution) {
    #pragma HLS INLINE off
    apply_to_packs<data_T, res_T, CONFIG_T::n_in>(data, res, signed_data_term_op<CONFIG_T>(resolution));
}

// Switchable BN pack by pack: value j of a pack has channel j (a pack is one pixel's channels), so the
// unrolled pack has one multiplier per channel, shared by every pixel of the frame.
template <class data_T, class res_T, typename CONFIG_T>
void switchable_scale_shift(hls::stream<data_T> &data, hls::stream<res_T> &res,
                            const typename CONFIG_T::scale_t scales[CONFIG_T::n_resolutions * CONFIG_T::n_chan],
                            const typename CONFIG_T::shift_t shifts[CONFIG_T::n_resolutions * CONFIG_T::n_chan],
                            const unsigned resolution) {
    #pragma HLS INLINE off
    static_assert(res_T::size == data_T::size, "the batch norm keeps the stream's packing");
    static_assert(data_T::size % CONFIG_T::n_chan == 0, "a pack holds whole pixels");
    static const unsigned n_packs = CONFIG_T::n_in / data_T::size;
    const unsigned r = resolution < CONFIG_T::n_resolutions ? resolution : CONFIG_T::n_resolutions - 1;
    // This resolution's scales and shifts, read once per frame into registers.
    typename CONFIG_T::scale_t scale[CONFIG_T::n_chan];
    typename CONFIG_T::shift_t shift[CONFIG_T::n_chan];
    #pragma HLS ARRAY_PARTITION variable = scale complete
    #pragma HLS ARRAY_PARTITION variable = shift complete
ScaleShiftLoad:
    for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
        #pragma HLS UNROLL
        scale[c] = scales[r * CONFIG_T::n_chan + c];
        shift[c] = shifts[r * CONFIG_T::n_chan + c];
    }
ScaleShiftPacks:
    for (unsigned p = 0; p < n_packs; p++) {
        #pragma HLS PIPELINE II = 1
        const data_T in = data.read();
        res_T out;
        PRAGMA_DATA_PACK(out)
        for (unsigned j = 0; j < data_T::size; j++) {
            #pragma HLS UNROLL
            const unsigned c = j % CONFIG_T::n_chan;
            out[j] = scale_shift_value<typename res_T::value_type, CONFIG_T>(in[j], scale[c], shift[c]);
        }
        res.write(out);
    }
    MRFPGA_COUNT_CYCLES(n_packs + pack_loop_fill_cycles);
}

// A layer that needs its whole input vector at once (the row-wise Dense) reads it pack by pack; the mMAC layers
// write their outputs pack by pack.
template <class pack_T, unsigned N> void read_all(hls::stream<pack_T> &in, typename pack_T::value_type out[N]) {
    #pragma HLS INLINE
ReadPacks:
    for (unsigned i = 0; i < N / pack_T::size; i++) {
        #pragma HLS PIPELINE II = 1
        pack_T pack = in.read();
        for (unsigned j = 0; j < pack_T::size; j++) {
            #pragma HLS UNROLL
            out[i * pack_T::size + j] = pack[j];
        }
    }
    MRFPGA_COUNT_CYCLES(N / pack_T::size);
}

template <class pack_T, unsigned N> void write_all(const typename pack_T::value_type in[N], hls::stream<pack_T> &out) {
    #pragma HLS INLINE
WritePacks:
    for (unsigned i = 0; i < N / pack_T::size; i++) {
        #pragma HLS PIPELINE II = 1
        pack_T pack;
        PRAGMA_DATA_PACK(pack)
        for (unsigned j = 0; j < pack_T::size; j++) {
            #pragma HLS UNROLL
            pack[j] = in[i * pack_T::size + j];
        }
        out.write(pack);
    }
    MRFPGA_COUNT_CYCLES(N / pack_T::size);
}

// The streaming mMAC Dense (docs/mmac_core.md): two processes in DATAFLOW, joined by a FIFO of term groups.
// - dense_groups reads the input stream word by word and cuts it into term groups (group_size consecutive
//   values; the last group may be short, a group may straddle words): the last window_words words wait in a
//   register window, and each group is a fixed slice of it chosen by the group's phase (the group index modulo
//   the period after which group and word boundaries line up again), so each value of a group is a small
//   multiplexer, not a shifter. One loop pipelined at II = 1: per iteration at most one word read, at most one
//   group written.
// - dense_group_steps takes the groups one after another. Its units each serve one output per round (unit u
//   serves output round * n_units + u), so a unit accumulates its outputs over the groups: no per-group
//   partial sums, no adder tree over groups. Per group it extracts the data terms of that group's values only
//   and walks (round, term slot, data term) in lock step with the io_parallel core's step (mmac_core::step);
//   unit u reads its own ROM partition, [group][round][slot].
template <typename CONFIG_T, unsigned P> struct dense_stream_geometry {
    static const unsigned group_size = CONFIG_T::group_size;
    static const unsigned n_packs = CONFIG_T::n_in / P;
    static const unsigned window_words = (group_size - 1 + P - 1) / P + 1; // the most words a group touches
    static const unsigned window_size = window_words * P + group_size - 1;   // + the short last group's tail
    static const unsigned period = P / gcd_u(P, group_size);                 // groups until the phases repeat
    static const unsigned n_phases = MIN(period, CONFIG_T::n_groups);
    // Where group g's first value sits in the window right after its last word arrived, for g % period = k.
    static constexpr unsigned position(unsigned k) {
        return k * group_size + window_words * P - ((k * group_size + group_size - 1) / P + 1) * P;
    }
    // The last group, after the last word (differs from its phase's position when the group is short).
    static const unsigned last_position = (CONFIG_T::n_groups - 1) * group_size + window_words * P - n_packs * P;
    static const unsigned group_fifo_depth = 2;
};

template <class data_T, typename CONFIG_T>
void dense_groups(hls::stream<data_T> &data,
                  hls::stream<nnet::array<typename data_T::value_type, CONFIG_T::group_size>> &groups) {
    #pragma HLS INLINE off
    typedef typename data_T::value_type value_t;
    typedef dense_stream_geometry<CONFIG_T, data_T::size> geometry;
    static const unsigned P = data_T::size, G = CONFIG_T::group_size;
    static_assert(CONFIG_T::n_in % P == 0, "the input is whole stream words");

    value_t window[geometry::window_size];
    #pragma HLS ARRAY_PARTITION variable = window complete
    for (unsigned i = 0; i < geometry::window_size; i++) {
        #pragma HLS UNROLL
        window[i] = 0;
    }
    typename uint_upto<CONFIG_T::n_in>::type have = 0;     // values read so far
    typename uint_upto<CONFIG_T::n_groups * G>::type group_end = G; // one past the next group's last value
    typename uint_upto<CONFIG_T::n_groups>::type g = 0;
    typename uint_upto<geometry::period>::type phase = 0;
Groups:
    for (; g < CONFIG_T::n_groups;) {
        #pragma HLS PIPELINE II = 1
        #pragma HLS LOOP_TRIPCOUNT min = CONFIG_T::n_groups max = CONFIG_T::n_groups + geometry::n_packs
        const unsigned end = MIN(unsigned(group_end), CONFIG_T::n_in);
        if (have < end) { // the next group needs another word: shift it into the window
            const data_T word = data.read();
            for (unsigned i = 0; i < geometry::window_words * P; i++) {
                #pragma HLS UNROLL
                window[i] = i + P < geometry::window_words * P ? window[i + P] : value_t(word[i + P - geometry::window_words * P]);
            }
            have += P;
        }
        if (have >= end) { // complete: its values are a fixed slice of the window per phase
            const bool last = g + 1 == CONFIG_T::n_groups;
            nnet::array<value_t, G> group;
            PRAGMA_DATA_PACK(group)
            for (unsigned i = 0; i < G; i++) {
                #pragma HLS UNROLL
                value_t v = window[geometry::last_position + i];
                for (unsigned k = 0; k < geometry::n_phases; k++) {
                    #pragma HLS UNROLL
                    if (!last && phase == k) {
                        v = window[geometry::position(k) + i];
                    }
                }
                group[i] = v;
            }
            groups.write(group);
            g++;
            group_end += G;
            phase = phase + 1 == geometry::period ? 0 : unsigned(phase + 1);
        }
        MRFPGA_COUNT_CYCLES(1);
    }
    MRFPGA_COUNT_CYCLES(pack_loop_fill_cycles);
}

template <class value_T, class res_T, typename CONFIG_T>
void dense_group_steps(hls::stream<nnet::array<value_T, CONFIG_T::group_size>> &groups, hls::stream<res_T> &res,
                       const typename CONFIG_T::term_t terms[CONFIG_T::n_groups * CONFIG_T::reuse_factor *
                                                             CONFIG_T::max_weight_terms * CONFIG_T::n_units],
                       const typename CONFIG_T::bias_t biases[CONFIG_T::n_out], const unsigned resolution) {
    #pragma HLS INLINE off
    #pragma HLS ARRAY_PARTITION variable = terms cyclic factor = CONFIG_T::n_units
    typedef mmac_core<CONFIG_T> core;
    typedef typename CONFIG_T::accum_t accum_t;
    static const unsigned G = CONFIG_T::group_size, R = CONFIG_T::reuse_factor, U = CONFIG_T::n_units;
    static const unsigned max_data = core::max_data;
    const unsigned w_floor = CONFIG_T::weight_floor(resolution);
    const typename uint_upto<max_data>::type a = core::term_pairs ? CONFIG_T::data_terms(resolution) : 1;
    const typename uint_upto<CONFIG_T::max_weight_terms>::type slots = CONFIG_T::group_terms(resolution);
    // Steps per group: R * slots * a, at least one (a resolution without term slots still takes each group).
    const bool live = slots != 0 && a != 0;
    typedef typename uint_upto<CONFIG_T::n_groups * R * CONFIG_T::max_weight_terms * max_data>::type step_t;
    const step_t n_steps = CONFIG_T::n_groups * (live ? unsigned(R * slots * a) : 1u);

    // The current group's values and their data terms.
    value_T values[G];
    typename core::exp_t data_exp[G][max_data];
    bool data_neg[G][max_data];
    typename core::count_t data_count[G];
    #pragma HLS ARRAY_PARTITION variable = values complete
    #pragma HLS ARRAY_PARTITION variable = data_exp complete dim = 0
    #pragma HLS ARRAY_PARTITION variable = data_neg complete dim = 0
    #pragma HLS ARRAY_PARTITION variable = data_count complete dim = 0
    // acc[round][u]: output round * U + u, summed over the groups.
    accum_t acc[R][U];
    #pragma HLS ARRAY_PARTITION variable = acc complete dim = 0
Clear:
    for (unsigned j = 0; j < R; j++) {
        #pragma HLS UNROLL
        for (unsigned u = 0; u < U; u++) {
            #pragma HLS UNROLL
            acc[j][u] = 0;
        }
    }

    typename uint_upto<CONFIG_T::n_groups>::type group = 0;
    typename uint_upto<R>::type round = 0;
    typename uint_upto<CONFIG_T::max_weight_terms>::type slot = 0;
    typename uint_upto<max_data>::type d = 0;
Steps:
    for (step_t step = 0; step < n_steps; step++) {
        #pragma HLS PIPELINE II = 1
        #pragma HLS LOOP_TRIPCOUNT min = CONFIG_T::n_groups max = CONFIG_T::n_groups * R * CONFIG_T::max_weight_terms * max_data
        if (round == 0 && slot == 0 && d == 0) { // a group's first step: load it, extract its data terms
            const nnet::array<value_T, G> in = groups.read();
            for (unsigned i = 0; i < G; i++) {
                #pragma HLS UNROLL
                values[i] = in[i];
            }
            if (core::term_pairs) {
                core::template data_terms<G>(values, a, data_exp, data_neg, data_count);
            }
        }
    Units:
        for (unsigned u = 0; u < U; u++) {
            #pragma HLS UNROLL
            const typename CONFIG_T::term_t entry =
                terms[((group * R + round) * CONFIG_T::max_weight_terms + slot) * U + u];
            acc[round][u] = core::template step<G>(entry, w_floor, 0, d, live, values, data_exp, data_neg, data_count,
                                                   acc[round][u]);
        }
        // The step counter (group, round, slot, d), d fastest: counters, not divisions.
        if (live && d + 1 < a) {
            d++;
        } else {
            d = 0;
            if (live && slot + 1 < slots) {
                slot++;
            } else {
                slot = 0;
                if (live && round + 1 < R) {
                    round++;
                } else {
                    round = 0;
                    group++;
                }
            }
        }
    }

    // The output sums: bias + the output's accumulator (the accumulator is an integer on the output's grid).
    typename res_T::value_type out[CONFIG_T::n_out];
    #pragma HLS ARRAY_PARTITION variable = out complete
Outputs:
    for (unsigned o = 0; o < CONFIG_T::n_out; o++) {
        #pragma HLS UNROLL
        const accum_t total = accum_t(biases[o]) + acc[o / U][o % U];
        out[o].range() = total.range(res_T::value_type::width - 1, 0);
    }
    MRFPGA_COUNT_CYCLES(n_steps + mmac_fixed_cycles);
    write_all<res_T, CONFIG_T::n_out>(out, res);
}

template <class data_T, class res_T, typename CONFIG_T>
void mmac_dense(hls::stream<data_T> &data, hls::stream<res_T> &res,
                const typename CONFIG_T::term_t terms[CONFIG_T::n_groups * CONFIG_T::reuse_factor *
                                                      CONFIG_T::max_weight_terms * CONFIG_T::n_units],
                const typename CONFIG_T::bias_t biases[CONFIG_T::n_out], const unsigned resolution) {
    #pragma HLS INLINE off
    #pragma HLS DATAFLOW
    typedef dense_stream_geometry<CONFIG_T, data_T::size> geometry;
    hls::stream<nnet::array<typename data_T::value_type, CONFIG_T::group_size>> groups("groups");
    #pragma HLS STREAM variable = groups depth = geometry::group_fifo_depth
    dense_groups<data_T, CONFIG_T>(data, groups);
    dense_group_steps<typename data_T::value_type, res_T, CONFIG_T>(groups, res, terms, biases, resolution);
}

// The streaming convolution is two processes in DATAFLOW, joined by a FIFO of windows:
// - conv_windows walks the zero-padded input, one position per cycle (a loop pipelined at II = 1), in raster
//   order: a position inside the image reads one pack (one pixel's channels), a padding position is zeros.
//   The last filt_height - 1 padded rows wait in line buffers (one RAM word of n_chan values per column and
//   row); the window (filt_height x filt_width x n_chan registers, flattened like the kernel) shifts left by
//   one column and takes the new column: the line buffers' values above the new pixel, and the pixel. When
//   the window is an output pixel's patch, a copy of it goes into the FIFO.
// - conv_pixels takes the windows one after another and computes each output pixel with mmac_dense over it
//   (the same lock-step core as a Dense, no copy of it); the pixel's filters go out as one pack.
// So the line buffer reads the next pixels while the core computes, and no frame is held anywhere.
template <typename CONFIG_T> struct conv2d_stream_geometry {
    // The padded extent the windows and the input cover (the bottom/right padding follows from the output
    // size; rows and columns no window reaches are still read).
    static const unsigned window_height = (CONFIG_T::out_height - 1) * CONFIG_T::stride_height + CONFIG_T::filt_height;
    static const unsigned window_width = (CONFIG_T::out_width - 1) * CONFIG_T::stride_width + CONFIG_T::filt_width;
    static const unsigned padded_height = MAX(CONFIG_T::pad_top + CONFIG_T::in_height, window_height);
    static const unsigned padded_width = MAX(CONFIG_T::pad_left + CONFIG_T::in_width, window_width);
    static const unsigned line_rows = MAX(CONFIG_T::filt_height - 1, 1);
    static const unsigned patch_size = CONFIG_T::filt_height * CONFIG_T::filt_width * CONFIG_T::n_chan;
    static const unsigned window_fifo_depth = 2;
};

template <class data_T, typename CONFIG_T>
void conv_windows(hls::stream<data_T> &data,
                  hls::stream<nnet::array<typename data_T::value_type, conv2d_stream_geometry<CONFIG_T>::patch_size>>
                      &windows) {
    #pragma HLS INLINE off
    typedef typename data_T::value_type value_t;
    typedef conv2d_stream_geometry<CONFIG_T> geometry;
    static const unsigned fh = CONFIG_T::filt_height, fw = CONFIG_T::filt_width, n_chan = CONFIG_T::n_chan;

    value_t line[geometry::line_rows][geometry::padded_width][n_chan];
    #pragma HLS ARRAY_PARTITION variable = line complete dim = 1
    #pragma HLS ARRAY_RESHAPE variable = line complete dim = 3
    value_t window[geometry::patch_size];
    #pragma HLS ARRAY_PARTITION variable = window complete

    // One flat loop over the padded positions (no row-to-row loop transitions): (ph, pw) and the next output
    // pixel's last row and column are counters, advanced by the strides.
    unsigned ph = 0, pw = 0;
    unsigned next_row = fh - 1, oh = 0; // the padded row that completes output row oh's windows
    unsigned next_col = fw - 1, ow = 0; // the padded column that completes output pixel (oh, ow)'s window
Positions:
    for (unsigned position = 0; position < geometry::padded_height * geometry::padded_width; position++) {
        #pragma HLS PIPELINE II = 1
        // The new window column: rows ph - fh + 1 .. ph of padded column pw.
        value_t column[fh][n_chan];
        #pragma HLS ARRAY_PARTITION variable = column complete dim = 0
        const bool inside = ph >= CONFIG_T::pad_top && ph < CONFIG_T::pad_top + CONFIG_T::in_height &&
                            pw >= CONFIG_T::pad_left && pw < CONFIG_T::pad_left + CONFIG_T::in_width;
        data_T pixel;
        if (inside) {
            pixel = data.read();
        }
    NewColumn:
        for (unsigned c = 0; c < n_chan; c++) {
            #pragma HLS UNROLL
            column[fh - 1][c] = inside ? value_t(pixel[c]) : value_t(0);
            for (unsigned r = 0; r + 1 < fh; r++) {
                #pragma HLS UNROLL
                column[r][c] = line[r][pw][c];
            }
            for (unsigned r = 0; r + 1 < fh; r++) {
                #pragma HLS UNROLL
                line[r][pw][c] = column[r + 1][c];
            }
        }
    ShiftWindow:
        for (unsigned r = 0; r < fh; r++) {
            #pragma HLS UNROLL
            for (unsigned col = 0; col < fw; col++) {
                #pragma HLS UNROLL
                for (unsigned c = 0; c < n_chan; c++) {
                    #pragma HLS UNROLL
                    window[(r * fw + col) * n_chan + c] =
                        col + 1 < fw ? window[(r * fw + col + 1) * n_chan + c] : column[r][c];
                }
            }
        }
        const bool row_outputs = ph == next_row && oh < CONFIG_T::out_height;
        if (row_outputs && pw == next_col && ow < CONFIG_T::out_width) {
            nnet::array<value_t, geometry::patch_size> patch;
            PRAGMA_DATA_PACK(patch)
            for (unsigned i = 0; i < geometry::patch_size; i++) {
                #pragma HLS UNROLL
                patch[i] = window[i];
            }
            windows.write(patch);
            next_col += CONFIG_T::stride_width;
            ow++;
        }
        if (pw + 1 == geometry::padded_width) {
            pw = 0;
            next_col = fw - 1;
            ow = 0;
            if (row_outputs) {
                next_row += CONFIG_T::stride_height;
                oh++;
            }
            ph++;
        } else {
            pw++;
        }
    }
    MRFPGA_COUNT_CYCLES(geometry::padded_height * geometry::padded_width + pack_loop_fill_cycles);
}

template <class value_T, class res_T, typename CONFIG_T>
void conv_pixels(hls::stream<nnet::array<value_T, conv2d_stream_geometry<CONFIG_T>::patch_size>> &windows,
                 hls::stream<res_T> &res,
                 const typename CONFIG_T::dense_config::term_t terms[CONFIG_T::dense_config::reuse_factor *
                                                                     CONFIG_T::dense_config::max_weight_terms *
                                                                     CONFIG_T::dense_config::n_units],
                 const typename CONFIG_T::dense_config::bias_t biases[CONFIG_T::n_filt], const unsigned resolution) {
    #pragma HLS INLINE off
Pixels:
    for (unsigned p = 0; p < CONFIG_T::out_height * CONFIG_T::out_width; p++) {
        static const unsigned patch_size = conv2d_stream_geometry<CONFIG_T>::patch_size;
        const nnet::array<value_T, patch_size> window = windows.read();
        value_T patch[patch_size];
        #pragma HLS ARRAY_PARTITION variable = patch complete
        for (unsigned i = 0; i < patch_size; i++) {
            #pragma HLS UNROLL
            patch[i] = window[i];
        }
        typename res_T::value_type out[CONFIG_T::n_filt];
        #pragma HLS ARRAY_PARTITION variable = out complete
        mmac_dense<value_T, typename res_T::value_type, typename CONFIG_T::dense_config>(patch, out, terms, biases,
                                                                                         resolution);
        res_T pack;
        PRAGMA_DATA_PACK(pack)
        for (unsigned f = 0; f < CONFIG_T::n_filt; f++) {
            #pragma HLS UNROLL
            pack[f] = out[f];
        }
        res.write(pack);
    }
}

template <class data_T, class res_T, typename CONFIG_T>
void mmac_conv2d(hls::stream<data_T> &data, hls::stream<res_T> &res,
                 const typename CONFIG_T::dense_config::term_t terms[CONFIG_T::dense_config::reuse_factor *
                                                                     CONFIG_T::dense_config::max_weight_terms *
                                                                     CONFIG_T::dense_config::n_units],
                 const typename CONFIG_T::dense_config::bias_t biases[CONFIG_T::n_filt], const unsigned resolution) {
    #pragma HLS INLINE off
    #pragma HLS DATAFLOW
    typedef conv2d_stream_geometry<CONFIG_T> geometry;
    static_assert(data_T::size == CONFIG_T::n_chan, "a convolution's input pack is one pixel's channels");
    static_assert(res_T::size == CONFIG_T::n_filt, "a convolution's output pack is one pixel's filters");
    hls::stream<nnet::array<typename data_T::value_type, geometry::patch_size>> windows("windows");
    #pragma HLS STREAM variable = windows depth = geometry::window_fifo_depth
    conv_windows<data_T, CONFIG_T>(data, windows);
    conv_pixels<typename data_T::value_type, res_T, CONFIG_T>(windows, res, terms, biases, resolution);
}

} // namespace nnet

#endif
