# Stand-ins for the Vivado Tcl commands of mrfpga's generated scripts (templates/block_design.tcl, vc707_ip.tcl).
#
# Every command appends its command line to the file $env(MRFPGA_STANDIN_LOG) and returns a handle like
# Vivado's ("/cell", "/cell/pin", "impl_1", file paths). They error, like Vivado or stricter, on:
#   * a command or an option that is not stubbed here (`unknown` errors);
#   * a part other than $env(MRFPGA_EXPECT_PART) (create_project -part, board_part, synth_design -part);
#   * a clock other than $env(MRFPGA_EXPECT_PERIOD_NS) (PS FCLK0 frequency, create_clock -period), or no
#     clock set at all when the runs start;
#   * a missing file or folder (ip_repo_paths, add_files, make_wrapper -files) or an IP repository without
#     component.xml; an IP that is not in the catalog;
#   * a block-design pin that does not exist, interfaces of different types or of the same direction
#     connected, AXI-Stream widths that differ, interface pins or clocks/resets left unconnected,
#     addresses not assigned;
#   * runs, reports and outputs asked for before what they need exists.
# Set MRFPGA_STANDIN_NO_BOARD_FILES=1 to act as a Vivado without the boards' board files.

namespace eval sim {
    variable log_file $::env(MRFPGA_STANDIN_LOG)
    variable expect_part $::env(MRFPGA_EXPECT_PART)
    variable expect_period $::env(MRFPGA_EXPECT_PERIOD_NS)
    variable board_parts {
        tul.com.tw:pynq-z2:part0:1.0 xc7z020clg400-1  avnet.com:zedboard:part0:1.4 xc7z020clg484-1
        xilinx.com:zc706:part0:1.4 xc7z045ffg900-2    xilinx.com:vc707:part0:1.4 xc7vx485tffg1761-2
    }
    # VLNV -> "builtin" (Xilinx IP) or the parsed component.xml of a repository IP.
    variable catalog [dict create xilinx.com:ip:processing_system7:5.5 builtin xilinx.com:ip:axi_dma:7.1 builtin \
        xilinx.com:ip:proc_sys_reset:5.0 builtin xilinx.com:ip:smartconnect:1.0 builtin]
    variable proj {}        ;# name dir part board_part ip_repo_paths
    variable bd ""          ;# open block design file
    variable cells {}       ;# /name -> {vlnv config}
    variable connected {}   ;# /cell/pin -> 1
    variable intf_nets {}   ;# {a b} pairs
    variable files {}       ;# path -> {fileset generated props}
    variable tops {}        ;# fileset -> top
    variable ips {}         ;# module name -> vlnv
    variable runs {synth_1 0% impl_1 0%}
    variable design {}      ;# open design: ports, clocks
    variable clock_ok 0
    variable addressed 0
    variable validated 0
}

proc sim::fail {msg} { return -code error -level 2 "stand-in: $msg" }

proc sim::log {cmd} {
    variable log_file
    set fh [open $log_file a]
    puts $fh $cmd
    close $fh
}

# Options of `argv` as a dict; positional arguments under "pos". Unknown options are errors.
proc sim::opts {cmd argv flags valued} {
    set o [dict create pos {}]
    for {set i 0} {$i < [llength $argv]} {incr i} {
        set a [lindex $argv $i]
        if {$a in $flags || $a eq "-quiet"} {
            dict set o $a 1
        } elseif {$a in $valued} {
            dict set o $a [lindex $argv [incr i]]
        } elseif {[string match -* $a] && ![string is double $a]} {
            fail "$cmd: option $a is not stubbed"
        } else {
            dict lappend o pos $a
        }
    }
    return $o
}

# Defines a logged command; the body sees its options in `o`, its positional arguments in `pos` and
# these flattened (lists of handles) in `objs`.
proc stub {name flags valued body} {
    proc ::$name args "::sim::log \[info level 0\]
        set o \[::sim::opts [list $name] \$args [list $flags] [list $valued]\]
        set pos \[dict get \$o pos\]
        set objs \[concat {*}\$pos\]
        $body"
}

