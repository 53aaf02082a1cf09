# mrfpga: block design and bitstream for @{board} (@{part}): Zynq PS + the exported hls4ml IP "@{top}".
# Written by mrfpga.hls.vivado_project.write_vivado_scripts. After the HLS export, run:
#   vivado -mode batch -source build_bitstream.tcl
# It reads only ../@{project_name}_prj/solution1/impl/ip (the export_design output, found relative to this
# script) and writes the Vivado project to ./@{project_name}_vivado and the results to ./output:
# @{project_name}.bit + @{project_name}.hwh (a PYNQ overlay), @{project_name}.xsa, utilization and timing reports.
#
# Interfaces the IP must have (found by type, so HLS bundle names do not matter):
#   io_parallel: one AXI-Lite slave (s_axilite) holding the inputs, the outputs, the resolution register and
#                the ap_start/ap_done control; the PS reaches it through M_AXI_GP0.
#   io_stream:   one AXI-Stream input and one AXI-Stream output (with TLAST) fed by an AXI DMA in DDR
#                (through S_AXI_HP0), and one AXI-Lite slave with the resolution register and the control.
#                hls4ml's own io_stream top has neither TLAST nor DMA-sized words, so the kit exports the
#                wrapper @{project_name}_axis() (firmware/@{project_name}_axis.h: one value per 32/64-bit word).
# Clock: PS FCLK_CLK0 at @{fclk_mhz} MHz (@{clock_period_ns} ns) drives the whole design; proc_sys_reset
# turns FCLK_RESET0_N into synchronous resets.
# Template placeholders are @@{name} (Python string.Template with the delimiter "@@").

set part            "@{part}"
set clock_period_ns @{clock_period_ns}
set fclk_mhz        @{fclk_mhz}
set io_type         "@{io_type}"
set top             "@{top}"
set board_pattern   "@{board_pattern}"

@{shared_procs}

# The one interface pin of `cell` of bus type `bus` (aximm_rtl, axis_rtl) and `mode` (Master, Slave).
proc only_intf {cell bus mode what} {
    set filter "VLNV =~ \"xilinx.com:interface:${bus}:*\" && MODE == $mode"
    set pins [get_bd_intf_pins -quiet -of_objects $cell -filter $filter]
    if {[llength $pins] != 1} { error "the IP needs exactly one $what; it has [llength $pins]: $pins" }
    return $pins
}

# --- project: part, board files, IP catalog ---------------------------------------------------------------
set script_dir [file dirname [file normalize [info script]]]
set ip_repo [exported_ip_repo $script_dir @{project_name}]
set out_dir [file join $script_dir output]
create_project @{project_name}_vivado [file join $script_dir @{project_name}_vivado] -part $part -force
set board_part [lindex [get_board_parts -quiet -latest_file_version $board_pattern] end]
if {$board_part ne ""} {
    set_property board_part $board_part [current_project]
    set preset 1
} else {
    puts "CRITICAL WARNING: no board files for $board_pattern: the PS keeps default DDR/MIO settings;\
          install the board files for a PS configured for the board."
    set preset 0
}
use_ip_repo $part $ip_repo

# --- block design ------------------------------------------------------------------------------------------
create_bd_design design_1
set ps [create_bd_cell -type ip -vlnv [latest_ipdef xilinx.com:ip:processing_system7:*] processing_system7_0]
apply_bd_automation -rule xilinx.com:bd_rule:processing_system7 \
    -config [list make_external "FIXED_IO, DDR" apply_board_preset $preset Master Disable Slave Disable] $ps
set_property -dict [list CONFIG.PCW_USE_M_AXI_GP0 1 CONFIG.PCW_EN_CLK0_PORT 1 CONFIG.PCW_EN_RST0_PORT 1 \
    CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ $fclk_mhz CONFIG.PCW_USE_S_AXI_HP0 [expr {$io_type eq "io_stream"}]] $ps

