// mrfpga: switchable batch normalization, io_stream: one pack (a pixel's channels) per cycle.
#ifndef NNET_SCALE_SHIFT_STREAM_H_
#define NNET_SCALE_SHIFT_STREAM_H_

#include "hls_stream.h"
#include "nnet_common.h"
#include "nnet_mmac_common.h"
#include "nnet_scale_shift.h"

namespace nnet {

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

} // namespace nnet

#endif