proc sim::check_part {part} {
    variable expect_part
    if {$part ne $expect_part} { fail "part $part, expected $expect_part" }
}

proc sim::check_period {period what} {
    variable expect_period
    if {abs($period - $expect_period) > 1e-4 * $expect_period} {
        fail "$what gives a $period ns clock, expected $expect_period ns"
    }
    variable clock_ok 1
}

proc sim::need_file {path what} {
    if {![file exists $path]} { fail "$what: no such file or folder $path" }
}

proc sim::need_project {} {
    variable proj
    if {![dict size $proj]} { fail "no project open" }
}

proc sim::touch {path} {
    file mkdir [file dirname $path]
    close [open $path w]
    return $path
}

# --- IP-XACT component.xml of an exported HLS IP ---------------------------------------------------------
proc sim::parse_component {path} {
    set fh [open $path]
    set xml [read $fh]
    close $fh
    foreach tag {vendor library name version} {
        if {![regexp "<spirit:$tag>(\[^<\]+)</spirit:$tag>" $xml -> v($tag)]} { fail "$path has no spirit:$tag" }
    }
    set intfs {}
    foreach block [regexp -all -inline {<spirit:busInterface>.*?</spirit:busInterface>} $xml] {
        regexp {<spirit:name>([^<]+)</spirit:name>} $block -> name
        regexp {<spirit:busType [^>]*spirit:name="([^"]+)"} $block -> bus
        set mode [expr {[regexp {<spirit:master\s*/?>} $block] ? "Master" : "Slave"}]
        if {$bus eq "aximm"} {
            dict set intfs $name [aximm $mode]
        } elseif {$bus eq "axis"} {
            foreach param {TDATA_NUM_BYTES HAS_TLAST} {
                set re "<spirit:name>$param</spirit:name>\\s*<spirit:value\[^>\]*>(\\d+)</spirit:value>"
                if {![regexp $re $block -> p($param)]} { fail "$path: stream $name lacks $param" }
            }
            dict set intfs $name [axis $mode $p(TDATA_NUM_BYTES) $p(HAS_TLAST)]
        }
    }
    set pins {}
    foreach {-> port} [regexp -all -inline {<spirit:port>\s*<spirit:name>([^<]+)</spirit:name>} $xml] {
        set bus_port 0
        foreach i [dict keys $intfs] { if {[string match ${i}_* $port]} { set bus_port 1 } }
        if {!$bus_port} { dict set pins $port [expr {$port in {ap_clk ap_rst_n}}] }
    }
    return [dict create vlnv "$v(vendor):$v(library):$v(name):$v(version)" intfs $intfs pins $pins]
}

proc sim::aximm {mode} { dict create VLNV xilinx.com:interface:aximm_rtl:1.0 MODE $mode }
proc sim::axis {mode bytes tlast} {
    dict create VLNV xilinx.com:interface:axis_rtl:1.0 MODE $mode CONFIG.TDATA_NUM_BYTES $bytes CONFIG.HAS_TLAST $tlast
}

# --- block-design cells: their interface pins and pins (pin -> 1 if it must be connected) -----------------
proc sim::cfg {cell key default} {
    variable cells
    set config [dict get $cells $cell config]
    expr {[dict exists $config $key] ? [dict get $config $key] : $default}
}

proc sim::cell_ip {cell} {
    variable cells
    lindex [split [dict get $cells $cell vlnv] :] 2
}