set ip [create_bd_cell -type ip -vlnv [latest_ipdef "*:*:${top}:*"] ${top}_0]
set rst [create_bd_cell -type ip -vlnv [latest_ipdef xilinx.com:ip:proc_sys_reset:*] rst_ps7_0]
set ctrl [create_bd_cell -type ip -vlnv [latest_ipdef xilinx.com:ip:smartconnect:*] ctrl_smc]
set lite [only_intf $ip aximm_rtl Slave "AXI-Lite slave (s_axilite) with the resolution register"]

# Clock and resets: one domain, FCLK_CLK0.
set clk [get_bd_pins processing_system7_0/FCLK_CLK0]
connect_bd_net $clk [get_bd_pins processing_system7_0/M_AXI_GP0_ACLK] [get_bd_pins rst_ps7_0/slowest_sync_clk] \
    [get_bd_pins ctrl_smc/aclk] [get_bd_pins ${top}_0/ap_clk]
connect_bd_net [get_bd_pins processing_system7_0/FCLK_RESET0_N] [get_bd_pins rst_ps7_0/ext_reset_in]
connect_bd_net [get_bd_pins rst_ps7_0/interconnect_aresetn] [get_bd_pins ctrl_smc/aresetn]
connect_bd_net [get_bd_pins rst_ps7_0/peripheral_aresetn] [get_bd_pins ${top}_0/ap_rst_n]

# Control path: PS M_AXI_GP0 -> smartconnect -> the IP's AXI-Lite registers (and the DMA's, for io_stream).
connect_bd_intf_net [get_bd_intf_pins processing_system7_0/M_AXI_GP0] [get_bd_intf_pins ctrl_smc/S00_AXI]
connect_bd_intf_net [get_bd_intf_pins ctrl_smc/M00_AXI] $lite

if {$io_type eq "io_stream"} {
    # Data path: DDR -> S_AXI_HP0 -> DMA MM2S -> IP -> DMA S2MM -> S_AXI_HP0 -> DDR.
    set s_in [only_intf $ip axis_rtl Slave "AXI-Stream input (the data; the resolution belongs on AXI-Lite)"]
    set s_out [only_intf $ip axis_rtl Master "AXI-Stream output"]
    if {![get_property CONFIG.HAS_TLAST $s_out]} {
        error "the IP's output stream $s_out has no TLAST: the DMA's S2MM transfer would never finish\
               (export the AXI-Stream top @{project_name}_axis: build_prj.tcl's set_top)"
    }
    set in_bits [expr {8 * [get_property CONFIG.TDATA_NUM_BYTES $s_in]}]
    set out_bits [expr {8 * [get_property CONFIG.TDATA_NUM_BYTES $s_out]}]
    foreach bits [list $in_bits $out_bits] {
        if {$bits ni {32 64 128 256 512 1024}} {
            error "an IP stream is $bits bits wide; the AXI DMA needs 32, 64, ... 1024: pack the stream words"
        }
    }
    set dma [create_bd_cell -type ip -vlnv [latest_ipdef xilinx.com:ip:axi_dma:*] axi_dma_0]
    set_property -dict [list CONFIG.c_include_sg 0 CONFIG.c_sg_length_width 26 \
        CONFIG.c_m_axi_mm2s_data_width $in_bits CONFIG.c_m_axis_mm2s_tdata_width $in_bits \
        CONFIG.c_m_axi_s2mm_data_width $out_bits CONFIG.c_s_axis_s2mm_tdata_width $out_bits \
        CONFIG.c_mm2s_burst_size 16 CONFIG.c_s2mm_burst_size 16] $dma
    set mem [create_bd_cell -type ip -vlnv [latest_ipdef xilinx.com:ip:smartconnect:*] mem_smc]
    set_property -dict [list CONFIG.NUM_SI 2 CONFIG.NUM_MI 1] $mem
    set_property -dict [list CONFIG.NUM_SI 1 CONFIG.NUM_MI 2] $ctrl

    connect_bd_intf_net [get_bd_intf_pins axi_dma_0/M_AXIS_MM2S] $s_in
    connect_bd_intf_net $s_out [get_bd_intf_pins axi_dma_0/S_AXIS_S2MM]
    connect_bd_intf_net [get_bd_intf_pins ctrl_smc/M01_AXI] [get_bd_intf_pins axi_dma_0/S_AXI_LITE]
    connect_bd_intf_net [get_bd_intf_pins axi_dma_0/M_AXI_MM2S] [get_bd_intf_pins mem_smc/S00_AXI]
    connect_bd_intf_net [get_bd_intf_pins axi_dma_0/M_AXI_S2MM] [get_bd_intf_pins mem_smc/S01_AXI]
    connect_bd_intf_net [get_bd_intf_pins mem_smc/M00_AXI] [get_bd_intf_pins processing_system7_0/S_AXI_HP0]
    connect_bd_net $clk [get_bd_pins axi_dma_0/s_axi_lite_aclk] [get_bd_pins axi_dma_0/m_axi_mm2s_aclk] \
        [get_bd_pins axi_dma_0/m_axi_s2mm_aclk] [get_bd_pins mem_smc/aclk] \
        [get_bd_pins processing_system7_0/S_AXI_HP0_ACLK]
    connect_bd_net [get_bd_pins rst_ps7_0/peripheral_aresetn] [get_bd_pins axi_dma_0/axi_resetn]
    connect_bd_net [get_bd_pins rst_ps7_0/interconnect_aresetn] [get_bd_pins mem_smc/aresetn]
} else {
    set_property -dict [list CONFIG.NUM_SI 1 CONFIG.NUM_MI 1] $ctrl
}

