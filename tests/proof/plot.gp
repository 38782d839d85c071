# Plots a `make proof` run (scripts/proof.sh; sluice-proof report writes each
# run's series.csv, one row per 5 s): interactive p99 of the three runs, the
# background jobs done, and the sluice run's admitted fractions and signal.
#   gnuplot -e "dir='build/proof'; r0=50; p0=70; p1=140; png='build/proof/proof.png'" tests/proof/plot.gp
if (!exists("dir")) dir = 'build/proof'
if (!exists("png")) png = dir.'/proof.png'
if (!exists("r0")) r0 = 50
if (!exists("p0")) p0 = 70
if (!exists("p1")) p1 = 140
base = dir.'/baseline/series.csv'
flat = dir.'/unthrottled/series.csv'
gov = dir.'/sluice/series.csv'
set terminal pngcairo size 1300,1400 font ",10"
set output png
set datafile separator ","
set datafile missing "nan"
set termoption noenhanced
set key outside right top vertical font ",9" samplen 2 width -2
set grid xtics ytics lc rgb "#dddddd"
set xrange [0:*]
set object 1 rect from r0, graph 0 to p0, graph 1 behind fc rgb "#fffaf0" fs solid noborder
set object 2 rect from p0, graph 0 to p1, graph 1 behind fc rgb "#ffe9cc" fs solid noborder
set multiplot layout 4,1 title "sluice proof: pgbench on PostgreSQL with a backlog of heavy jobs (shaded: the rise, the peak)" font ",13"
set lmargin at screen 0.07
set rmargin at screen 0.78

set title "interactive latency: p99 per 5 s" font ",11"
set ylabel "ms (log)"
set logscale y
set yrange [*:*]
plot base every ::1 using 1:4 with lines lw 2 lc rgb "#7f7f7f" title "baseline (no jobs)", \
     flat every ::1 using 1:4 with lines lw 1.5 dt 2 lc rgb "#d62728" title "unthrottled", \
     gov every ::1 using 1:4 with lines lw 2 lc rgb "#1f77b4" title "sluice"
unset logscale y

set title "background jobs done per 5 s (imports + reports)" font ",11"
set ylabel "jobs"
set yrange [0:*]
plot flat every ::1 using 1:($5+$6) with steps lw 1.5 dt 2 lc rgb "#d62728" title "unthrottled", \
     gov every ::1 using 1:($5+$6) with steps lw 2 lc rgb "#1f77b4" title "sluice", \
     gov every ::1 using 1:6 with steps lw 1 lc rgb "#2ca02c" title "sluice: reports"

set title "sluice run: admitted fraction per class, and the signal pg_load" font ",11"
set ylabel "fraction"
set y2label "pg_load (sessions)"
set yrange [0:1.1]
set y2range [0:*]
set ytics nomirror
set y2tics
plot gov every ::1 using 1:7 with steps lw 2 lc rgb "#9467bd" title "imports", \
     gov every ::1 using 1:8 with steps lw 2 dt 2 lc rgb "#2ca02c" title "reports", \
     gov every ::1 using 1:9 axes x1y2 with lines lw 1 lc rgb "#ff7f0e" title "pg_load (right)", \
     base every ::1 using 1:9 axes x1y2 with lines lw 1 dt 3 lc rgb "#7f7f7f" title "pg_load, baseline (right)"
unset y2label
unset y2tics
set ytics mirror

set title "the machine: CPU busy, everything on it (other users' work included)" font ",11"
set ylabel "share of all CPUs"
set xlabel "seconds since the interactive traffic started"
set yrange [0:1.05]
plot base every ::1 using 1:10 with lines lw 2 lc rgb "#7f7f7f" title "baseline", \
     flat every ::1 using 1:10 with lines lw 1.5 dt 2 lc rgb "#d62728" title "unthrottled", \
     gov every ::1 using 1:10 with lines lw 2 lc rgb "#1f77b4" title "sluice"
unset multiplot
