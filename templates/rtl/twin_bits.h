// Raw bit fields of Verilator ports, narrow (integers) and wide (VlWide), for the twins' testbenches.
#ifndef MRFPGA_TWIN_BITS_H_
#define MRFPGA_TWIN_BITS_H_

#include <cstdint>

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

#endif
