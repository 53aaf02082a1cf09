# Stand-ins for the Vivado HLS / Vitis HLS commands of hls4ml's build_prj.tcl (as mrfpga leaves it).
#
# Built on the Vivado stand-ins (vivado.tcl: its logging, option parsing and checks); the HLS commands
# below replace the Vivado ones of the same name. They log every call and error on:
#   * a command or an option that is not stubbed;
#   * a missing file or folder (add_files, relative to the working folder, as HLS resolves it);
#   * a part other than $env(MRFPGA_EXPECT_PART) (set_part) or a clock other than
#     $env(MRFPGA_EXPECT_PERIOD_NS) (create_clock -period);
#   * C synthesis without a top, part and clock, or with a top that no added design source defines;
#   * export_design before csynth_design.
source [file join [file dirname [file normalize [info script]]] vivado.tcl]

namespace eval hls {
    variable project ""
    variable top ""
    variable sources {}   ;# design sources (not -tb)
    variable part ""
    variable clock 0
    variable synthesized 0
}

stub open_project {-reset} {} { set ::hls::project [lindex $pos 0] }
stub set_top {} {} { set ::hls::top [lindex $pos 0] }
stub add_files {-tb} {-cflags} {
    if {$::hls::project eq ""} { ::sim::fail "add_files before open_project" }
    foreach f $pos {
        ::sim::need_file $f "add_files"
        if {![dict exists $o -tb]} { lappend ::hls::sources $f }
    }
}
stub open_solution {-reset} {-flow_target} {}
stub config_array_partition {} {-maximum_size} {}
stub config_compile {} {-name_max_length} {}
stub config_schedule {-enable_dsp_full_reg=false -enable_dsp_full_reg=true} {} {}
stub set_part {} {} { ::sim::check_part [lindex $pos 0]; set ::hls::part [lindex $pos 0] }
stub create_clock {} {-period -name} {
    ::sim::check_period [dict get $o -period] "create_clock"
    set ::hls::clock [dict get $o -period]
}
stub set_clock_uncertainty {} {} {}
stub csim_design {} {} {
    if {![llength $::hls::sources]} { ::sim::fail "csim_design without design sources" }
}
stub csynth_design {} {} {
    if {$::hls::top eq "" || $::hls::part eq "" || !$::hls::clock} {
        ::sim::fail "csynth_design without a top, a part or a clock"
    }
    set defined 0
    foreach f $::hls::sources {
        set fh [open $f]
        set text [read $fh]
        close $fh
        if {[regexp "void\\s+$::hls::top\\s*\\(" $text]} { set defined 1 }
    }
    if {!$defined} { ::sim::fail "top function $::hls::top is defined in none of $::hls::sources" }
    set ::hls::synthesized 1
}
stub export_design {} {-format -version} {
    if {!$::hls::synthesized} { ::sim::fail "export_design before csynth_design" }
}
