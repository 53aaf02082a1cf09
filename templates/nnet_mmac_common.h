// mrfpga: what the kit's layer families share: the cycle counters of C simulation, the signed digits of a
// code and its most significant terms, the loops of the elementwise layers (all values at once, or pack by
// pack), reading and writing a whole vector as packs, and a convolution's loop over its output pixels, each a
// Dense over the pixel's zero-padded patch.
#ifndef NNET_MMAC_COMMON_H_
#define NNET_MMAC_COMMON_H_

#include "ap_int.h"
#include "hls_stream.h"
#include "nnet_common.h"
#ifndef __SYNTHESIS__
#include <vector>
#endif

namespace nnet {

#ifndef __SYNTHESIS__
// C simulation only: the cycles the schedules of the kit's layers take for the current sample.
inline unsigned long &csim_cycles() {
    static unsigned long cycles = 0;
    return cycles;
}
#define MRFPGA_COUNT_CYCLES(n) (nnet::csim_cycles() += (n))
// Per layer: the generated top calls MRFPGA_LAYER_DONE() after each kit layer, which records the cycles
// counted since the previous one (the testbench clears the list before each sample; at most
// csim_max_layers are kept, so hls4ml's predict, which never clears it, stays bounded).
static const unsigned csim_max_layers = 1024;
inline std::vector<unsigned long> &csim_layer_cycles() {
    static std::vector<unsigned long> cycles;
    return cycles;
}
inline unsigned long &csim_layer_mark() {
    static unsigned long mark = 0;
    return mark;
}
inline void csim_layer_done() {
    if (csim_layer_cycles().size() < csim_max_layers) {
        csim_layer_cycles().push_back(csim_cycles() - csim_layer_mark());
    }
    csim_layer_mark() = csim_cycles();
}
#define MRFPGA_LAYER_DONE() nnet::csim_layer_done()
// A streaming layer of two processes (the Dense's groups and steps, the convolution's walk and pixels): the
// cycle, from the frame's first, in which the first process wrote each item (a group, a window) of the frame, so
// that the layer's count is the two processes' overlap (an item taken the cycle after it was written, at the
// earliest), not their sum.
template <typename CONFIG_T> std::vector<unsigned long> &csim_written() {
    static std::vector<unsigned long> written;
    return written;
}
// Statements of the C simulation's cycle count only; synthesis never sees them.
#define MRFPGA_CSIM_ONLY(...) __VA_ARGS__
#else
#define MRFPGA_COUNT_CYCLES(n)
#define MRFPGA_LAYER_DONE()
#define MRFPGA_CSIM_ONLY(...)
#endif

// ceil(log2(n)): the depth of an adder tree over n values.
constexpr unsigned ceil_log2(unsigned n, unsigned p = 0) { return (1u << p) >= n ? p : ceil_log2(n, p + 1); }

// An unsigned type that holds 0..N, no wider.
template <unsigned N> struct uint_upto {
    typedef ap_uint<(ceil_log2(N + 1) > 0 ? ceil_log2(N + 1) : 1)> type;
};

enum term_encoding { binary_terms = 0, naf_terms = 1, hese_terms = 2 };

// Signed digits of x as +/- bit masks (the same bit arithmetic as the Python side).
template <unsigned BITS, unsigned ENCODING>
void signed_digits(ap_uint<BITS> x, ap_uint<BITS + 1> &pos, ap_uint<BITS + 1> &neg) {
    #pragma HLS INLINE
    ap_uint<BITS + 2> q = x;
    if (ENCODING == naf_terms) {
        ap_uint<BITS + 2> half = q >> 1;
        ap_uint<BITS + 2> x3 = q + half;
        ap_uint<BITS + 2> carry = half ^ x3;
        pos = (x3 & carry).range(BITS, 0);
        neg = (half & carry).range(BITS, 0);
    } else if (ENCODING == hese_terms) {
        // A run of two or more ones, bits m..n, becomes 2^(n+1) - 2^m; a lone one stays.
        ap_uint<BITS + 2> run_start = q & ~(q << 1);
        ap_uint<BITS + 2> above_run = ~q & (q << 1);
        ap_uint<BITS + 2> lone = run_start & ~(q >> 1);
        neg = (run_start & (q >> 1)).range(BITS, 0);
        pos = (lone | (above_run & (q << 2))).range(BITS, 0);
    } else {
        pos = q.range(BITS, 0);
        neg = 0;
    }
}

// Keep the `budget` most significant terms of `x`, as +/- bit masks.
template <unsigned BITS, unsigned ENCODING>
void top_terms(ap_uint<BITS> x, unsigned budget, ap_uint<BITS + 1> &pos, ap_uint<BITS + 1> &neg) {
    #pragma HLS INLINE
    ap_uint<BITS + 1> all_pos, all_neg;
    signed_digits<BITS, ENCODING>(x, all_pos, all_neg);
    pos = 0;
    neg = 0;
    unsigned kept = 0;
Planes:
    for (int p = BITS; p >= 0; p--) {
        #pragma HLS UNROLL
        if (kept < budget && (all_pos[p] || all_neg[p])) {
            pos[p] = all_pos[p];
            neg[p] = all_neg[p];
            kept++;
        }
    }
}

// The per-value operation of an elementwise layer at one resolution is a policy object (a `value_op` with
// `apply<res_T>(x, i)`, i the value's index: in the vector, or in its pack for io_stream; either way its channel
// is i modulo the channel count), so one loop below serves every such layer, in each io style.

// LANES values a cycle, pack after pack, from LANES copies of the operation, pipelined in five stages (each
// lane's value selected from the input, the value on its grid, its signed digits, the kept digits, its code):
// short paths, as the Verilog twin measures them. One cycle latches the resolution's parameters (the policy
// object), one cycle per pack, four to drain the pipeline.
template <class data_T, class res_T, unsigned N, unsigned LANES, class value_op>
void apply_to_lanes(const data_T data[N], res_T res[N], const value_op &op) {
    #pragma HLS INLINE
    static const unsigned n_packs = (N + LANES - 1) / LANES;
Packs:
    for (unsigned p = 0; p < n_packs; p++) {
        #pragma HLS PIPELINE II = 1
    Lanes:
        for (unsigned l = 0; l < LANES; l++) {
            #pragma HLS UNROLL
            const unsigned i = p * LANES + l;
            if (i < N)
                res[i] = op.template apply<res_T>(data[i], i);
        }
    }
    MRFPGA_COUNT_CYCLES(5 + n_packs);
}

// ---------------------------------------------------------------------------
// io_stream (channels last): a stream word ("pack") holds data_T::size values, the channels of one pixel for
// an image, the whole vector for a Dense's input. The elementwise layers work pack by pack (one pixel per
// cycle, the pack's values unrolled: one data-term unit or BN multiplier per channel, shared by all pixels).
// The resolution is a scalar every layer reads.

// Cycles of a pipelined pack-by-pack loop: one pack per cycle, plus its one registered stage.
static const unsigned pack_loop_fill_cycles = 1;

// Pack by pack: one pack per cycle, its values unrolled (one data-term unit or BN multiplier per value of a pack),
// through the operation's register stages (value_op::stages).
template <class data_T, class res_T, unsigned N, class value_op>
void apply_to_packs(hls::stream<data_T> &data, hls::stream<res_T> &res, const value_op &op) {
    #pragma HLS INLINE
    static_assert(res_T::size == data_T::size, "an elementwise layer keeps the stream's packing");
    static const unsigned n_packs = N / data_T::size;
Packs:
    for (unsigned p = 0; p < n_packs; p++) {
        #pragma HLS PIPELINE II = 1
        const data_T in = data.read();
        res_T out;
        PRAGMA_DATA_PACK(out)
        for (unsigned j = 0; j < data_T::size; j++) {
            #pragma HLS UNROLL
            out[j] = op.template apply<typename res_T::value_type>(in[j], j);
        }
        res.write(out);
    }
    MRFPGA_COUNT_CYCLES(n_packs + value_op::stages);
}

// Pack by pack over LANES copies of the operation (LANES below the pack's size): a pack is read once and its values
// go through the lanes LANES a cycle, ceil(size / LANES) cycles a pack, each lane's value selected from the pack
// by the cycle's chunk; the pack out once its last chunk is through the operation's register stages and the
// output pack's register. A layer whose values come a pixel every several cycles needs no unit per channel.
template <class data_T, class res_T, unsigned N, unsigned LANES, class value_op>
void apply_to_packs_in_lanes(hls::stream<data_T> &data, hls::stream<res_T> &res, const value_op &op) {
    #pragma HLS INLINE
    static_assert(res_T::size == data_T::size, "an elementwise layer keeps the stream's packing");
    static const unsigned n_packs = N / data_T::size;
    static const unsigned chunks = (data_T::size + LANES - 1) / LANES;
    data_T in;
    res_T out;
    PRAGMA_DATA_PACK(out)
    unsigned chunk = 0;
Chunks:
    for (unsigned i = 0; i < n_packs * chunks; i++) {
        #pragma HLS PIPELINE II = 1
        if (chunk == 0)
            in = data.read();
    Lanes:
        for (unsigned l = 0; l < LANES; l++) {
            #pragma HLS UNROLL
            const unsigned j = chunk * LANES + l;
            if (j < data_T::size)
                out[j] = op.template apply<typename res_T::value_type>(in[j], j);
        }
        if (chunk == chunks - 1) {
            res.write(out);
            chunk = 0;
        } else {
            chunk++;
        }
    }
    MRFPGA_COUNT_CYCLES(n_packs * chunks + value_op::stages + 1);
}

// A layer that needs its whole input vector at once (the row-wise Dense) reads it pack by pack; the mMAC layers
// write their outputs pack by pack.
template <class pack_T, unsigned N> void read_all(hls::stream<pack_T> &in, typename pack_T::value_type out[N]) {
    #pragma HLS INLINE
ReadPacks:
    for (unsigned i = 0; i < N / pack_T::size; i++) {
        #pragma HLS PIPELINE II = 1
        pack_T pack = in.read();
        for (unsigned j = 0; j < pack_T::size; j++) {
            #pragma HLS UNROLL
            out[i * pack_T::size + j] = pack[j];
        }
    }
    MRFPGA_COUNT_CYCLES(N / pack_T::size);
}

template <class pack_T, unsigned N> void write_all(const typename pack_T::value_type in[N], hls::stream<pack_T> &out) {
    #pragma HLS INLINE
WritePacks:
    for (unsigned i = 0; i < N / pack_T::size; i++) {
        #pragma HLS PIPELINE II = 1
        pack_T pack;
        PRAGMA_DATA_PACK(pack)
        for (unsigned j = 0; j < pack_T::size; j++) {
            #pragma HLS UNROLL
            pack[j] = in[i * pack_T::size + j];
        }
        out.write(pack);
    }
    MRFPGA_COUNT_CYCLES(N / pack_T::size);
}

// ---------------------------------------------------------------------------
// Convolutions (io_parallel, channels last): every output pixel is a Dense over its zero-padded input patch,
// flattened (filter row, filter column, channel) like the kernel. The mMAC and the row-wise Conv2D both work
// so, on the same geometry.

// The geometry of the kit's convolutions (channels last, undilated): the input, the output, the kernel, the
// strides and the padding, a line each.
struct conv2d_geometry {
    static const unsigned in_height = 8, in_width = 8, n_chan = 1;
    static const unsigned out_height = 6, out_width = 6, n_filt = 4;
    static const unsigned filt_height = 3, filt_width = 3;
    static const unsigned stride_height = 1, stride_width = 1;
    static const unsigned pad_top = 0, pad_left = 0;
};

// The zero-padded input patch of output pixel (oh, ow), flattened (filter row, filter column, channel)
// like the kernel, so a Dense over the patch computes the pixel.
template <class data_T, typename CONFIG_T>
void gather_patch(const data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
                  data_T patch[CONFIG_T::filt_height * CONFIG_T::filt_width * CONFIG_T::n_chan], unsigned oh,
                  unsigned ow) {
    #pragma HLS INLINE
Patch:
    for (unsigned fh = 0; fh < CONFIG_T::filt_height; fh++) {
        for (unsigned fw = 0; fw < CONFIG_T::filt_width; fw++) {
            const int ih = int(oh * CONFIG_T::stride_height + fh) - int(CONFIG_T::pad_top);
            const int iw = int(ow * CONFIG_T::stride_width + fw) - int(CONFIG_T::pad_left);
            const bool inside = ih >= 0 && ih < int(CONFIG_T::in_height) && iw >= 0 && iw < int(CONFIG_T::in_width);
            for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
                #pragma HLS UNROLL
                patch[(fh * CONFIG_T::filt_width + fw) * CONFIG_T::n_chan + c] =
                    inside ? data[(ih * CONFIG_T::in_width + iw) * CONFIG_T::n_chan + c] : data_T(0);
            }
        }
    }
}

