set terminal svg size 1100,820 dynamic font 'sans,11' background '#ffffff'
set output 'bench.svg'
set datafile missing '?'
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set logscale y 2
set yrange [0.125:16]
set xtics rotate by -25 scale 0
set key top left horizontal
set multiplot layout 2,1 title 'quire benchmarks: ratio to quire, 2026-12-05 03:41 UTC, 2 cores'
set ylabel 'wall time / quire (log scale)'
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead lw 1.5 lc rgb '#000000' front
plot 'chart.dat' index 0 using 2:xtic(1) title 'glibc' lc rgb '#8c8c8c', 'chart.dat' index 0 using 3:xtic(1) title 'jemalloc' lc rgb '#e6a100', 'chart.dat' index 0 using 4:xtic(1) title 'mimalloc' lc rgb '#2a9d8f', 'chart.dat' index 0 using 5:xtic(1) title 'tcmalloc' lc rgb '#457b9d', 'chart.dat' index 0 using 6:xtic(1) title 'scudo' lc rgb '#6a4c93', 'chart.dat' index 0 using 7:xtic(1) title 'quire' lc rgb '#d62828', 'chart.dat' index 0 using 8:xtic(1) title 'quire-secure' lc rgb '#f4a261', 'chart.dat' index 0 using 9:xtic(1) title 'quire-prof' lc rgb '#9d0208'
set ylabel 'peak RSS / quire (log scale)'
plot 'chart.dat' index 1 using 2:xtic(1) title 'glibc' lc rgb '#8c8c8c', 'chart.dat' index 1 using 3:xtic(1) title 'jemalloc' lc rgb '#e6a100', 'chart.dat' index 1 using 4:xtic(1) title 'mimalloc' lc rgb '#2a9d8f', 'chart.dat' index 1 using 5:xtic(1) title 'tcmalloc' lc rgb '#457b9d', 'chart.dat' index 1 using 6:xtic(1) title 'scudo' lc rgb '#6a4c93', 'chart.dat' index 1 using 7:xtic(1) title 'quire' lc rgb '#d62828', 'chart.dat' index 1 using 8:xtic(1) title 'quire-secure' lc rgb '#f4a261', 'chart.dat' index 1 using 9:xtic(1) title 'quire-prof' lc rgb '#9d0208'
unset multiplot
