#!/bin/sh
# forkcp.sh - benchmark forkcp -j 1, 2, 4 against cp: a new DST, an existing DST replaced (at once, after a pause, in a series).
#
# Usage: sh bench/forkcp.sh [path/to/forkcp]    (make bench runs it on build/forkcp)
#
# Makes a file of random bytes (1 GiB) in a temporary directory under
# $TMPDIR (default /tmp), syncs it and reads it once so that it is in the
# page cache, copies it once with each tool untimed (a warm-up, checked
# byte for byte), then times three cases, each tool in turn in a rotating
# order so that each tool sees the others' after-effects alike:
#
#   new      DST is removed before each copy.  The removed copy's dirty
#            pages are dropped, never written: this measures copying page
#            cache to page cache, the best case.
#   replace  DST exists, written by the previous copy, and is replaced, as
#            users usually do: its pages may still be dirty or being
#            written back, and the file system may flush the new file
#            when it replaces the old one.
#   pause    as replace, but each copy starts after PAUSE seconds of
#            idleness, as when a file written a while ago is replaced: on
#            a virtual machine that hands free memory back to its host, the
#            memory a copy takes is then no longer at hand (docs/FORKCP.md).
#   series   SERIES back-to-back replacements timed as one: writeback of
#            the earlier copies runs while the later ones copy.
#
# No sync between runs.  It prints each tool's median, its ratio to cp's
# median measured in the same run, all the runs, the load and the page
# cache's dirty and writeback pages before each case.  Environment:
# FORKCP_BENCH_MIB (size, default 1024), FORKCP_BENCH_RUNS (runs per tool
# in new, replace and pause, default 7), FORKCP_BENCH_PAUSE (seconds,
# default 3), FORKCP_BENCH_ROUNDS (series per tool, default 3),
# FORKCP_BENCH_SERIES (copies per series, default 10).  About 6 minutes.
# Everything it made is removed on exit, even on Ctrl-C.
set -eu

forkcp=${1:-build/forkcp}
mib=${FORKCP_BENCH_MIB:-1024}
runs=${FORKCP_BENCH_RUNS:-7}
pause=${FORKCP_BENCH_PAUSE:-3}
rounds=${FORKCP_BENCH_ROUNDS:-3}
series=${FORKCP_BENCH_SERIES:-10}

