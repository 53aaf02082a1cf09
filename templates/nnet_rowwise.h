// mrfpga: row-wise mixed schemes and precisions (RMSMP): each output row of a kernel keeps one of three
// schemes, PoT-W4, Fixed-W4 or Fixed-W8, assigned by how much the row matters to the loss and by the spread
// of its weights (docs/algorithms.md, "Row-wise mixed schemes").
//
// Three cores per layer, each over its own scheme's rows (compact tables):
// PoT-W4 rows multiply by shifting (shift-add in LUTs), Fixed-W4 and Fixed-W8
// rows by multipliers bound to DSP blocks. Each core shifts its rows onto the
// layer's output grid and writes them at their original positions.
#ifndef NNET_ROWWISE_H_
#define NNET_ROWWISE_H_

#include "ap_int.h"
#include "hls_stream.h"
#include "nnet_common.h"
#include "nnet_mmac_common.h" // cycle counters, conv2d_geometry / conv2d_pixels, read_all / write_all

// Binding directives. Vitis HLS defines __VITIS_HLS__ and takes BIND_OP;
// Vivado HLS takes RESOURCE with its core names (DSP48: a multiplier in a
// DSP48 block; AddSub: a fabric adder). g++ ignores both.
#ifdef __VITIS_HLS__
#define ROWWISE_MUL_ON_DSP(var) _Pragma(EXPAND_STRING(HLS BIND_OP variable = var op = mul impl = dsp))
#define ROWWISE_ADD_ON_FABRIC(var) _Pragma(EXPAND_STRING(HLS BIND_OP variable = var op = add impl = fabric))
#else
#define ROWWISE_MUL_ON_DSP(var) _Pragma(EXPAND_STRING(HLS RESOURCE variable = var core = DSP48))
#define ROWWISE_ADD_ON_FABRIC(var) _Pragma(EXPAND_STRING(HLS RESOURCE variable = var core = AddSub))
#endif