// A convolution pixel by pixel: each output pixel is `patch_dense::apply` (the layer's Dense over the pixel's
// zero-padded input patch, given the layer's own arguments: its tables, biases and the resolution), written at
// its place. One loop serves the mMAC and the row-wise Conv2D.
template <class data_T, class res_T, typename CONFIG_T, class patch_dense, class... args_T>
void conv2d_pixels(const data_T data[CONFIG_T::in_height * CONFIG_T::in_width * CONFIG_T::n_chan],
                   res_T res[CONFIG_T::out_height * CONFIG_T::out_width * CONFIG_T::n_filt], const args_T &...args) {
    #pragma HLS INLINE
    const unsigned patch_size = CONFIG_T::filt_height * CONFIG_T::filt_width * CONFIG_T::n_chan;
Pixels:
    for (unsigned oh = 0; oh < CONFIG_T::out_height; oh++) {
        for (unsigned ow = 0; ow < CONFIG_T::out_width; ow++) {
            data_T patch[patch_size];
            #pragma HLS ARRAY_PARTITION variable = patch complete
            gather_patch<data_T, CONFIG_T>(data, patch, oh, ow);
            res_T pixel[CONFIG_T::n_filt];
            #pragma HLS ARRAY_PARTITION variable = pixel complete
            patch_dense::template apply<data_T, res_T, typename CONFIG_T::dense_config>(patch, pixel, args...);
            for (unsigned f = 0; f < CONFIG_T::n_filt; f++) {
                #pragma HLS UNROLL
                res[(oh * CONFIG_T::out_width + ow) * CONFIG_T::n_filt + f] = pixel[f];
            }
        }
    }
}

} // namespace nnet

#endif