proc sim::cell_intfs {cell} {
    variable cells
    variable catalog
    switch [cell_ip $cell] {
        processing_system7 {
            set d [dict create M_AXI_GP0 [aximm Master] DDR {VLNV xilinx.com:interface:ddrx_rtl:1.0 MODE Master} \
                FIXED_IO {VLNV xilinx.com:display_processing_system7:fixedio_rtl:1.0 MODE Master}]
            if {[cfg $cell CONFIG.PCW_USE_S_AXI_HP0 0]} { dict set d S_AXI_HP0 [aximm Slave] }
        }
        axi_dma {
            set d [dict create S_AXI_LITE [aximm Slave] M_AXI_MM2S [aximm Master] M_AXI_S2MM [aximm Master] \
                M_AXIS_MM2S [axis Master [expr {[cfg $cell CONFIG.c_m_axis_mm2s_tdata_width 32] / 8}] 1] \
                S_AXIS_S2MM [axis Slave [expr {[cfg $cell CONFIG.c_s_axis_s2mm_tdata_width 32] / 8}] 1]]
            if {[cfg $cell CONFIG.c_include_sg 1]} { dict set d M_AXI_SG [aximm Master] }
        }
        smartconnect {
            set d {}
            for {set i 0} {$i < [cfg $cell CONFIG.NUM_SI 1]} {incr i} {
                dict set d [format S%02d_AXI $i] [aximm Slave]
            }
            for {set i 0} {$i < [cfg $cell CONFIG.NUM_MI 1]} {incr i} {
                dict set d [format M%02d_AXI $i] [aximm Master]
            }
        }
        proc_sys_reset { set d {} }
        default { set d [dict get $catalog [dict get $cells $cell vlnv] intfs] }
    }
    return $d
}

proc sim::cell_pins {cell} {
    variable cells
    variable catalog
    switch [cell_ip $cell] {
        processing_system7 {
            set d {FCLK_CLK0 0 FCLK_RESET0_N 0 M_AXI_GP0_ACLK 1}
            if {[cfg $cell CONFIG.PCW_USE_S_AXI_HP0 0]} { dict set d S_AXI_HP0_ACLK 1 }
        }
        axi_dma {
            set d {s_axi_lite_aclk 1 m_axi_mm2s_aclk 1 m_axi_s2mm_aclk 1 axi_resetn 1 mm2s_introut 0 s2mm_introut 0}
            if {[cfg $cell CONFIG.c_include_sg 1]} { dict set d m_axi_sg_aclk 1 }
        }
        smartconnect { set d {aclk 1 aresetn 1} }
        proc_sys_reset {
            set d {slowest_sync_clk 1 ext_reset_in 1 aux_reset_in 0 mb_debug_sys_rst 0 dcm_locked 0 mb_reset 0
                   bus_struct_reset 0 peripheral_reset 0 interconnect_aresetn 0 peripheral_aresetn 0}
        }
        default { set d [dict get $catalog [dict get $cells $cell vlnv] pins] }
    }
    return $d
}

# "cell/pin" or "/cell/pin" -> "/cell/pin" if `kind` (intfs or pins) of the cell has it.
proc sim::bd_path {path kind} {
    variable cells
    set path /[string trimleft $path /]
    set cell [file dirname $path]
    if {![dict exists $cells $cell]} { fail "no block-design cell $cell (in $path)" }
    if {![dict exists [cell_$kind $cell] [file tail $path]]} {
        fail "cell $cell has no [string trimright $kind s] [file tail $path]"
    }
    return $path
}

proc sim::intf {path} { dict get [cell_intfs [file dirname $path]] [file tail $path] }

proc sim::matches {props filter} {
    foreach clause [split [string map {&& \x01} $filter] \x01] {
        if {![regexp {^\s*([\w.]+)\s*(==|!=|=~)\s*(.*)$} $clause -> key op want]} { fail "filter $clause not stubbed" }
        set want [string trim $want "\" "]
        set have [expr {[dict exists $props $key] ? [dict get $props $key] : ""}]
        set ok [switch $op {== {expr {$have eq $want}} != {expr {$have ne $want}} =~ {string match $want $have}}]
        if {!$ok} { return 0 }
    }
    return 1
}

