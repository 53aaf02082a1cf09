// mrfpga: switchable batch normalization, io_stream: one pack (a pixel's channels) per cycle.
#ifndef NNET_SCALE_SHIFT_STREAM_H_
#define NNET_SCALE_SHIFT_STREAM_H_

#include "hls_stream.h"
#include "nnet_common.h"
#include "nnet_mmac_common.h"
#include "nnet_scale_shift.h"

namespace nnet {

// The per-value operation of the streaming BN (apply_to_packs): value j of a pack has channel j % n_chan (a pack
// holds whole pixels), scaled and shifted by its channel's pair from the layer's registers.
template <typename CONFIG_T> struct registered_scale_shift_op {
    // Register stages, as the streaming Verilog twin has them: the word, the products, the sums (a DSP48E1's
    // input, multiplier and output registers).
    static const unsigned stages = 3;
    const typename CONFIG_T::scale_t *scale; // [n_chan], partitioned by the layer
    const typename CONFIG_T::shift_t *shift;
    template <class res_T, class data_T> res_T apply(const data_T &x, const unsigned j) const {
        #pragma HLS INLINE
        const unsigned c = j % CONFIG_T::n_chan;
        return scale_shift_value<res_T, CONFIG_T>(x, scale[c], shift[c]);
    }
};

// Switchable BN pack by pack: the unrolled pack has one multiplier per channel, shared by every pixel of the
// frame.
template <class data_T, class res_T, typename CONFIG_T>
void switchable_scale_shift(hls::stream<data_T> &data, hls::stream<res_T> &res,
                            const typename CONFIG_T::scale_t scales[CONFIG_T::n_resolutions * CONFIG_T::n_chan],
                            const typename CONFIG_T::shift_t shifts[CONFIG_T::n_resolutions * CONFIG_T::n_chan],
                            const unsigned resolution) {
    #pragma HLS INLINE off
    static_assert(data_T::size % CONFIG_T::n_chan == 0, "a pack holds whole pixels");
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
    const registered_scale_shift_op<CONFIG_T> op = {scale, shift};
    apply_to_packs<data_T, res_T, CONFIG_T::n_in>(data, res, op);
}

} // namespace nnet

#endif
