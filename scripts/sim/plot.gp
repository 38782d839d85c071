# Plots a `sluicectl simulate --csv` file: one row of panels per policy;
# left: disk utilisation and admitted background rate; right: interactive
# p99 (log) and background backlog. `sluicectl simulate --plot FILE.png`
# runs this same script (compiled in); by hand:
#   gnuplot -e "csv='build/sim/incident.csv'; png='build/sim/incident.png'" scripts/sim/plot.gp
if (!exists("csv")) csv = 'build/sim/incident.csv'
if (!exists("png")) png = 'build/sim/incident.png'
if (!exists("title")) title = 'sluice incident replay'
if (!exists("target")) target = 0.70
set terminal pngcairo size 1600,1900 font ",10"
set output png
set datafile separator ","
set key top left horizontal font ",9" samplen 2
set xrange [0:24]
set xtics 0,2,24 format "%g:00"
set grid xtics ytics lc rgb "#dddddd"
policies = "baseline no_limit fixed threshold governor"
set termoption noenhanced
set multiplot layout 5,2 title title font ",14"
do for [i=1:5] {
    p = word(policies, i)
    c = 2 + (i - 1) * 4
    # left: utilisation and admitted rate
    set title p." — utilisation and admitted background rate" font ",11"
    set ylabel "utilisation"
    set yrange [0:1.05]
    set ytics nomirror
    set y2label "IO/s"
    if (i == 1) { set y2range [0:1] } else { set y2range [0:*] }
    set y2tics
    unset logscale y
    plot csv every ::1 using ($1/3600):(column(c)) with lines lw 1 lc rgb "#1f77b4" title "utilisation", \
         csv every ::1 using ($1/3600):(column(c+2)) axes x1y2 with lines lw 1 lc rgb "#ff7f0e" title "admitted IO/s", \
         target with lines dt 2 lc rgb "#888888" title "target"
    # right: p99 and backlog
    set title p." — interactive p99 and backlog" font ",11"
    set ylabel "p99 ms (log)"
    set logscale y
    set yrange [1:100000]
    set y2label "backlog IO units"
    # the baseline has no backlog at all: give its empty axis a range
    if (i == 1) { set y2range [0:1] } else { set y2range [0:*] }
    plot csv every ::1 using ($1/3600):(column(c+1)) with lines lw 1 lc rgb "#d62728" title "p99 ms", \
         csv every ::1 using ($1/3600):(column(c+3)) axes x1y2 with lines lw 1 lc rgb "#2ca02c" title "backlog"
    unset logscale y
}
unset multiplot
