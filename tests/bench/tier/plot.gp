# SPDX-License-Identifier: LGPL-2.1-or-later
# Degradation plot of tests/bench/tier/run: one panel per workload (columns) and contention (rows),
# runtime / all-local runtime against the local memory fraction, one line per policy.
# Usage: gnuplot -e "dat='tier-plot.dat'; out='tier-degradation.png'" plot.gp
set terminal pngcairo size 1600,800 font "sans,10"
set output out
set multiplot layout 2,4 title "maio-tiersim: runtime degradation vs local memory fraction (lower is better)"
set key top right font "sans,8"
set grid
set logscale y 2
set xrange [0.05:0.85]
set xtics (0.1, 0.3, 0.5, 0.8)
set xlabel "local fraction"
set ylabel "runtime / all-local"
workloads = "bfs zipf phases scan"
policies = "none static ewma heuristic linucb indigo"
do for [c = 0:1] {
  do for [w = 1:4] {
    set title sprintf("%s, contention %s", word(workloads, w), c == 0 ? "0" : "0.5")
    plot for [p = 1:6] dat index ((w - 1) * 2 + c) using 1:(column(p + 1)) with linespoints \
         lw 2 pt p title word(policies, p)
  }
}
unset multiplot
