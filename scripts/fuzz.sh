#!/bin/sh
# fuzz.sh - run (or merge the corpora of) the libFuzzer harnesses built in build/fuzz, failing on any crash.
#
# Usage: scripts/fuzz.sh run SECONDS BUILD_DIR HARNESS...
#        scripts/fuzz.sh merge 0 BUILD_DIR HARNESS...
#
# run: each harness fuzzes for SECONDS, seeded from the checked-in corpus
# fuzz/corpus/HARNESS (read only) and from BUILD_DIR/corpus/HARNESS, where
# the new inputs it finds are written.  A crash, a leak, a sanitizer report,
# a broken invariant or an input slower than 10 s fails the run; the input
# is left in BUILD_DIR/crashes/HARNESS/ and the last lines of the log are
# shown.  Add such an input to fuzz/corpus/HARNESS/ when the bug is fixed:
# `make fuzz-replay` then runs it on every `make check`.
# merge: keep in fuzz/corpus/HARNESS the inputs of BUILD_DIR/corpus/HARNESS
# that add coverage (libFuzzer -merge=1).
set -eu

mode=$1 secs=$2 dir=$3
shift 3
status=0
for h in "$@"; do
	bin=$dir/fuzz_$h
	seeds=fuzz/corpus/$h
	work=$dir/corpus/$h
	crashes=$dir/crashes/$h
	log=$dir/fuzz_$h.log
	mkdir -p "$seeds" "$work" "$crashes"
	case $h in
	server | client2 | rel) maxlen=8192 ;;
	*) maxlen=4096 ;;
	esac
	if [ "$mode" = merge ]; then
		"$bin" -merge=1 -max_len=$maxlen "$seeds" "$work" >"$log" 2>&1 || {
			tail -20 "$log"
			exit 1
		}
		echo "fuzz-merge $h: $(ls "$seeds" | wc -l) inputs in $seeds"
		continue
	fi
	if ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		"$bin" -max_total_time="$secs" -timeout=10 -max_len=$maxlen -print_final_stats=1 \
		-artifact_prefix="$crashes/" "$work" "$seeds" >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
		echo "fuzz $h: ${secs}s, ${runs:-?} runs, ${cov:-cov: ?}, no crash"
	else
		echo "fuzz $h: FAILED (log: $log; input: $(ls -t "$crashes" | head -1))"
		grep -E 'ERROR|SUMMARY|invariant|runtime error|Test unit written' "$log" | head -20
		tail -40 "$log"
		status=1
	fi
done
exit $status
