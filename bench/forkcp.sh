#!/bin/sh
# forkcp.sh - benchmark forkcp -j 1, 2, 4 against cp on a 1 GiB file, page cache warm.
#
# Usage: sh bench/forkcp.sh [path/to/forkcp]    (make bench runs it on build/forkcp)
#
# Makes a 1 GiB file of random bytes in a temporary directory under $TMPDIR
# (default /tmp), reads it once so that it is in the page cache, copies it
# once with each tool untimed (a warm-up: binaries and the memory a copy
# needs are then in use already), then 5 times with each tool, round-robin
# in a rotating order, and prints the median time of each and its ratio to
# cp's.  The copy is deleted before each run and there is
# no sync between runs: the deleted copy's dirty pages are dropped instead of
# written, so each run measures copying page cache to page cache, not the
# disk.  Set FORKCP_BENCH_MIB to change the size, FORKCP_BENCH_RUNS the
# number of runs.  Everything it made is removed on exit, even on Ctrl-C.
set -eu

forkcp=${1:-build/forkcp}
mib=${FORKCP_BENCH_MIB:-1024}
runs=${FORKCP_BENCH_RUNS:-5}

[ -x "$forkcp" ] || { echo "forkcp.sh: no executable $forkcp (make build/forkcp first)" >&2; exit 2; }
case $forkcp in /*) ;; *) forkcp=$PWD/$forkcp ;; esac
case $(date +%N) in *N*|'') echo "forkcp.sh: needs date +%N (GNU date)" >&2; exit 2 ;; esac

dir=$(mktemp -d "${TMPDIR:-/tmp}/forkcp-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Room for the source, one copy and some slack.
avail=$(df -Pk "$dir" | awk 'NR == 2 { print int($4 / 1024) }')
if [ "$avail" -lt $((mib * 2 + 256)) ]; then
	echo "forkcp.sh: $dir has $avail MiB free, needs $((mib * 2 + 256))" >&2
	exit 1
fi

echo "machine: $(nproc) CPUs, $(uname -sr), $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "memory:  $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)," \
	"file system of $dir: $(df -PT "$dir" | awk 'NR == 2 { print $2 }')"
# The workers of -j 2 and -j 4 only help when CPUs are free: say how busy
# the machine was, before and after, so that a reader can judge the ratios.
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) before"
echo "making a $mib MiB file of random bytes..."
head -c $((mib * 1048576)) /dev/urandom >"$dir/src"
sync
cat "$dir/src" >/dev/null

# now_ns: nanoseconds since the epoch.
now_ns() {
	date +%s%N
}

# run NAME CMD...: copy once with CMD (its last two arguments are src dst),
# record the time in milliseconds in $dir/NAME.times.
run() {
	name=$1
	shift
	rm -f "$dir/dst"
	t0=$(now_ns)
	"$@" "$dir/src" "$dir/dst"
	t1=$(now_ns)
	echo $(((t1 - t0) / 1000000)) >>"$dir/$name.times"
}

# copy NAME LOG: one copy with tool NAME, its time appended to $dir/LOG.
copy() {
	case $1 in
	cp) run "$2" cp ;;
	forkcp-j*) run "$2" "$forkcp" -j "${1#forkcp-j}" ;;
	esac
}

# rotate N WORDS...: the words, starting with the Nth (0-based, modulo).
rotate() {
	n=$(($1 % ($# - 1)))
	shift
	k=0
	for w in "$@"; do
		[ "$k" -ge "$n" ] && printf '%s ' "$w"
		k=$((k + 1))
	done
	k=0
	for w in "$@"; do
		[ "$k" -lt "$n" ] && printf '%s ' "$w"
		k=$((k + 1))
	done
}

tools="cp forkcp-j1 forkcp-j2 forkcp-j4"
echo "warming up (one untimed copy each, checked byte for byte)..."
for t in $tools; do
	copy "$t" warmup
	if ! cmp -s "$dir/src" "$dir/dst"; then
		echo "forkcp.sh: $t made a copy that differs from the source" >&2
		exit 1
	fi
done
i=0
while [ "$i" -lt "$runs" ]; do
	for t in $(rotate "$i" $tools); do
		copy "$t" "$t"
	done
	i=$((i + 1))
done
rm -f "$dir/dst"

median() {
	sort -n "$dir/$1.times" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

cpm=$(median cp)
echo
printf '%-10s %10s %10s %12s   %s\n' tool "median ms" "time/cp" "MiB/s" "all runs (ms)"
for t in $tools; do
	m=$(median "$t")
	printf '%-10s %10d %10s %12s   %s\n' "$t" "$m" \
		"$(awk -v a="$m" -v b="$cpm" 'BEGIN { printf "%.2f", a / b }')" \
		"$(awk -v s="$mib" -v ms="$m" 'BEGIN { printf "%.0f", (ms > 0) ? s * 1000 / ms : 0 }')" \
		"$(tr '\n' ' ' <"$dir/$t.times")"
done
echo
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) after"
j2=$(median forkcp-j2)
if [ "$j2" -le "$cpm" ]; then
	echo "target met: forkcp -j 2 (median $j2 ms) is no slower than cp ($cpm ms)"
else
	echo "target missed: forkcp -j 2 (median $j2 ms) is slower than cp ($cpm ms)"
fi
