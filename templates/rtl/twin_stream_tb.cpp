// Verilator testbench of a streaming twin (mrfpga.hls.twin.stream): valid/ready on both sides.
//
// Reads `in_file`: a header "frames words p in_width out_words q out_width runs back_to_back", the resolution of
// each run, then one line of raw input codes per frame (words * p of them). Each run streams every frame: the
// words of a frame one a cycle while the design takes them, the next frame's right after (back_to_back 1) or
// once the previous frame's last output word was taken (0; a frame whose output is out before its last input word
// is taken is still fed to its end). The output side is always ready; a frame is out_words words of q values. For
// every frame it writes "resolution frame first last outputs..." to `out_file`: the cycle its first word was
// taken, the cycle its last output word was, counted from the run's first cycle, and the outputs as raw unsigned
// codes.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <vector>

#include "Vmrfpga_top.h"
#include "twin_bits.h"
#include "verilated.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s in_file out_file\n", argv[0]);
        return 1;
    }
    std::ifstream in(argv[1]);
    unsigned frames, words, p, in_width, out_words, q, out_width, runs, back_to_back;
    if (!(in >> frames >> words >> p >> in_width >> out_words >> q >> out_width >> runs >> back_to_back)) {
        std::fprintf(stderr, "%s: bad header\n", argv[1]);
        return 1;
    }
    std::vector<unsigned> resolutions;
    std::vector<uint64_t> codes;
    if (!read_runs(in, argv[1], runs, std::size_t(frames) * words * p, resolutions, codes)) return 1;
    FILE *out = open_output(argv[2]);
    if (!out) return 1;

    VerilatedContext context;
    Vmrfpga_top top{&context};
    const uint64_t limit = 100000000; // a design that never answers is a bug, not a long layer
    for (unsigned run = 0; run < runs; run++) {
        top.resolution = resolutions[run];
        top.in_valid = 0;
        top.out_ready = 1;
        top.rst = 1;
        for (int i = 0; i < 2; i++) {
            top.clk = 0;
            top.eval();
            top.clk = 1;
            top.eval();
        }
        top.rst = 0;
        std::vector<uint64_t> first(frames, 0), outputs(std::size_t(out_words) * q);
        unsigned frame_in = 0, word = 0, frame_out = 0, word_out = 0;
        for (uint64_t cycle = 0; frame_out < frames; cycle++) {
            if (cycle > limit) {
                std::fprintf(stderr, "resolution %u: frame %u not out after %llu cycles\n", resolutions[run], frame_out,
                             (unsigned long long)limit);
                return 2;
            }
            const bool offer = frame_in < frames && (back_to_back || frame_in <= frame_out);
            top.clk = 0;
            top.in_valid = offer;
            if (offer) {
                for (unsigned i = 0; i < p; i++)
                    put_bits(top.in_data, i * in_width, in_width, codes[(std::size_t(frame_in) * words + word) * p + i]);
            }
            top.eval();
            const bool took_in = offer && top.in_ready, gave_out = top.out_valid;
            if (gave_out) {
                for (unsigned o = 0; o < q; o++)
                    outputs[std::size_t(word_out) * q + o] = get_bits(top.out_data, o * out_width, out_width);
                if (++word_out == out_words) {
                    std::fprintf(out, "%u %u %llu %llu", resolutions[run], frame_out,
                                 (unsigned long long)first[frame_out], (unsigned long long)cycle);
                    for (const uint64_t v : outputs) std::fprintf(out, " %llu", (unsigned long long)v);
                    std::fprintf(out, "\n");
                    word_out = 0;
                    frame_out++;
                }
            }
            if (took_in) {
                if (word == 0) first[frame_in] = cycle;
                if (++word == words) {
                    word = 0;
                    frame_in++;
                }
            }
            top.clk = 1;
            top.eval();
        }
    }
    std::fclose(out);
    top.final();
    return 0;
}
