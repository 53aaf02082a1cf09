# tclsh run_hls.tcl SCRIPT [ARG...]: the HLS stand-ins, then SCRIPT with ARGs as its argv, as
# `vivado_hls -f SCRIPT ARG...` would run it (from the working folder).
source [file join [file dirname [file normalize [info script]]] hls.tcl]
set script [lindex $argv 0]
set argv [lrange $argv 1 end]
source $script
