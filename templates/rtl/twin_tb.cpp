// Verilator testbench of the mrfpga Verilog twin (mrfpga.hls.rtl).
//
// Reads `in_file`: a header "samples n_in in_width n_out out_width runs", the resolution of each run, then one
// line of raw input codes per sample. For every run and sample it raises `start` for one edge, counts the edges
// up to the one after which `done` shows (that edge included), and writes "resolution sample cycles outputs..."
// to `out_file`, the outputs as raw unsigned codes.
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
    unsigned samples, n_in, in_width, n_out, out_width, runs;
    if (!(in >> samples >> n_in >> in_width >> n_out >> out_width >> runs)) {
        std::fprintf(stderr, "%s: bad header\n", argv[1]);
        return 1;
    }
    std::vector<unsigned> resolutions;
    std::vector<uint64_t> codes;
    if (!read_runs(in, argv[1], runs, std::size_t(samples) * n_in, resolutions, codes)) return 1;
    FILE *out = open_output(argv[2]);
    if (!out) return 1;

    VerilatedContext context;
    Vmrfpga_top top{&context};
    auto tick = [&]() {
        top.clk = 0;
        top.eval();
        top.clk = 1;
        top.eval();
    };
    top.start = 0;
    top.rst = 1;
    tick();
    tick();
    top.rst = 0;
    tick();
    const uint64_t limit = 100000000;  // a chain that never shows done is a bug, not a long layer
    for (unsigned run = 0; run < runs; run++) {
        for (unsigned s = 0; s < samples; s++) {
            for (unsigned i = 0; i < n_in; i++) put_bits(top.in_data, i * in_width, in_width, codes[std::size_t(s) * n_in + i]);
            top.resolution = resolutions[run];
            top.start = 1;
            tick();
            top.start = 0;
            uint64_t cycles = 1;
            while (!top.done) {
                tick();
                if (++cycles > limit) {
                    std::fprintf(stderr, "sample %u at resolution %u: no done after %llu cycles\n", s, resolutions[run],
                                 (unsigned long long)limit);
                    return 2;
                }
            }
            std::fprintf(out, "%u %u %llu", resolutions[run], s, (unsigned long long)cycles);
            for (unsigned o = 0; o < n_out; o++)
                std::fprintf(out, " %llu", (unsigned long long)get_bits(top.out_data, o * out_width, out_width));
            std::fprintf(out, "\n");
        }
    }
    std::fclose(out);
    top.final();
    return 0;
}
