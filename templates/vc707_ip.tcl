# mrfpga: out-of-context synthesis of the exported hls4ml IP "@{top}" for @{board} (@{part}).
# Written by mrfpga.hls.vivado_project.write_vivado_scripts. After the HLS export, run:
#   vivado -mode batch -source build_bitstream.tcl
# It reads only ../@{project_name}_prj/solution1/impl/ip (the export_design output, found relative to this
# script) and writes the Vivado project to ./@{project_name}_vivado and the results to ./output:
# @{top}_ooc.dcp (the synthesized IP), utilization and timing reports.
#
# @{board} has no ARM host, so this script makes no bitstream: it checks that the IP synthesizes on the part
# and meets the @{clock_period_ns} ns clock. For io_stream the IP is the AXI-Stream top @{project_name}_axis
# (32/64-bit words with TLAST; format in firmware/@{project_name}_axis.h). Integrating it into a system is
# board work (docs/axi_stream.md walks through it):
#   * MicroBlaze host: a block design with microblaze (+ local memory, mdm, clk_wiz from the 200 MHz
#     SYSCLK, proc_sys_reset) and an AXI interconnect (smartconnect) to the IP's AXI-Lite slave; for
#     io_stream add an axi_dma whose MM2S/S2MM streams feed the IP's AXI-Stream ports and a MIG DDR3
#     controller for the DMA's buffers.
#   * PCIe host: xdma (AXI Bridge/DMA for PCIe, Gen2 x8 on the VC707) whose M_AXI_LITE (BAR) reaches the
#     IP's AXI-Lite slave through an AXI interconnect, and whose H2C/C2H streams or M_AXI DMA feed the data.
#   In both, the resolution is a register of the IP's AXI-Lite slave (s_axilite, written before ap_start),
#   and the IP's ap_clk must come from a clock at @{clock_period_ns} ns, or the IP re-synthesized for the
#   clock the system provides.
# Template placeholders are @@{name} (Python string.Template with the delimiter "@@").

set part            "@{part}"
set clock_period_ns @{clock_period_ns}
set top             "@{top}"

@{shared_procs}

# --- project: part and IP catalog --------------------------------------------------------------------------
set script_dir [file dirname [file normalize [info script]]]
set ip_repo [exported_ip_repo $script_dir @{project_name}]
set out_dir [file join $script_dir output]
create_project @{project_name}_vivado [file join $script_dir @{project_name}_vivado] -part $part -force
use_ip_repo $part $ip_repo

# --- the IP, synthesized out of context with its clock -----------------------------------------------------
create_ip -vlnv [latest_ipdef "*:*:${top}:*"] -module_name ${top}_0
set xci [get_files ${top}_0.xci]
# Global synthesis: the IP's HDL is synthesized by the synth_design below, under the clock constraint below.
set_property generate_synth_checkpoint false $xci
generate_target {instantiation_template synthesis} $xci

file mkdir $out_dir
set xdc [file join $out_dir ${top}_clock.xdc]
set f [open $xdc w]
puts $f "create_clock -name ap_clk -period $clock_period_ns \[get_ports ap_clk\]"
close $f
add_files -fileset constrs_1 -norecurse $xdc
set_property USED_IN {synthesis out_of_context} [get_files $xdc]

synth_design -top ${top}_0 -part $part -mode out_of_context
set period [get_property PERIOD [get_clocks ap_clk]]
if {abs($period - $clock_period_ns) > 0.01 * $clock_period_ns} {
    error "the synthesized clock ap_clk has a $period ns period, expected $clock_period_ns ns"
}
report_utilization -file [file join $out_dir utilization.rpt]
report_timing_summary -file [file join $out_dir timing_summary.rpt]
set slack [get_property SLACK [get_timing_paths -max_paths 1 -setup]]
if {$slack < 0} { puts "CRITICAL WARNING: timing not met at $clock_period_ns ns (WNS $slack ns)" }
write_checkpoint -force [file join $out_dir ${top}_ooc.dcp]
puts "mrfpga: out-of-context checkpoint in [file join $out_dir ${top}_ooc.dcp]"
