# tclsh run.tcl SCRIPT: the Vivado stand-ins, then SCRIPT, as `vivado -mode batch -source SCRIPT` would run it.
source [file join [file dirname [file normalize [info script]]] vivado.tcl]
source [lindex $argv 0]
