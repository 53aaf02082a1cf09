// mrfpga: AXI-Stream top for the io_stream hls4ml top @{project}(); the word format is in @{project}_axis.h.
// Sequential on purpose: a sample's words are buffered whole before @{project}() runs, and its results
// after, so the local streams are deep enough for any schedule and cannot deadlock.
#include "@{project}_axis.h"

void @{project}_axis(hls::stream<@{project}_axis_in_t> &in_stream, hls::stream<@{project}_axis_out_t> &out_stream,
                     @{project}_axis_resolution_t resolution) {
    #pragma HLS INTERFACE axis port=in_stream
    #pragma HLS INTERFACE axis port=out_stream
    #pragma HLS INTERFACE s_axilite port=resolution bundle=control
    #pragma HLS INTERFACE s_axilite port=return bundle=control

    hls::stream<@{in_type}> in_local("in_local");
    #pragma HLS STREAM variable=in_local depth=@{in_depth}
    hls::stream<@{out_type}> out_local("out_local");
    #pragma HLS STREAM variable=out_local depth=@{out_depth}

    bool last = false;
samples:
    do {
        #pragma HLS LOOP_TRIPCOUNT min=1 max=1
    read_words:
        for (unsigned i = 0; i < @{upper}_AXIS_N_IN / @{in_type}::size; i++) {
            @{in_type} packed;
        read_values:
            for (unsigned j = 0; j < @{in_type}::size; j++) {
                #pragma HLS PIPELINE II=1
                @{project}_axis_in_t word = in_stream.read();
                packed[j].range(@{in_width} - 1, 0) = word.data.range(@{in_width} - 1, 0);
                last = last || word.last;
            }
            in_local.write(packed);
        }

        @{project}(in_local, resolution, out_local);

    write_words:
        for (unsigned i = 0; i < @{upper}_AXIS_N_OUT / @{out_type}::size; i++) {
            @{out_type} packed = out_local.read();
        write_values:
            for (unsigned j = 0; j < @{out_type}::size; j++) {
                #pragma HLS PIPELINE II=1
                @{out_raw_type} raw;
                raw.range(@{out_width} - 1, 0) = packed[j].range(@{out_width} - 1, 0);
                @{project}_axis_out_t word;
                word.data = raw;  // @{out_extension} to the word
                word.keep = -1;   // every byte valid: the DMA's S2MM writes only the bytes TKEEP marks
                word.strb = -1;
                word.last = last && i == @{upper}_AXIS_N_OUT / @{out_type}::size - 1 && j == @{out_type}::size - 1;
                out_stream.write(word);
            }
        }
    } while (!last);
}
