// A stand-in for the vendor's ap_axi_sdata.h (it ships with Vivado/Vitis HLS, not here), for the tests only:
// the AXI-Stream word ap_axiu<D, U, TI, TD> with the members the vendor's has (TDATA, TKEEP, TSTRB, TUSER,
// TLAST, TID, TDEST), and the member-less side channels of Vitis HLS when U, TI and TD are 0. Put on the
// include path, it makes the kit's AXI-Stream top take the vendor's word type instead of its own.
#ifndef MRFPGA_TEST_AP_AXI_SDATA_H
#define MRFPGA_TEST_AP_AXI_SDATA_H

#include "ap_int.h"

template <int D, int U, int TI, int TD> struct ap_axiu {
    ap_uint<D> data;
    ap_uint<(D + 7) / 8> keep;
    ap_uint<(D + 7) / 8> strb;
    ap_uint<U> user;
    ap_uint<1> last;
    ap_uint<TI> id;
    ap_uint<TD> dest;
};

template <int D> struct ap_axiu<D, 0, 0, 0> {
    ap_uint<D> data;
    ap_uint<(D + 7) / 8> keep;
    ap_uint<(D + 7) / 8> strb;
    ap_uint<1> last;
};

#endif
