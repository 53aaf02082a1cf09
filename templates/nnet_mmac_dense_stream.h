// mrfpga: the mMAC Dense, io_stream: the io_parallel core's step, group by group as the input words arrive.
#ifndef NNET_MMAC_DENSE_STREAM_H_
#define NNET_MMAC_DENSE_STREAM_H_

#include "hls_stream.h"
#include "nnet_common.h"
#include "nnet_mmac_common.h"
#include "nnet_mmac_dense.h"
#include "nnet_types.h"

namespace nnet {

// The steps process's cycles after its last step: the product, the low half, the high half of the accumulation.
static const unsigned stream_dense_fixed_cycles = 3;

// The number of groups after which group and word boundaries line up again is P / gcd(P, group_size).
constexpr unsigned gcd_u(unsigned a, unsigned b) { return b == 0 ? a : gcd_u(b, a % b); }

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
    MRFPGA_CSIM_ONLY(csim_written<CONFIG_T>().clear(); unsigned long csim_iteration = 0;)
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
            MRFPGA_CSIM_ONLY(csim_written<CONFIG_T>().push_back(csim_iteration);)
            g++;
            group_end += G;
            phase = phase + 1 == geometry::period ? 0 : unsigned(phase + 1);
        }
        MRFPGA_CSIM_ONLY(csim_iteration++;)
    }
}

template <class value_T, class res_T, typename CONFIG_T>
void dense_group_steps(hls::stream<nnet::array<value_T, CONFIG_T::group_size>> &groups, hls::stream<res_T> &res,
                       const typename mmac_term_table<CONFIG_T>::type terms,
                       const typename CONFIG_T::bias_t biases[CONFIG_T::n_out], const unsigned resolution) {
    #pragma HLS INLINE off
    #pragma HLS ARRAY_PARTITION variable = terms cyclic factor = CONFIG_T::n_units
    static const unsigned G = CONFIG_T::group_size, R = CONFIG_T::reuse_factor, U = CONFIG_T::n_units;
    static_assert(CONFIG_T::lanes == 1, "the streaming Dense walks one term slot a step");
    typedef mmac_core<CONFIG_T> core;
    typedef typename CONFIG_T::accum_t accum_t;
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
    typename core::data_term_t value_terms[G][max_data];
    #pragma HLS ARRAY_PARTITION variable = values complete
    #pragma HLS ARRAY_PARTITION variable = value_terms complete dim = 0
    // acc[round][u]: output round * U + u, summed over the groups.
    accum_t acc[R][U];
    #pragma HLS ARRAY_PARTITION variable = acc complete dim = 0
    // Each accumulator starts at its output's bias, so the outputs need no adders of their own (the units' padding
    // outputs past n_out start at 0).
Clear:
    for (unsigned j = 0; j < R; j++) {
        #pragma HLS UNROLL
        for (unsigned u = 0; u < U; u++) {
            #pragma HLS UNROLL
            const unsigned o = j * U + u;
            acc[j][u] = o < CONFIG_T::n_out ? accum_t(biases[o]) : accum_t(0);
        }
    }

    typename uint_upto<CONFIG_T::n_groups>::type group = 0;
    typename uint_upto<R>::type round = 0;
    typename uint_upto<CONFIG_T::max_weight_terms>::type slot = 0;
    typename uint_upto<max_data>::type d = 0;
    MRFPGA_CSIM_ONLY(unsigned long csim_clock = 0;) // cycles since the frame's first word
Steps:
    for (step_t step = 0; step < n_steps; step++) {
        #pragma HLS PIPELINE II = 1
        #pragma HLS LOOP_TRIPCOUNT min = CONFIG_T::n_groups max = CONFIG_T::n_groups * R * CONFIG_T::max_weight_terms * max_data
        if (round == 0 && slot == 0 && d == 0) { // a group's first step: load it, extract its data terms
            const nnet::array<value_T, G> in = groups.read();
            MRFPGA_CSIM_ONLY(csim_clock = MAX(csim_clock, csim_written<CONFIG_T>()[group] + 1);)
            for (unsigned i = 0; i < G; i++) {
                #pragma HLS UNROLL
                values[i] = in[i];
            }
            if (core::term_pairs) {
                core::template data_terms<G>(values, a, value_terms);
            }
        }
    Units:
        for (unsigned u = 0; u < U; u++) {
            #pragma HLS UNROLL
            const typename CONFIG_T::term_t entry =
                terms[((group * R + round) * CONFIG_T::max_weight_terms + slot) * U + u];
            acc[round][u] = core::template step<G>(entry, w_floor, 0, d, live, values, value_terms, acc[round][u]);
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
        MRFPGA_CSIM_ONLY(csim_clock++;)
    }

    // The outputs: each one's accumulator (an integer on the output's grid, the bias in it).
    typename res_T::value_type out[CONFIG_T::n_out];
    #pragma HLS ARRAY_PARTITION variable = out complete
Outputs:
    for (unsigned o = 0; o < CONFIG_T::n_out; o++) {
        #pragma HLS UNROLL
        out[o].range() = acc[o / U][o % U].range(res_T::value_type::width - 1, 0);
    }
    MRFPGA_COUNT_CYCLES(csim_clock + stream_dense_fixed_cycles);
    write_all<res_T, CONFIG_T::n_out>(out, res);
}

template <class data_T, class res_T, typename CONFIG_T>
void mmac_dense(hls::stream<data_T> &data, hls::stream<res_T> &res,
                const typename mmac_term_table<CONFIG_T>::type terms,
                const typename CONFIG_T::bias_t biases[CONFIG_T::n_out], const unsigned resolution) {
    #pragma HLS INLINE off
    #pragma HLS DATAFLOW
    typedef dense_stream_geometry<CONFIG_T, data_T::size> geometry;
    hls::stream<nnet::array<typename data_T::value_type, CONFIG_T::group_size>> groups("groups");
    #pragma HLS STREAM variable = groups depth = geometry::group_fifo_depth
    dense_groups<data_T, CONFIG_T>(data, groups);
    dense_group_steps<typename data_T::value_type, res_T, CONFIG_T>(groups, res, terms, biases, resolution);
}

} // namespace nnet

#endif
