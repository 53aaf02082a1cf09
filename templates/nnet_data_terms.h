// mrfpga: data-term layers, io_parallel: each value on its fixed-point grid keeps its `a` most significant
// terms, `a` chosen by the resolution (docs/algorithms.md, "Data terms"), so the mMAC after it walks at
// most `a` data terms per value.
#ifndef NNET_DATA_TERMS_H_
#define NNET_DATA_TERMS_H_

#include "ap_fixed.h"
#include "ap_int.h"
#include "nnet_mmac_common.h"

namespace nnet {

// Data terms: unsigned fixed point (round half up, saturate), then the `a`
// most significant terms of each value. Onion activations: round half to
// even, drop the code's low bits (its top bits are the lower precision),
// keep every term left.

struct data_term_config {
    static const unsigned n_in = 10;
    static const unsigned lanes = 10;   // io_parallel: values a cycle
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
// of nnet_mmac_common.h (io_parallel and io_stream) serve the unsigned and the signed layer alike.
template <typename CONFIG_T> struct data_term_op {
    // Register stages of a value in io_stream (its word, on its grid, its digits, its kept digits), as the
    // streaming Verilog twin has them.
    static const unsigned stages = 4;
    const unsigned budget, dropped;
    explicit data_term_op(unsigned resolution)
        : budget(CONFIG_T::data_terms(resolution)), dropped(CONFIG_T::dropped_bits(resolution)) {}
    template <class res_T, class data_T> res_T apply(const data_T &x, unsigned /* every index alike */) const {
        #pragma HLS INLINE
        return data_term_value<res_T, CONFIG_T>(x, budget, dropped);
    }
};

template <class data_T, class res_T, typename CONFIG_T>
void data_terms(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in], const unsigned resolution) {
    #pragma HLS INLINE off
    apply_to_lanes<data_T, res_T, CONFIG_T::n_in, CONFIG_T::lanes>(data, res, data_term_op<CONFIG_T>(resolution));
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
    static const unsigned stages = 4; // as data_term_op
    const unsigned budget;
    explicit signed_data_term_op(unsigned resolution) : budget(CONFIG_T::data_terms(resolution)) {}
    template <class res_T, class data_T> res_T apply(const data_T &x, unsigned /* every index alike */) const {
        #pragma HLS INLINE
        return signed_data_term_value<res_T, CONFIG_T>(x, budget);
    }
};

template <class data_T, class res_T, typename CONFIG_T>
void signed_data_terms(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in], const unsigned resolution) {
    #pragma HLS INLINE off
    apply_to_lanes<data_T, res_T, CONFIG_T::n_in, CONFIG_T::lanes>(data, res,
                                                                  signed_data_term_op<CONFIG_T>(resolution));
}

} // namespace nnet

#endif
