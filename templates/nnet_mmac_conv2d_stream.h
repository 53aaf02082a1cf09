// mrfpga: the mMAC Conv2D, io_stream (channels last, undilated): a line buffer and a window, and the
// io_parallel mMAC Dense per output pixel. No frame is held anywhere.
#ifndef NNET_MMAC_CONV2D_STREAM_H_
#define NNET_MMAC_CONV2D_STREAM_H_

#include "hls_stream.h"
#include "nnet_common.h"
#include "nnet_mmac_common.h"
#include "nnet_mmac_conv2d.h" // mmac_conv2d_config: the layer's config in both io styles
#include "nnet_mmac_dense.h"
#include "nnet_types.h"

namespace nnet {

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
    MRFPGA_CSIM_ONLY(csim_written<CONFIG_T>().clear();)
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
            MRFPGA_CSIM_ONLY(csim_written<CONFIG_T>().push_back(position);)
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
}

template <class value_T, class res_T, typename CONFIG_T>
void conv_pixels(hls::stream<nnet::array<value_T, conv2d_stream_geometry<CONFIG_T>::patch_size>> &windows,
                 hls::stream<res_T> &res,
                 const typename mmac_term_table<typename CONFIG_T::dense_config>::type terms,
                 const typename CONFIG_T::dense_config::bias_t biases[CONFIG_T::n_filt], const unsigned resolution) {
    #pragma HLS INLINE off
    MRFPGA_CSIM_ONLY(unsigned long csim_clock = 0;) // when the core is free, from the frame's first cycle
Pixels:
    for (unsigned p = 0; p < CONFIG_T::out_height * CONFIG_T::out_width; p++) {
        static const unsigned patch_size = conv2d_stream_geometry<CONFIG_T>::patch_size;
        const nnet::array<value_T, patch_size> window = windows.read();
        // The core's own count is this pixel's: it starts when the window is there and the core free.
        MRFPGA_CSIM_ONLY(const unsigned long csim_before = csim_cycles();
                         csim_clock = MAX(csim_clock, csim_written<CONFIG_T>()[p] + 1);)
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
        MRFPGA_CSIM_ONLY(csim_clock += csim_cycles() - csim_before; csim_cycles() = csim_before;)
        res_T pack;
        PRAGMA_DATA_PACK(pack)
        for (unsigned f = 0; f < CONFIG_T::n_filt; f++) {
            #pragma HLS UNROLL
            pack[f] = out[f];
        }
        res.write(pack);
    }
    MRFPGA_COUNT_CYCLES(csim_clock + 1); // the last pixel out, that cycle counted
}

template <class data_T, class res_T, typename CONFIG_T>
void mmac_conv2d(hls::stream<data_T> &data, hls::stream<res_T> &res,
                 const typename mmac_term_table<typename CONFIG_T::dense_config>::type terms,
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
