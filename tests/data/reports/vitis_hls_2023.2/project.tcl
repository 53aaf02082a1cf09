variable project_name
set project_name "myproject"
variable backend
set backend "vitis"
variable part
set part "xc7z045ffg900-2"
variable clock_period
set clock_period 5
variable clock_uncertainty
set clock_uncertainty 27%
variable version
set version "1.0.0"
variable maximum_size
set maximum_size 4096
