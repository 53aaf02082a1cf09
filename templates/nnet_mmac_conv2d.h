// mrfpga: the mMAC Conv2D, io_parallel.
#ifndef NNET_MMAC_CONV2D_H_
#define NNET_MMAC_CONV2D_H_

#include "nnet_mmac_common.h"
#include "nnet_mmac_dense.h"

namespace nnet {

// mMAC Conv2D (io_parallel, channels last): every output pixel is an mMAC
// Dense over its zero-padded input patch, flattened (filter row, filter
// column, channel); groups are channel runs at one kernel position.

struct mmac_conv2d_config : conv2d_geometry {
    typedef mmac_dense_config dense_config;
};

template <class data_T, class res_T, typename CONFIG_T>
void mmac_conv2d(const data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
                 res_T res[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt],
                 const typename mmac_term_table<typename CONFIG_T::dense_config>::type terms,
                 const typename CONFIG_T::dense_config::bias_t biases[CONFIG_T::n_filt], const unsigned resolution) {
    #pragma HLS INLINE off
    conv2d_pixels<data_T, res_T, CONFIG_T, mmac_patch_dense>(data, res, terms, biases, resolution);
}

} // namespace nnet

#endif