namespace nnet {

// One scheme's rows. Weights are row-major: w[r * n_in + i]; a core without
// rows still gets a one-entry table (C++ has no empty arrays) it never reads.
struct rowwise_core_config {
    static const unsigned n_in = 10;
    static const unsigned n_rows = 1;
    static const unsigned table_size = 10; // max(1, n_rows * n_in)
    typedef ap_int<4> weight_t;
    typedef ap_int<16> accum_t;   // holds any row's sum on the core's own grid
    typedef ap_int<16> product_t; // fixed cores: holds any x * w
    static unsigned row_index(unsigned r) { return r; } // the row's position in the layer's output
    static unsigned row_shift(unsigned r) { return 0; } // the row's grid onto the output grid
};

// A core's weight table, as the layers' parameters name it.
template <class CORE_T> struct rowwise_table {
    typedef typename CORE_T::weight_t type[CORE_T::table_size];
};

// The product of one input code and one weight, as a policy class (nnet_mult.h's manner): each scheme
// adds x * w to a row's sum with its own operator and binding.

// PoT-W4 rows: code 0 is a zero weight, +-k is +-2^(k-1). Products are shifts; adders in LUTs.
template <class CORE_T> struct pot_product {
    template <class data_int_T>
    static typename CORE_T::accum_t add(typename CORE_T::accum_t acc, data_int_T x, const int code) {
        #pragma HLS INLINE
        typedef typename CORE_T::accum_t accum_t;
        if (code == 0)
            return acc;
        const accum_t term = accum_t(x) << ((code < 0 ? -code : code) - 1);
        accum_t sum = code < 0 ? accum_t(acc - term) : accum_t(acc + term);
        ROWWISE_ADD_ON_FABRIC(sum)
        return sum;
    }
};

// Fixed-W4 / Fixed-W8 rows: integer weights, one multiplier per weight, bound to DSP blocks.
template <class CORE_T> struct fixed_product {
    template <class data_int_T>
    static typename CORE_T::accum_t add(typename CORE_T::accum_t acc, data_int_T x, typename CORE_T::weight_t w) {
        #pragma HLS INLINE
        typename CORE_T::product_t product = x * w;
        ROWWISE_MUL_ON_DSP(product)
        return acc + product;
    }
};

// One scheme's rows: each row's sum over the fan-in, shifted onto the output grid at the row's position.
template <template <class> class product, class data_int_T, class out_T, typename CORE_T>
void rowwise_core(const data_int_T x[CORE_T::n_in], const typename CORE_T::weight_t w[CORE_T::table_size],
                  out_T out[]) {
    #pragma HLS INLINE
    typedef typename CORE_T::accum_t accum_t;
Rows:
    for (unsigned r = 0; r < CORE_T::n_rows; r++) {
        #pragma HLS UNROLL
        accum_t acc = 0;
    Inputs:
        for (unsigned i = 0; i < CORE_T::n_in; i++) {
            #pragma HLS UNROLL
            acc = product<CORE_T>::add(acc, x[i], w[r * CORE_T::n_in + i]);
        }
        out[CORE_T::row_index(r)] = out_T(acc) << CORE_T::row_shift(r);
    }
}

struct rowwise_dense_config {
    static const unsigned n_in = 10;
    static const unsigned n_out = 10;
    static const unsigned reuse_factor = 1;
    static const unsigned multiplier_limit = 10; // fixed rows' multipliers / reuse_factor
    typedef ap_int<9> data_int_t;                 // the input's raw code, signed or not
    typedef ap_int<32> accum_t;                   // the output grid: holds every row sum plus its bias
    typedef ap_int<32> bias_t;
    typedef rowwise_core_config pot;
    typedef rowwise_core_config fixed4;
    typedef rowwise_core_config fixed8;
};

template <class data_T, class res_T, typename CONFIG_T>
void rowwise_dense(const data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out],
                   const typename rowwise_table<typename CONFIG_T::pot>::type pot_weights,
                   const typename rowwise_table<typename CONFIG_T::fixed4>::type fixed4_weights,
                   const typename rowwise_table<typename CONFIG_T::fixed8>::type fixed8_weights,
                   const typename CONFIG_T::bias_t biases[CONFIG_T::n_out], const unsigned resolution) {
    #pragma HLS INLINE off
    #pragma HLS PIPELINE II = CONFIG_T::reuse_factor
    #pragma HLS ALLOCATION operation instances = mul limit = CONFIG_T::multiplier_limit
    (void)resolution; // one design serves every resolution: the port is kept for a uniform interface
    typedef typename CONFIG_T::accum_t accum_t;
    typename CONFIG_T::data_int_t x[CONFIG_T::n_in];
    #pragma HLS ARRAY_PARTITION variable = x complete
Codes:
    for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
        #pragma HLS UNROLL
        x[i].range() = data[i].range();
    }
    accum_t rows[CONFIG_T::n_out]; // every row is written by exactly one core
    #pragma HLS ARRAY_PARTITION variable = rows complete
    typedef typename CONFIG_T::data_int_t data_int_t;
    rowwise_core<pot_product, data_int_t, accum_t, typename CONFIG_T::pot>(x, pot_weights, rows);
    rowwise_core<fixed_product, data_int_t, accum_t, typename CONFIG_T::fixed4>(x, fixed4_weights, rows);
    rowwise_core<fixed_product, data_int_t, accum_t, typename CONFIG_T::fixed8>(x, fixed8_weights, rows);
Outputs:
    for (unsigned o = 0; o < CONFIG_T::n_out; o++) {
        #pragma HLS UNROLL
        const accum_t total = rows[o] + biases[o];
        // The sum is an integer on the output's grid: copy its bits.
        res[o].range() = total.range(res_T::width - 1, 0);
    }
    // Products (reuse_factor cycles), the adder tree over the fan-in, the row shift and the bias.
    MRFPGA_COUNT_CYCLES(CONFIG_T::reuse_factor + ceil_log2(CONFIG_T::n_in) + 1);
}

