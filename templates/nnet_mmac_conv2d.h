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

} // namespace nnet

#endif
