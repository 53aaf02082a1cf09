// For the twins' testbenches: raw bit fields of Verilator ports, narrow (integers) and wide (VlWide), and the
// input file's runs and codes.
#ifndef MRFPGA_TWIN_BITS_H_
#define MRFPGA_TWIN_BITS_H_

#include <cstdint>
#include <cstdio>
#include <istream>
#include <vector>

#include "verilated.h"

template <class T> static void put_bits(T &port, unsigned lsb, unsigned width, uint64_t value) {
    for (unsigned b = 0; b < width; b++) {
        const T mask = T(T(1) << (lsb + b));
        port = ((value >> b) & 1) ? T(port | mask) : T(port & ~mask);
    }
}

template <std::size_t N> static void put_bits(VlWide<N> &port, unsigned lsb, unsigned width, uint64_t value) {
    for (unsigned b = 0; b < width; b++) {
        const unsigned pos = lsb + b;
        const EData mask = EData(1) << (pos % 32);
        port.at(pos / 32) = ((value >> b) & 1) ? (port.at(pos / 32) | mask) : (port.at(pos / 32) & ~mask);
    }
}

template <class T> static uint64_t get_bits(const T &port, unsigned lsb, unsigned width) {
    uint64_t value = 0;
    for (unsigned b = 0; b < width; b++) value |= uint64_t((port >> (lsb + b)) & 1) << b;
    return value;
}

template <std::size_t N> static uint64_t get_bits(const VlWide<N> &port, unsigned lsb, unsigned width) {
    uint64_t value = 0;
    for (unsigned b = 0; b < width; b++) {
        const unsigned pos = lsb + b;
        value |= uint64_t((port.at(pos / 32) >> (pos % 32)) & 1) << b;
    }
    return value;
}

// After the header: each run's resolution, then `n_codes` codes; false, with a message, when the file has fewer.
static bool read_runs(std::istream &in, const char *name, unsigned runs, std::size_t n_codes,
                      std::vector<unsigned> &resolutions, std::vector<uint64_t> &codes) {
    resolutions.assign(runs, 0);
    for (auto &r : resolutions) in >> r;
    codes.assign(n_codes, 0);
    for (auto &code : codes) in >> code;
    if (!in) std::fprintf(stderr, "%s: fewer codes than the header says\n", name);
    return bool(in);
}

static FILE *open_output(const char *name) {
    FILE *out = std::fopen(name, "w");
    if (!out) std::fprintf(stderr, "cannot write %s\n", name);
    return out;
}

#endif