# --- properties ----------------------------------------------------------------------------------------------
proc sim::get_prop {obj name} {
    variable proj
    variable cells
    variable runs
    variable design
    variable catalog
    if {[dict size $proj] && $obj eq [dict get $proj name]} {
        switch $name { PART { return [dict get $proj part] } DIRECTORY { return [dict get $proj dir] } }
    } elseif {[dict exists $cells $obj]} {
        if {$name eq "VLNV"} { return [dict get $cells $obj vlnv] }
        if {$name eq "CONFIG.PCW_ACT_FPGA0_PERIPHERAL_FREQMHZ"} {
            return [cfg $obj CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ 50]
        }
        if {[string match CONFIG.* $name]} { return [cfg $obj $name ""] }
    } elseif {[dict exists $cells [file dirname $obj]] && [dict exists [cell_intfs [file dirname $obj]] \
                  [file tail $obj]]} {
        set props [intf $obj]
        if {[dict exists $props $name]} { return [dict get $props $name] }
    } elseif {[dict exists $runs $obj]} {
        switch $name {
            PROGRESS { return [dict get $runs $obj] }
            DIRECTORY { return [file join [dict get $proj dir] [dict get $proj name].runs $obj] }
            STATS.WNS { return 0.250 }
        }
    } elseif {[dict exists $design clocks $obj] && $name eq "PERIOD"} {
        return [dict get $design clocks $obj]
    } elseif {[dict exists $catalog $obj] && $name eq "VLNV"} {
        return $obj
    } elseif {$obj eq "timing_path_1" && $name eq "SLACK"} {
        return 0.250
    }
    fail "get_property $name of $obj is not stubbed"
}

proc sim::set_prop {obj name value} {
    variable proj
    variable cells
    variable files
    variable board_parts
    if {[dict size $proj] && $obj eq [dict get $proj name]} {
        switch $name {
            board_part {
                if {![dict exists $board_parts $value]} { fail "unknown board part $value" }
                check_part [dict get $board_parts $value]
                dict set proj board_part $value
                dict set proj part [dict get $board_parts $value]
            }
            ip_repo_paths {
                foreach path $value { need_file $path "ip_repo_paths" }
                dict set proj ip_repo_paths $value
            }
            default { fail "project property $name is not stubbed" }
        }
    } elseif {[dict exists $cells $obj] && [string match CONFIG.* $name]} {
        if {$name eq "CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ"} { check_period [expr {1000.0 / $value}] "FCLK0 $value MHz" }
        dict set cells $obj config $name $value
    } elseif {$obj in {sources_1 constrs_1} && $name eq "top"} {
        variable tops
        dict set tops $obj $value
    } elseif {[dict exists $files $obj] && $name in {USED_IN generate_synth_checkpoint}} {
        dict set files $obj props $name $value
    } else {
        fail "set_property $name on $obj is not stubbed"
    }
}

# --- project ------------------------------------------------------------------------------------------------
stub create_project {-force} {-part} {
    lassign $pos name dir
    ::sim::check_part [dict get $o -part]
    if {[file exists $dir] && ![dict exists $o -force]} { ::sim::fail "project folder $dir exists (no -force)" }
    ::sim::touch [file join $dir $name.xpr]
    set ::sim::proj [dict create name $name dir [file normalize $dir] part [dict get $o -part] board_part "" \
        ip_repo_paths {}]
    return $name
}
stub current_project {} {} { ::sim::need_project; dict get $::sim::proj name }
stub current_fileset {} {} { ::sim::need_project; return sources_1 }
stub get_board_parts {-latest_file_version} {} {
    if {[info exists ::env(MRFPGA_STANDIN_NO_BOARD_FILES)]} { return {} }
    lmap bp [dict keys $::sim::board_parts] { expr {[string match [lindex $pos 0] $bp] ? $bp : [continue]} }
}
stub get_property {} {} { ::sim::get_prop [lindex $pos 1 0] [lindex $pos 0] }
stub set_property {} {-dict} {
    if {[dict exists $o -dict]} {
        set pairs [dict get $o -dict]
    } else {
        set objs [concat {*}[lrange $pos 2 end]]
        set pairs [lrange $pos 0 1]
    }
    if {![llength $objs]} { ::sim::fail "set_property on no object" }
    foreach obj $objs { foreach {k v} $pairs { ::sim::set_prop $obj $k $v } }
}
stub update_ip_catalog {-rebuild} {} {
    foreach repo [dict get $::sim::proj ip_repo_paths] {
        set found [glob -nocomplain -directory $repo component.xml */component.xml]
        if {![llength $found]} { ::sim::fail "no component.xml in IP repository $repo" }
        foreach xml $found {
            set c [::sim::parse_component $xml]
            dict set ::sim::catalog [dict get $c vlnv] $c
        }
    }
}
stub get_ipdefs {-all} {-filter} {
    set pattern [expr {[llength $pos] ? [lindex $pos 0] : "*"}]
    lsort [lmap v [dict keys $::sim::catalog] { expr {[string match $pattern $v] ? $v : [continue]} }]
}
stub add_files {-norecurse} {-fileset} {
    ::sim::need_project
    set fileset [expr {[dict exists $o -fileset] ? [dict get $o -fileset] : "sources_1"}]
    foreach f $pos {
        ::sim::need_file $f add_files
        dict set ::sim::files [file normalize $f] [dict create fileset $fileset generated 0 props {}]
    }
}
stub get_files {-all} {-of_objects} {
    set hits {}
    dict for {f info} $::sim::files {
        if {([dict get $info generated] && ![dict exists $o -all]) || [file exists $f] == 0} { continue }
        foreach p $pos { if {[string match $p [file tail $f]] || [string match $p $f]} { lappend hits $f } }
    }
    if {![llength $hits] && ![dict exists $o -quiet]} { ::sim::fail "get_files: no file $pos in the project" }
    return $hits
}
stub update_compile_order {} {-fileset} {}