// rowwise_dense as the Conv2D's Dense over an output pixel's patch (conv2d_pixels' patch_dense).
struct rowwise_patch_dense {
    template <class data_T, class res_T, typename DENSE_T, class... args_T>
    static void apply(const data_T patch[DENSE_T::n_in], res_T pixel[DENSE_T::n_out], const args_T &...args) {
        #pragma HLS INLINE
        rowwise_dense<data_T, res_T, DENSE_T>(patch, pixel, args...);
    }
};

// ---------------------------------------------------------------------------
// Row-wise Conv2D (channels last, undilated): every output pixel is a
// row-wise Dense over its zero-padded patch, flattened (filter row, filter
// column, channel) like the kernel.

struct rowwise_conv2d_config : conv2d_geometry {
    typedef rowwise_dense_config dense_config;
};

template <class data_T, class res_T, typename CONFIG_T>
void rowwise_conv2d(const data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
                    res_T res[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt],
                    const typename rowwise_table<typename CONFIG_T::dense_config::pot>::type pot_weights,
                    const typename rowwise_table<typename CONFIG_T::dense_config::fixed4>::type fixed4_weights,
                    const typename rowwise_table<typename CONFIG_T::dense_config::fixed8>::type fixed8_weights,
                    const typename CONFIG_T::dense_config::bias_t biases[CONFIG_T::n_filt], const unsigned resolution) {
    #pragma HLS INLINE off
    conv2d_pixels<data_T, res_T, CONFIG_T, rowwise_patch_dense>(data, res, pot_weights, fixed4_weights, fixed8_weights,
                                                                biases, resolution);
}

// ---------------------------------------------------------------------------
// io_stream: read the whole input, run the io_parallel layer, write the output.

template <class data_T, class res_T, typename CONFIG_T>
void rowwise_dense(hls::stream<data_T> &data, hls::stream<res_T> &res,
                   const typename rowwise_table<typename CONFIG_T::pot>::type pot_weights,
                   const typename rowwise_table<typename CONFIG_T::fixed4>::type fixed4_weights,
                   const typename rowwise_table<typename CONFIG_T::fixed8>::type fixed8_weights,
                   const typename CONFIG_T::bias_t biases[CONFIG_T::n_out], const unsigned resolution) {
    typename data_T::value_type in[CONFIG_T::n_in];
    typename res_T::value_type out[CONFIG_T::n_out];
    read_all<data_T, CONFIG_T::n_in>(data, in);
    rowwise_dense<typename data_T::value_type, typename res_T::value_type, CONFIG_T>(
        in, out, pot_weights, fixed4_weights, fixed8_weights, biases, resolution);
    write_all<res_T, CONFIG_T::n_out>(out, res);
}

template <class data_T, class res_T, typename CONFIG_T>
void rowwise_conv2d(hls::stream<data_T> &data, hls::stream<res_T> &res,
                    const typename rowwise_table<typename CONFIG_T::dense_config::pot>::type pot_weights,
                    const typename rowwise_table<typename CONFIG_T::dense_config::fixed4>::type fixed4_weights,
                    const typename rowwise_table<typename CONFIG_T::dense_config::fixed8>::type fixed8_weights,
                    const typename CONFIG_T::dense_config::bias_t biases[CONFIG_T::n_filt], const unsigned resolution) {
    const unsigned n_in = CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan;
    const unsigned n_out = CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt;
    typename data_T::value_type in[n_in];
    typename res_T::value_type out[n_out];
    read_all<data_T, n_in>(data, in);
    rowwise_conv2d<typename data_T::value_type, typename res_T::value_type, CONFIG_T>(
        in, out, pot_weights, fixed4_weights, fixed8_weights, biases, resolution);
    write_all<res_T, n_out>(out, res);
}

} // namespace nnet

#endif
