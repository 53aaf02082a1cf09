// mrfpga: the multi-resolution term MAC (mMAC) Dense, io_parallel, and its lock-step core.
//
// One design serves every resolution: the resolution index selects how many
// data terms (a) and weight terms per group (k) are used. Weight terms are
// stored per group, most significant first, so budget k reads a prefix.
// Products are shifts of powers of two: no multiplier touches data or weights.
//
// The other mMAC headers build on this one: the streaming Dense steps with mmac_core; both convolutions
// call mmac_dense per output pixel with an mmac_dense_config.
#ifndef NNET_MMAC_DENSE_H_
#define NNET_MMAC_DENSE_H_

#include "ap_int.h"
#include "nnet_mmac_common.h"

namespace nnet {

// mMAC Dense in lock step (docs/mmac_core.md). n_units = ceil(n_out / reuse_factor) units; unit u owns output
// round * n_units + u in each of reuse_factor rounds, so it sums whole outputs: no partial sums, no adder tree.
// Every unit walks the same group at the same step: the group's values are selected once, for all units. One
// pipelined loop runs over the run-time number of steps, the units unrolled inside it, each predicated by a
// valid bit: no per-unit break, so every unit advances one step per cycle.
// Entry layout of the term table, least significant bit first:
// [index in group : index_bits][exponent : exponent_bits][negative : 1][valid : 1]
// Table layout: [round][group][step][unit][lane], so that unit u's lane l reads its own partition (its ROM).
// A unit walks `lanes` consecutive term slots of its group a step (the slot step * lanes + lane); in a group's
// last step the lanes past the resolution's slots are predicated off, so budget k still reads the first k.

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
    static const unsigned n_units = n_out;  // ceil(n_out / reuse_factor): each unit owns reuse_factor outputs
    static const unsigned lanes = 1;  // term slots a unit walks a step
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

// The term table as the layers' parameters name it: reuse_factor * n_groups * max_steps * lanes entries for each
// of the n_units units (every group's slots padded to whole steps), in the layout of the layer that reads it.
template <typename CONFIG_T> struct mmac_term_table {
    static const unsigned max_steps = (CONFIG_T::max_weight_terms + CONFIG_T::lanes - 1) / CONFIG_T::lanes;
    static const unsigned size =
        CONFIG_T::reuse_factor * CONFIG_T::n_groups * max_steps * CONFIG_T::n_units * CONFIG_T::lanes;
    typedef typename CONFIG_T::term_t type[size];
};

// Fixed stages of mmac_dense around its steps: load (the resolution's step counts), the last step's product
// and its accumulation into the output, the low half of the accumulator then the high half a cycle later
// (two short carry chains, as the Verilog twin measures them).
static const unsigned mmac_fixed_cycles = 4;

// What a lock-step unit does, shared by the io_parallel core and the streaming Dense: extract the data terms
// of the values it reads, and one unit's step (decode its entry, valid bit, product, accumulate).
template <typename CONFIG_T> struct mmac_core {
    typedef typename CONFIG_T::accum_t accum_t;
    static const bool term_pairs = CONFIG_T::unit == term_pair_unit;
    static const unsigned max_data = term_pairs ? CONFIG_T::max_data_terms : 1;
    typedef typename uint_upto<CONFIG_T::data_bits>::type exp_t; // a data term's exponent
    static const unsigned exp_bits = exp_t::width;
    // A data term in one word, laid out like a weight term's entry, least significant bit first:
    // [exponent : exp_bits][negative : 1][valid : 1].
    typedef ap_uint<exp_bits + 2> data_term_t;

    // Each value's data terms, most significant first; the slots past a value's last term are not valid. The
    // data-term layer already kept `a` terms of its own encoding; the NAF of that value is minimal, so it has at
    // most `a` terms and sums exactly.
    template <unsigned N, class value_T>
    static void data_terms(const value_T values[N], const unsigned a, data_term_t value_terms[N][max_data]) {
        #pragma HLS INLINE
    DataTerms:
        for (unsigned i = 0; i < N; i++) {
            #pragma HLS UNROLL
            ap_uint<CONFIG_T::data_bits> code = values[i].range(CONFIG_T::data_bits - 1, 0);
            ap_uint<CONFIG_T::data_bits + 1> pos, neg;
            top_terms<CONFIG_T::data_bits, naf_terms>(code, a, pos, neg);
            for (unsigned n = 0; n < max_data; n++) {
                #pragma HLS UNROLL
                value_terms[i][n] = 0;
            }
            unsigned n = 0;
            for (int p = CONFIG_T::data_bits; p >= 0; p--) {
                #pragma HLS UNROLL
                if ((pos[p] || neg[p]) && n < max_data) {
                    data_term_t term = p;
                    term[exp_bits] = neg[p];
                    term[exp_bits + 1] = 1;
                    value_terms[i][n] = term;
                    n++;
                }
            }
        }
    }

    // One unit's step: its table entry against input i (index `base` + the entry's index) and data term d;
    // returns the accumulator plus the product when the step is valid. `live` is false on a step that walks
    // no term slot (the streaming Dense's one step per group when a resolution has none).
    template <unsigned N, class value_T>
    static accum_t step(const typename CONFIG_T::term_t entry, const unsigned w_floor, const unsigned base,
                        const unsigned d, const bool live, const value_T values[N],
                        const data_term_t value_terms[N][max_data], const accum_t acc) {
        #pragma HLS INLINE
        const unsigned idx = entry.range(CONFIG_T::index_bits - 1, 0);
        const unsigned w_exp = entry.range(CONFIG_T::index_bits + CONFIG_T::exponent_bits - 1, CONFIG_T::index_bits);
        bool negative = entry[CONFIG_T::index_bits + CONFIG_T::exponent_bits];
        bool valid = live && entry[CONFIG_T::index_bits + CONFIG_T::exponent_bits + 1] && w_exp >= w_floor;
        const unsigned i = base + idx;
        accum_t product;
        if (term_pairs) {
            const data_term_t term = value_terms[i][d];
            valid = valid && term[exp_bits + 1];
            negative = negative != term[exp_bits];
            product = accum_t(1) << (w_exp + unsigned(term.range(exp_bits - 1, 0)) + CONFIG_T::acc_shift);
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
                const typename mmac_term_table<CONFIG_T>::type terms,
                const typename CONFIG_T::bias_t biases[CONFIG_T::n_out], const unsigned resolution) {
    #pragma HLS INLINE off
    #pragma HLS ARRAY_PARTITION variable = terms cyclic factor = CONFIG_T::n_units * CONFIG_T::lanes
    typedef mmac_core<CONFIG_T> core;
    typedef typename CONFIG_T::accum_t accum_t;
    static const unsigned group_size = CONFIG_T::group_size;
    static const unsigned max_data = core::max_data;
    const unsigned w_floor = CONFIG_T::weight_floor(resolution);
    const unsigned a = core::term_pairs ? CONFIG_T::data_terms(resolution) : 1;
    static const unsigned lanes = CONFIG_T::lanes;
    static const unsigned max_steps = mmac_term_table<CONFIG_T>::max_steps;
    const unsigned slots = CONFIG_T::group_terms(resolution);
    const unsigned slot_steps = (slots + lanes - 1) / lanes;

    // The group all units read in this step and, for term pairs, its values' data terms.
    data_T group[group_size];
    typename core::data_term_t value_terms[group_size][max_data];
    #pragma HLS ARRAY_PARTITION variable = group complete
    #pragma HLS ARRAY_PARTITION variable = value_terms complete dim = 0

    // Each unit starts from its first output's bias; a round's end hands it the next one's.
    accum_t acc[CONFIG_T::n_units];
    #pragma HLS ARRAY_PARTITION variable = acc complete
Start:
    for (unsigned u = 0; u < CONFIG_T::n_units; u++) {
        #pragma HLS UNROLL
        acc[u] = biases[u];
    }

    const unsigned n_steps = CONFIG_T::reuse_factor * CONFIG_T::n_groups * slot_steps * a;
    unsigned round = 0, g = 0, slot = 0, d = 0;
Steps:
    for (unsigned step = 0; step < n_steps; step++) {
        #pragma HLS PIPELINE II = 1
        #pragma HLS LOOP_TRIPCOUNT min = CONFIG_T::reuse_factor * CONFIG_T::n_groups max = CONFIG_T::reuse_factor * CONFIG_T::n_groups * max_steps * max_data
        if (slot == 0 && d == 0) {
        Group:
            for (unsigned i = 0; i < group_size; i++) {
                #pragma HLS UNROLL
                const unsigned input = CONFIG_T::group_base(g) + i;
                group[i] = input < CONFIG_T::n_in ? data[input] : data_T(0);
            }
            if (core::term_pairs) {
                core::template data_terms<group_size>(group, a, value_terms);
            }
        }
        const bool round_ends = g + 1 == CONFIG_T::n_groups && slot + 1 == slot_steps && d + 1 == a;
    Units:
        for (unsigned u = 0; u < CONFIG_T::n_units; u++) {
            #pragma HLS UNROLL
            // The lanes' products summed first, then one addition into the accumulator: the loop-carried path
            // is a single adder whatever the lanes (the twin's stages B and C).
            accum_t lanes_sum = 0;
        Lanes:
            for (unsigned l = 0; l < lanes; l++) {
                #pragma HLS UNROLL
                const typename CONFIG_T::term_t entry =
                    terms[(((round * CONFIG_T::n_groups + g) * max_steps + slot) * CONFIG_T::n_units + u) * lanes + l];
                lanes_sum += core::template step<group_size>(entry, w_floor, 0, d, slot * lanes + l < slots, group,
                                                             value_terms, accum_t(0));
            }
            const accum_t sum = acc[u] + lanes_sum;
            if (round_ends) {
                // The accumulator is an integer on the output's grid: copy its bits.
                const unsigned o = round * CONFIG_T::n_units + u;
                if (o < CONFIG_T::n_out)
                    res[o].range() = sum.range(res_T::width - 1, 0);
                const unsigned next = o + CONFIG_T::n_units;
                acc[u] = next < CONFIG_T::n_out ? accum_t(biases[next]) : accum_t(0);
            } else {
                acc[u] = sum;
            }
        }
        // The step counter (round, group, slot step, d), d fastest: counters, not divisions.
        if (d + 1 < a) {
            d++;
        } else {
            d = 0;
            if (slot + 1 < slot_steps) {
                slot++;
            } else {
                slot = 0;
                if (g + 1 < CONFIG_T::n_groups) {
                    g++;
                } else {
                    g = 0;
                    round++;
                }
            }
        }
    }
    if (n_steps == 0) {
    Biases:
        for (unsigned o = 0; o < CONFIG_T::n_out; o++) {
            #pragma HLS UNROLL
            res[o].range() = accum_t(biases[o]).range(res_T::width - 1, 0);
        }
    }
    MRFPGA_COUNT_CYCLES(n_steps + mmac_fixed_cycles);
}

// mmac_dense as the convolutions' Dense over an output pixel's patch (conv2d_pixels' patch_dense).
struct mmac_patch_dense {
    template <class data_T, class res_T, typename DENSE_T, class... args_T>
    static void apply(const data_T patch[DENSE_T::n_in], res_T pixel[DENSE_T::n_out], const args_T &...args) {
        #pragma HLS INLINE
        mmac_dense<data_T, res_T, DENSE_T>(patch, pixel, args...);
    }
};

} // namespace nnet

#endif