# --- block design --------------------------------------------------------------------------------------------
stub create_bd_design {} {} {
    ::sim::need_project
    set name [lindex $pos 0]
    set ::sim::bd [file join [dict get $::sim::proj dir] [dict get $::sim::proj name].srcs sources_1 bd $name $name.bd]
    ::sim::touch $::sim::bd
    dict set ::sim::files $::sim::bd {fileset sources_1 generated 0 props {}}
    return $name
}
stub create_bd_cell {} {-type -vlnv} {
    if {$::sim::bd eq ""} { ::sim::fail "no block design open" }
    set vlnv [dict get $o -vlnv]
    if {![dict exists $::sim::catalog $vlnv]} { ::sim::fail "IP $vlnv is not in the catalog" }
    set cell /[lindex $pos 0]
    if {[dict exists $::sim::cells $cell]} { ::sim::fail "cell $cell exists" }
    dict set ::sim::cells $cell [dict create vlnv $vlnv config {}]
    return $cell
}
stub get_bd_cells {} {} {
    lmap c $objs {
        set c /[string trimleft $c /]
        if {![dict exists $::sim::cells $c]} { ::sim::fail "no block-design cell $c" }
        set c
    }
}
stub get_bd_pins {} {} { lmap p $objs { ::sim::bd_path $p pins } }
stub get_bd_intf_pins {} {-of_objects -filter} {
    if {![dict exists $o -of_objects]} { return [lmap p $objs { ::sim::bd_path $p intfs }] }
    set filter [expr {[dict exists $o -filter] ? [dict get $o -filter] : ""}]
    set hits {}
    foreach cell [dict get $o -of_objects] {
        dict for {name props} [::sim::cell_intfs $cell] {
            if {[::sim::matches $props $filter]} { lappend hits $cell/$name }
        }
    }
    return $hits
}
stub apply_bd_automation {} {-rule -config} {
    if {[dict get $o -rule] ne "xilinx.com:bd_rule:processing_system7"} {
        ::sim::fail "automation rule [dict get $o -rule] is not stubbed"
    }
    set config [dict get $o -config]
    if {[dict get $config apply_board_preset] && [dict get $::sim::proj board_part] eq ""} {
        ::sim::fail "apply_board_preset 1 without a board part"
    }
    foreach cell $objs {
        if {[::sim::cell_ip $cell] ne "processing_system7"} { ::sim::fail "$cell is not a processing_system7" }
        foreach port [split [dict get $config make_external] ", "] {
            if {$port ne ""} { dict set ::sim::connected [::sim::bd_path $cell/$port intfs] 1 }
        }
    }
}
stub connect_bd_net {} {} {
    if {[llength $objs] < 2} { ::sim::fail "connect_bd_net needs two pins or more: $objs" }
    foreach p $objs { dict set ::sim::connected [::sim::bd_path $p pins] 1 }
}
stub connect_bd_intf_net {} {} {
    if {[llength $objs] != 2} { ::sim::fail "connect_bd_intf_net needs two interface pins: $objs" }
    lassign [lmap p $objs { ::sim::bd_path $p intfs }] a b
    lassign [lmap p [list $a $b] { lindex [split [dict get [::sim::intf $p] VLNV] :] 2 }] bus_a bus_b
    if {$bus_a ne $bus_b} { ::sim::fail "connecting $a ($bus_a) to $b ($bus_b)" }
    set mode [dict get [::sim::intf $a] MODE]
    if {$mode eq [dict get [::sim::intf $b] MODE]} { ::sim::fail "$a and $b are both ${mode}s" }
    lappend ::sim::intf_nets [list $a $b]
    dict set ::sim::connected $a 1
    dict set ::sim::connected $b 1
}
stub assign_bd_address {} {} { set ::sim::addressed 1 }
stub validate_bd_design {} {} {
    if {!$::sim::addressed} { ::sim::fail "addresses not assigned" }
    foreach net $::sim::intf_nets {
        lassign [lmap p $net { dict merge {CONFIG.TDATA_NUM_BYTES -} [::sim::intf $p] }] a b
        if {[dict get $a CONFIG.TDATA_NUM_BYTES] ne [dict get $b CONFIG.TDATA_NUM_BYTES]} {
            ::sim::fail "stream widths differ: [join $net { -> }]\
                ([dict get $a CONFIG.TDATA_NUM_BYTES] and [dict get $b CONFIG.TDATA_NUM_BYTES] bytes)"
        }
    }
    dict for {cell info} $::sim::cells {
        foreach name [dict keys [::sim::cell_intfs $cell]] {
            if {![dict exists $::sim::connected $cell/$name]} {
                ::sim::fail "interface $cell/$name is not connected"
            }
        }
        dict for {name required} [::sim::cell_pins $cell] {
            if {$required && ![dict exists $::sim::connected $cell/$name]} {
                ::sim::fail "pin $cell/$name is not connected"
            }
        }
    }
    set ::sim::validated 1
}
stub save_bd_design {} {} {}
stub make_wrapper {-top} {-files} {
    set bd [dict get $o -files]
    ::sim::need_file $bd "make_wrapper -files"
    if {!$::sim::validated} { ::sim::fail "make_wrapper before validate_bd_design" }
    set name [file rootname [file tail $bd]]
    set gen [file join [dict get $::sim::proj dir] [dict get $::sim::proj name].gen sources_1 bd $name]
    ::sim::touch [file join $gen hdl ${name}_wrapper.v]
}

