# --- procs shared by the kit's Vivado scripts (templates/vivado_procs.tcl) -----------------------------------

# The exported HLS IP: export_design's output, ../<project_name>_prj/solution1/impl/ip from this script's folder.
proc exported_ip_repo {script_dir project_name} {
    set ip_repo [file join [file dirname $script_dir] "${project_name}_prj" solution1 impl ip]
    if {![file isfile [file join $ip_repo component.xml]]} {
        error "no exported HLS IP in $ip_repo: run the HLS build with export=1 (export_design) first"
    }
    return $ip_repo
}

# The current project checked against `part`, with the exported IP in its catalog.
proc use_ip_repo {part ip_repo} {
    if {[get_property PART [current_project]] ne $part} {
        error "the project targets [get_property PART [current_project]], expected $part"
    }
    set_property ip_repo_paths [list $ip_repo] [current_project]
    update_ip_catalog -rebuild
}

# The newest VLNV in the IP catalog matching `pattern` (ipdef objects print as their VLNV).
proc latest_ipdef {pattern} {
    set defs [get_ipdefs -quiet $pattern]
    if {![llength $defs]} { error "no IP $pattern in the IP catalog" }
    return [lindex [lsort -dictionary $defs] end]
}
