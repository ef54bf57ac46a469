# Throughput against application write size, ours (through the daemon and
# the rig's guest) against raw AF_UNIX, both directions.  Called by
# scripts/bench.sh: gnuplot -e "datafile='...'; outfile='...'" throughput.gp
# Columns of datafile (vsock-bench --plot-data): write size in KiB, then
# Gbit/s for g2h 1conn ours, baseline; g2h 16conn ours, baseline; the same
# four for h2g.
set terminal pngcairo size 1200,500 font ",10" noenhanced
set output outfile
set multiplot layout 1,2 title "vhost-device-vsock throughput (median of runs)"
set logscale x 2
set xtics ("4 KiB" 4, "64 KiB" 64, "1 MiB" 1024)
set xrange [3:1400]
set yrange [0:*]
set xlabel "application write size"
set ylabel "Gbit/s"
set grid ytics
set key top left
set datafile missing "NaN"

do for [dir = 0:1] {
    set title (dir == 0 ? "guest -> host" : "host -> guest")
    c = 2 + 4 * dir
    plot datafile using 1:c with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "ours, 1 conn", \
         datafile using 1:c+1 with linespoints lw 2 pt 7 dt 2 lc rgb "#1f77b4" title "AF_UNIX, 1 conn", \
         datafile using 1:c+2 with linespoints lw 2 pt 5 lc rgb "#d62728" title "ours, 16 conns", \
         datafile using 1:c+3 with linespoints lw 2 pt 5 dt 2 lc rgb "#d62728" title "AF_UNIX, 16 conns"
}
unset multiplot
