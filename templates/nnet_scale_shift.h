// mrfpga: switchable batch normalization, io_parallel. A meta model holds one BN per resolution; at
// inference each is folded into a scale and a shift per channel (docs/algorithms.md, "Switchable batch
// normalization"), and the resolution selects the pair.
#ifndef NNET_SCALE_SHIFT_H_
#define NNET_SCALE_SHIFT_H_

#include "ap_int.h"
#include "nnet_mmac_common.h"

namespace nnet {

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

} // namespace nnet

#endif