# --- runs ------------------------------------------------------------------------------------------------------
stub get_runs {} {} {
    foreach r $pos { if {![dict exists $::sim::runs $r]} { ::sim::fail "no run $r" } }
    return $pos
}
stub launch_runs {} {-to_step -jobs} {
    if {!$::sim::clock_ok} { ::sim::fail "launch_runs without a clock set" }
    if {![dict exists $::sim::tops sources_1]} { ::sim::fail "launch_runs without a top" }
    set top [dict get $::sim::tops sources_1]
    set tops [lmap f [dict keys $::sim::files] { file rootname [file tail $f] }]
    if {$top ni $tops} { ::sim::fail "top $top is not among the project's files" }
    foreach r $pos {
        if {$r ne "impl_1"} { ::sim::fail "run $r is not stubbed" }
        if {[dict exists $o -to_step] && [dict get $o -to_step] eq "write_bitstream"} {
            ::sim::touch [file join [::sim::get_prop impl_1 DIRECTORY] $top.bit]
            set name [file rootname [file tail $::sim::bd]]
            set gen [file join [dict get $::sim::proj dir] [dict get $::sim::proj name].gen sources_1 bd $name]
            set hwh [file join $gen hw_handoff $name.hwh]
            dict set ::sim::files [::sim::touch $hwh] {fileset sources_1 generated 1 props {}}
        }
        dict set ::sim::runs $r 100%
    }
}
stub wait_on_run {} {-timeout} {
    if {[dict get $::sim::runs [lindex $pos 0]] ne "100%"} { ::sim::fail "wait_on_run on a run not launched" }
}
stub open_run {} {} {
    if {[dict get $::sim::runs [lindex $pos 0]] ne "100%"} { ::sim::fail "open_run of an unfinished run" }
    set ps [lsearch -inline [dict keys $::sim::cells] /processing_system7*]
    set mhz [::sim::cfg $ps CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ 50]
    set ::sim::design [dict create ports {} clocks [dict create clk_fpga_0 [expr {1000.0 / $mhz}]]]
}
stub write_bitstream {-force} {} {
    if {![dict size $::sim::design] || !$::sim::clock_ok} {
        ::sim::fail "write_bitstream without an implemented design"
    }
    ::sim::touch [lindex $pos 0]
}