assign_bd_address
validate_bd_design
set act_mhz [get_property CONFIG.PCW_ACT_FPGA0_PERIPHERAL_FREQMHZ $ps]
if {abs($act_mhz - $fclk_mhz) > 0.01 * $fclk_mhz} {
    error "the PS makes FCLK_CLK0 $act_mhz MHz, not the $fclk_mhz MHz of a $clock_period_ns ns clock"
}
save_bd_design

# --- synthesis, implementation, bitstream ----------------------------------------------------------------
set bd_file [get_files design_1.bd]
add_files -norecurse [make_wrapper -files $bd_file -top]
set_property top design_1_wrapper [current_fileset]
update_compile_order -fileset sources_1
launch_runs impl_1 -to_step write_bitstream -jobs 4
wait_on_run impl_1
if {[get_property PROGRESS [get_runs impl_1]] ne "100%"} {
    error "implementation failed: see [get_property DIRECTORY [get_runs impl_1]]/runme.log"
}

open_run impl_1
set period [get_property PERIOD [get_clocks clk_fpga_0]]
if {abs($period - $clock_period_ns) > 0.01 * $clock_period_ns} {
    error "the implemented clock clk_fpga_0 has a $period ns period, expected $clock_period_ns ns"
}
file mkdir $out_dir
report_utilization -file [file join $out_dir utilization.rpt]
report_timing_summary -file [file join $out_dir timing_summary.rpt]
set wns [get_property STATS.WNS [get_runs impl_1]]
if {$wns < 0} { puts "CRITICAL WARNING: timing not met at $clock_period_ns ns (WNS $wns ns)" }
file copy -force [file join [get_property DIRECTORY [get_runs impl_1]] design_1_wrapper.bit] \
    [file join $out_dir @{project_name}.bit]
file copy -force [lindex [get_files -all design_1.hwh] 0] [file join $out_dir @{project_name}.hwh]
write_hw_platform -fixed -include_bit -force -file [file join $out_dir @{project_name}.xsa]
puts "mrfpga: bitstream in [file join $out_dir @{project_name}.bit]"
