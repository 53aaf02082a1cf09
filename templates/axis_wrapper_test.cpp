// mrfpga: g++ testbench of the AXI-Stream top @{project}_axis() (written by mrfpga.hls.axis_wrapper), and the
// HLS project's C simulation and co-simulation testbench (build_prj.tcl adds it with -tb).
// Usage: ./tb_axis [samples per call]. Reads tb_data/tb_input_features.dat (one sample per line: the inputs,
// then the resolution index), packs the words as a host would (round(x * 2^frac), TLAST on the last word of
// each call), runs consecutive samples of one resolution through @{project}_axis() in calls of up to N
// samples and, on the same inputs, @{project}() directly. Writes the unpacked outputs to
// tb_data/axis_csim_results.log (exact decimal) and exits non-zero if a word differs from the direct
// result or from tb_data/tb_output_predictions.dat (when it has a line per sample: the exact reference),
// TLAST is misplaced or the word count is wrong.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "firmware/@{project}.h"
#include "firmware/@{project}_axis.h"

struct Sample {
    std::vector<double> x;
    unsigned resolution;
};

// The numbers of each non-empty line of a text file; false if a line does not hold `width` of them.
static bool read_rows(const char *path, size_t width, std::vector<std::vector<double> > &rows) {
    std::ifstream fin(path);
    std::string line;
    while (std::getline(fin, line)) {
        std::istringstream fields(line);
        std::vector<double> values;
        double v;
        while (fields >> v) values.push_back(v);
        if (values.empty()) continue;
        if (values.size() != width) {
            std::cerr << path << ": a line has " << values.size() << " numbers, expected " << width << std::endl;
            return false;
        }
        rows.push_back(values);
    }
    return true;
}

static bool read_samples(const char *path, std::vector<Sample> &samples) {
    std::vector<std::vector<double> > rows;
    if (!read_rows(path, @{upper}_AXIS_N_IN + 1, rows)) return false;
    for (size_t r = 0; r < rows.size(); r++) {
        Sample s;
        s.resolution = (unsigned)rows[r].back();
        rows[r].pop_back();
        s.x = rows[r];
        samples.push_back(s);
    }
    return !samples.empty();
}

// The host's view of an output word: the raw value, sign- or zero-extended, over 2^frac.
static double unpack(const @{project}_axis_out_t &word) {
    const double scale = std::ldexp(1.0, -(int)@{upper}_AXIS_OUT_FRAC);
    if (@{upper}_AXIS_OUT_SIGNED) return (double)ap_int<@{out_word_bits}>(word.data).to_int64() * scale;
    return (double)word.data.to_uint64() * scale;
}

// The expected outputs, one line per sample; empty when the file is missing or does not match the samples.
static std::vector<std::vector<double> > read_expected(const char *path, size_t n_samples) {
    std::vector<std::vector<double> > rows;
    std::ifstream probe(path);
    if (!probe || !read_rows(path, @{upper}_AXIS_N_OUT, rows) || rows.size() != n_samples) rows.clear();
    return rows;
}

int main(int argc, char **argv) {
    const unsigned batch = argc > 1 ? (unsigned)std::atoi(argv[1]) : 1;
    std::vector<Sample> samples;
    if (batch == 0 || !read_samples("tb_data/tb_input_features.dat", samples)) {
        std::cerr << "usage: tb_axis [samples per call >= 1], with tb_data/tb_input_features.dat" << std::endl;
        return 2;
    }
    const std::vector<std::vector<double> > expected = read_expected("tb_data/tb_output_predictions.dat", samples.size());
    std::ofstream fout("tb_data/axis_csim_results.log");
    fout.precision(17);  // doubles round-trip: the outputs are exact binary fractions
    unsigned errors = 0, calls = 0;
    for (size_t first = 0; first < samples.size();) {
        size_t end = first;
        while (end < samples.size() && end - first < batch && samples[end].resolution == samples[first].resolution)
            end++;
        const unsigned resolution = samples[first].resolution;

        hls::stream<@{project}_axis_in_t> in_stream;
        hls::stream<@{project}_axis_out_t> out_stream;
        for (size_t s = first; s < end; s++) {
            for (unsigned i = 0; i < @{upper}_AXIS_N_IN; i++) {
                @{project}_axis_in_t word;
                word.data = (long long)std::llround(std::ldexp(samples[s].x[i], @{upper}_AXIS_IN_FRAC));
                word.keep = -1;
                word.strb = -1;
                word.last = s == end - 1 && i == @{upper}_AXIS_N_IN - 1;
                in_stream.write(word);
            }
        }
        @{project}_axis(in_stream, out_stream, resolution);
        calls++;
        if (!in_stream.empty()) {
            std::cerr << "call " << calls << ": input words left unread" << std::endl;
            errors++;
        }

        for (size_t s = first; s < end; s++) {
            hls::stream<@{in_type}> direct_in;
            hls::stream<@{out_type}> direct_out;
            for (unsigned i = 0; i < @{upper}_AXIS_N_IN / @{in_type}::size; i++) {
                @{in_type} packed;
                for (unsigned j = 0; j < @{in_type}::size; j++)
                    packed[j] = samples[s].x[i * @{in_type}::size + j];
                direct_in.write(packed);
            }
            @{project}(direct_in, @{resolution_type}(resolution), direct_out);
            for (unsigned i = 0; i < @{upper}_AXIS_N_OUT / @{out_type}::size; i++) {
                @{out_type} packed = direct_out.read();
                for (unsigned j = 0; j < @{out_type}::size; j++) {
                    if (out_stream.empty()) {
                        std::cerr << "call " << calls << ": too few output words" << std::endl;
                        return 1;
                    }
                    @{project}_axis_out_t word = out_stream.read();
                    const bool final_word = s == end - 1 && i == @{upper}_AXIS_N_OUT / @{out_type}::size - 1 &&
                                            j == @{out_type}::size - 1;
                    const double y = unpack(word);
                    const unsigned o = i * @{out_type}::size + j;
                    if (y != packed[j].to_double() || bool(word.last) != final_word || !word.keep.and_reduce()) {
                        std::cerr << "sample " << s << " output " << o << ": word " << y << " last " << word.last
                                  << ", direct " << packed[j].to_double() << std::endl;
                        errors++;
                    }
                    if (!expected.empty() && y != expected[s][o]) {
                        std::cerr << "sample " << s << " output " << o << ": word " << y << ", expected "
                                  << expected[s][o] << std::endl;
                        errors++;
                    }
                    fout << (o ? " " : "") << y;
                }
            }
            fout << "\n";
        }
        if (!out_stream.empty()) {
            std::cerr << "call " << calls << ": too many output words" << std::endl;
            errors++;
        }
        first = end;
    }
#ifdef MRFPGA_VENDOR_AXIS
    const char *words = "the vendor's ap_axiu (ap_axi_sdata.h)";
#else
    const char *words = "the stand-in word (no ap_axi_sdata.h)";
#endif
    std::cout << samples.size() << " samples in " << calls << " calls, " << errors << " errors; "
              << (expected.empty() ? "no" : "checked against the") << " expected outputs; words: " << words
              << std::endl;
    return errors ? 1 : 0;
}