[ -x "$forkcp" ] || { echo "forkcp.sh: no executable $forkcp (make build/forkcp first)" >&2; exit 2; }
case $forkcp in /*) ;; *) forkcp=$PWD/$forkcp ;; esac
case $(date +%N) in *N*|'') echo "forkcp.sh: needs date +%N (GNU date)" >&2; exit 2 ;; esac

dir=$(mktemp -d "${TMPDIR:-/tmp}/forkcp-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Room for the source, the copy, the temporary of a replacement and some slack.
avail=$(df -Pk "$dir" | awk 'NR == 2 { print int($4 / 1024) }')
if [ "$avail" -lt $((mib * 3 + 256)) ]; then
	echo "forkcp.sh: $dir has $avail MiB free, needs $((mib * 3 + 256))" >&2
	exit 1
fi

# load: the load average; the workers of -j 2 and -j 4 only help when CPUs are free.
load() {
	cut -d' ' -f1-3 /proc/loadavg
}

# dirty: the page cache's dirty and writeback pages, in MiB.
dirty() {
	awk '/^nr_dirty / { d = $2 } /^nr_writeback / { w = $2 }
		END { printf "%d MiB dirty, %d MiB under writeback", d * 4 / 1024, w * 4 / 1024 }' /proc/vmstat
}

echo "machine: $(nproc) CPUs, $(uname -sr), $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "memory:  $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)," \
	"file system of $dir: $(df -PT "$dir" | awk 'NR == 2 { print $2 }')" \
	"($(awk -v d="$(df -P "$dir" | awk 'NR == 2 { print $6 }')" '$2 == d { print $4 }' /proc/mounts))"
echo "dirty limits: $(cat /proc/sys/vm/dirty_ratio)% of available memory" \
	"(background $(cat /proc/sys/vm/dirty_background_ratio)%)," \
	"$(cat /proc/sys/vm/dirty_bytes) / $(cat /proc/sys/vm/dirty_background_bytes) bytes"
echo "forkcp:  $forkcp ($(git -C "$(dirname "$0")" describe --always --dirty 2>/dev/null || echo '?'))"
echo "runs:    $mib MiB; new, replace and pause ($pause s) $runs runs per tool;" \
	"series $rounds x $series replacements per tool"
echo "making a $mib MiB file of random bytes..."
head -c $((mib * 1048576)) /dev/urandom >"$dir/src"
sync
cat "$dir/src" >/dev/null

# now_ns: nanoseconds since the epoch.
now_ns() {
	date +%s%N
}

# copy TOOL: one copy of src to dst with TOOL (cp, forkcp-jN).
copy() {
	case $1 in
	cp) cp "$dir/src" "$dir/dst" ;;
	forkcp-j*) "$forkcp" -j "${1#forkcp-j}" "$dir/src" "$dir/dst" ;;
	esac
}

# timed CASE TOOL: one timed copy (CASE new: DST removed first; pause:
# after $pause s; series: $series copies in a row), its milliseconds
# appended to $dir/CASE.TOOL.
timed() {
	[ "$1" = new ] && rm -f "$dir/dst"
	[ "$1" = pause ] && sleep "$pause"
	n=1
	[ "$1" = series ] && n=$series
	t0=$(now_ns)
	k=0
	while [ "$k" -lt "$n" ]; do
		copy "$2"
		k=$((k + 1))
	done
	t1=$(now_ns)
	echo $(((t1 - t0) / 1000000)) >>"$dir/$1.$2"
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

median() {
	sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

tools="cp forkcp-j1 forkcp-j2 forkcp-j4"
echo "warming up (one untimed copy each, checked byte for byte)..."
for t in $tools; do
	rm -f "$dir/dst"
	copy "$t"
	if ! cmp -s "$dir/src" "$dir/dst"; then
		echo "forkcp.sh: $t made a copy that differs from the source" >&2
		exit 1
	fi
done

verdicts=""
# bench CASE N: N rounds of CASE with every tool, then the table.
bench() {
	echo
	echo "== $1: load $(load) (1, 5, 15 min), $(dirty)"
	i=0
	while [ "$i" -lt "$2" ]; do
		for t in $(rotate "$i" $tools); do
			timed "$1" "$t"
		done
		i=$((i + 1))
	done
	cpm=$(median "$dir/$1.cp")
	per=""
	[ "$1" = series ] && per="ms/copy"
	printf '%-10s %10s %8s %8s %8s   %s\n' tool "median ms" "time/cp" "MiB/s" "$per" "all (ms)"
	for t in $tools; do
		m=$(median "$dir/$1.$t")
		c=1
		[ "$1" = series ] && c=$series
		printf '%-10s %10d %8s %8s %8s   %s\n' "$t" "$m" \
			"$(awk -v a="$m" -v b="$cpm" 'BEGIN { printf "%.2f", a / b }')" \
			"$(awk -v s="$mib" -v c="$c" -v ms="$m" 'BEGIN { printf "%.0f", (ms > 0) ? s * c * 1000 / ms : 0 }')" \
			"$([ "$c" -gt 1 ] && echo $((m / c)) || true)" \
			"$(tr '\n' ' ' <"$dir/$1.$t")"
	done
	echo "   after: load $(load), $(dirty)"
	j2=$(median "$dir/$1.forkcp-j2")
	if [ "$j2" -le "$cpm" ]; then
		verdicts="$verdicts
$1: target met: forkcp -j 2 (median $j2 ms) is no slower than cp ($cpm ms)"
	else
		verdicts="$verdicts
$1: target missed: forkcp -j 2 (median $j2 ms) is slower than cp ($cpm ms)"
	fi
}

bench new "$runs"
cp "$dir/src" "$dir/dst"
bench replace "$runs"
bench pause "$runs"
bench series "$rounds"
rm -f "$dir/dst"
echo "$verdicts"
