// mrfpga: data-term layers, io_stream: the io_parallel layers' per-value operations, pack by pack.
#ifndef NNET_DATA_TERMS_STREAM_H_
#define NNET_DATA_TERMS_STREAM_H_

#include "hls_stream.h"
#include "nnet_data_terms.h"
#include "nnet_mmac_common.h"

namespace nnet {

// One pack a cycle with a data-term unit per value when the pack has at most CONFIG_T::lanes values, else
// CONFIG_T::lanes units over a few cycles a pack.
template <class data_T, class res_T, typename CONFIG_T, class value_op>
void apply_in_data_term_lanes(hls::stream<data_T> &data, hls::stream<res_T> &res, const value_op &op) {
    #pragma HLS INLINE
    if (CONFIG_T::lanes >= data_T::size)
        apply_to_packs<data_T, res_T, CONFIG_T::n_in>(data, res, op);
    else
        apply_to_packs_in_lanes<data_T, res_T, CONFIG_T::n_in, CONFIG_T::lanes>(data, res, op);
}

template <class data_T, class res_T, typename CONFIG_T>
void data_terms(hls::stream<data_T> &data, hls::stream<res_T> &res, const unsigned resolution) {
    #pragma HLS INLINE off
    apply_in_data_term_lanes<data_T, res_T, CONFIG_T>(data, res, data_term_op<CONFIG_T>(resolution));
}

template <class data_T, class res_T, typename CONFIG_T>
void signed_data_terms(hls::stream<data_T> &data, hls::stream<res_T> &res, const unsigned resolution) {
    #pragma HLS INLINE off
    apply_in_data_term_lanes<data_T, res_T, CONFIG_T>(data, res, signed_data_term_op<CONFIG_T>(resolution));
}

} // namespace nnet

#endif
