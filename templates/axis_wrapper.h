// mrfpga: AXI-Stream top for the io_stream hls4ml top @{project}() (written by mrfpga.hls.axis_wrapper).
// It puts the model behind one AXI-Stream input, one AXI-Stream output with TLAST and one AXI-Lite slave
// (the resolution register and ap_start/ap_done), the ports an AXI DMA and a PS can drive.
//
// Word format (the AXI DMA moves whole words; the host packs and unpacks them):
//   input:  @{n_in} words of @{in_word_bits} bits per sample, one input value per word, in the model's
//           flattened input order. The low @{in_width} bits are the raw bits of the @{in_precision} value,
//           i.e. the word is round(x * 2^@{in_frac}) (@{in_frac} fractional bits); higher bits are ignored, so
//           a sign-extended integer is right.
//   output: @{n_out} words of @{out_word_bits} bits per sample, one output value per word. The word is the
//           raw bits of the @{out_precision} value, @{out_extension}: y = word / 2^@{out_frac}.
//   TLAST:  a call reads samples until the sample whose input words carry TLAST (the DMA's MM2S sets it
//           on the last word of a transfer: send whole samples) and sets TLAST on the last output word of
//           that sample, which ends the DMA's S2MM transfer.
//   resolution: an AXI-Lite register (s_axilite), read once per call (0 .. @{n_res_minus_1}).
#ifndef @{guard}
#define @{guard}

#include "@{project}.h"

// The vendor's ap_axi_sdata.h whenever it is on the include path: synthesis, and Vivado/Vitis HLS C simulation
// and co-simulation (a compiler without __has_include, such as the old g++ of Vivado HLS, gets the stand-in).
#if defined(__SYNTHESIS__)
#define MRFPGA_VENDOR_AXIS 1
#elif defined(__has_include)
#if __has_include("ap_axi_sdata.h")
#define MRFPGA_VENDOR_AXIS 1
#endif
#endif

#ifdef MRFPGA_VENDOR_AXIS
#include "ap_axi_sdata.h"
// @{axiu_note}
typedef ap_axiu<@{in_word_bits}, @{side_channels}> @{project}_axis_in_t;
typedef ap_axiu<@{out_word_bits}, @{side_channels}> @{project}_axis_out_t;
#else
// Without the vendor headers (g++ and hls4ml's ap_types only): a word with the fields the wrapper uses.
// TUSER/TID/TDEST exist only in the vendor's type and are not driven.
template <int D> struct mrfpga_axis_word {
    ap_uint<D> data;
    ap_uint<(D + 7) / 8> keep;
    ap_uint<(D + 7) / 8> strb;
    ap_uint<1> last;
};
typedef mrfpga_axis_word<@{in_word_bits}> @{project}_axis_in_t;
typedef mrfpga_axis_word<@{out_word_bits}> @{project}_axis_out_t;
#endif

typedef @{resolution_type} @{project}_axis_resolution_t;

static const unsigned @{upper}_AXIS_N_IN = @{n_in};    // input words per sample
static const unsigned @{upper}_AXIS_N_OUT = @{n_out};  // output words per sample
static const unsigned @{upper}_AXIS_IN_WIDTH = @{in_width};
static const int @{upper}_AXIS_IN_FRAC = @{in_frac};
static const unsigned @{upper}_AXIS_OUT_WIDTH = @{out_width};
static const int @{upper}_AXIS_OUT_FRAC = @{out_frac};
static const bool @{upper}_AXIS_OUT_SIGNED = @{out_signed};
static const unsigned @{upper}_AXIS_N_RESOLUTIONS = @{n_res};

void @{project}_axis(hls::stream<@{project}_axis_in_t> &in_stream, hls::stream<@{project}_axis_out_t> &out_stream,
                     @{project}_axis_resolution_t resolution);

#endif
