# Plots a `make demo` run (scripts/demo.sh writes the CSVs with sluice-demo):
# database utilisation, interactive p99, each class's admitted fraction and
# the backlog, one panel each, over the seconds of the run. The governor-off
# run (if any) is drawn dashed, shifted by "shift" s so the peaks line up.
#   gnuplot -e "on='build/demo/governor-on.csv'; off=''; shift=0; png='build/demo/incident.png'" scripts/demo/plot.gp
if (!exists("on")) on = 'build/demo/governor-on.csv'
if (!exists("off")) off = ''
if (!exists("shift")) shift = 0
if (!exists("png")) png = 'build/demo/incident.png'
if (!exists("p0")) p0 = 10
if (!exists("p1")) p1 = 48
set terminal pngcairo size 1300,1400 font ",10"
set output png
set datafile separator ","
set datafile missing "nan"
set termoption noenhanced
set key outside right top vertical font ",9" samplen 2 width -2
set grid xtics ytics lc rgb "#dddddd"
set xrange [0:*]
set object 1 rect from p0, graph 0 to p1, graph 1 behind fc rgb "#fff3e0" fs solid noborder
set multiplot layout 4,1 title "sluice demo: the incident replayed (shaded: the peak rises, holds, eases)" font ",13"
# the same plot area in every panel, the keys to its right
set lmargin at screen 0.07
set rmargin at screen 0.78

set title "database: utilisation (the signal db_util) and interactive load" font ",11"
set ylabel "share of capacity"
set yrange [0:1.1]
if (off ne '') {
    plot on every ::1 using 1:3 with lines lw 2 lc rgb "#1f77b4" title "utilisation, governor on", \
         on every ::1 using 1:2 with lines lw 1 lc rgb "#7f7f7f" title "interactive load", \
         off every ::1 using ($1+shift):3 with lines lw 1.5 dt 2 lc rgb "#d62728" title "utilisation, governor off", \
         0.80 with lines dt 3 lc rgb "#ff7f0e" title "target 0.80", \
         0.95 with lines dt 3 lc rgb "#d62728" title "critical 0.95"
} else {
    plot on every ::1 using 1:3 with lines lw 2 lc rgb "#1f77b4" title "utilisation, governor on", \
         on every ::1 using 1:2 with lines lw 1 lc rgb "#7f7f7f" title "interactive load", \
         0.80 with lines dt 3 lc rgb "#ff7f0e" title "target 0.80", \
         0.95 with lines dt 3 lc rgb "#d62728" title "critical 0.95"
}

set title "interactive latency (per second)" font ",11"
set ylabel "ms (log)"
set logscale y
set yrange [0.5:*]
if (off ne '') {
    plot on every ::1 using 1:5 with lines lw 2 lc rgb "#1f77b4" title "p99, governor on", \
         on every ::1 using 1:4 with lines lw 1 lc rgb "#9ecae1" title "p50, governor on", \
         off every ::1 using ($1+shift):5 with lines lw 1.5 dt 2 lc rgb "#d62728" title "p99, governor off"
} else {
    plot on every ::1 using 1:5 with lines lw 2 lc rgb "#1f77b4" title "p99, governor on", \
         on every ::1 using 1:4 with lines lw 1 lc rgb "#9ecae1" title "p50, governor on"
}
unset logscale y

set title "admitted fraction per class (the governor's gates)" font ",11"
set ylabel "fraction"
set yrange [0:1.1]
plot on every ::1 using 1:6 with steps lw 2 lc rgb "#2ca02c" title "certificates (low)", \
     on every ::1 using 1:7 with steps lw 2 lc rgb "#9467bd" title "integration_sync (normal)"

set title "backlog: jobs waiting or running" font ",11"
set ylabel "certificates"
set y2label "integration_sync"
set xlabel "seconds since the run started"
set yrange [0:*]
set y2range [0:*]
set ytics nomirror
set y2tics
plot on every ::1 using 1:8 with lines lw 2 lc rgb "#2ca02c" title "certificates (left)", \
     on every ::1 using 1:9 axes x1y2 with lines lw 2 lc rgb "#9467bd" title "integration_sync (right)"
unset multiplot