# --- IP out of context -------------------------------------------------------------------------------------
stub create_ip {} {-vlnv -module_name} {
    set vlnv [dict get $o -vlnv]
    if {![dict exists $::sim::catalog $vlnv]} { ::sim::fail "IP $vlnv is not in the catalog" }
    set name [dict get $o -module_name]
    set xci [file join [dict get $::sim::proj dir] [dict get $::sim::proj name].srcs sources_1 ip $name $name.xci]
    dict set ::sim::files [::sim::touch $xci] {fileset sources_1 generated 0 props {}}
    dict set ::sim::ips $name $vlnv
    return $name
}
stub get_ips {} {} {
    foreach ip $pos { if {![dict exists $::sim::ips $ip]} { ::sim::fail "no IP $ip" } }
    return $pos
}
stub generate_target {} {} {
    foreach obj [lrange $pos 1 end] {
        if {![dict exists $::sim::files $obj] && ![dict exists $::sim::ips $obj]} {
            ::sim::fail "generate_target of $obj: not a file or IP of the project"
        }
    }
}
stub synth_design {} {-top -part -mode} {
    ::sim::check_part [dict get $o -part]
    set top [dict get $o -top]
    if {![dict exists $::sim::ips $top]} { ::sim::fail "synth_design -top $top: no such module" }
    set c [dict get $::sim::catalog [dict get $::sim::ips $top]]
    set ::sim::design [dict create ports [dict keys [dict get $c pins]] clocks {}]
    dict for {f info} $::sim::files {
        if {[dict get $info fileset] eq "constrs_1" && (![dict exists $info props USED_IN] ||
            "synthesis" in [dict get $info props USED_IN])} {
            uplevel #0 [list source $f]
        }
    }
    if {![dict size [dict get $::sim::design clocks]]} { ::sim::fail "synth_design without a clock constraint" }
}
stub create_clock {} {-name -period} {
    if {![dict size $::sim::design]} { ::sim::fail "create_clock outside a design" }
    ::sim::check_period [dict get $o -period] "create_clock"
    dict set ::sim::design clocks [dict get $o -name] [dict get $o -period]
}
stub get_ports {} {} {
    foreach p $pos { if {$p ni [dict get $::sim::design ports]} { ::sim::fail "the design has no port $p" } }
    return $pos
}
stub get_clocks {} {} {
    foreach c $pos { if {![dict exists $::sim::design clocks $c]} { ::sim::fail "the design has no clock $c" } }
    return $pos
}
stub get_timing_paths {-setup} {-max_paths} { return timing_path_1 }

# --- reports and outputs -----------------------------------------------------------------------------------------
foreach cmd {report_utilization report_timing_summary write_checkpoint} {
    stub $cmd {-force -hierarchical} {-file} {
        if {![dict size $::sim::design]} { ::sim::fail "no design open" }
        set f [expr {[dict exists $o -file] ? [dict get $o -file] : [lindex $pos 0]}]
        ::sim::need_file [file dirname $f] "output folder"
        ::sim::touch $f
    }
}
stub write_hw_platform {-fixed -include_bit -force} {-file} {
    set bit [file join [::sim::get_prop impl_1 DIRECTORY] [dict get $::sim::tops sources_1].bit]
    ::sim::need_file $bit "write_hw_platform -include_bit"
    ::sim::touch [dict get $o -file]
}

rename unknown ::sim::tcl_unknown
proc unknown {args} { return -code error "stand-in: command [lindex $args 0] is not stubbed" }
