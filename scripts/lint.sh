#!/bin/sh
# lint.sh - static analysis for `make lint`: cppcheck and clang-tidy over src/ and fuzz/, failing on any finding.
#
# clang-tidy's checks and the reason for each disabled one are in
# .clang-tidy at the root.  cppcheck's are chosen here:
#   --enable=warning,style,performance,portability (everything but
#   "information" and "unusedFunction", which misfires on functions used
#   only from another file), with these suppressions:
#   - variableScope: asks to move declarations into inner blocks; the house
#     style (Linux/OpenBSD) declares locals at the top of the function.
#   - missingIncludeSystem: cppcheck does not need libc's headers, and
#     reads its own models of them instead.
#   - unreachableCode in src/forkcp/forkcp.c: cppcheck takes raise() for noreturn;
#     the _exit after raise(sig) there runs when the signal is ignored.
#   cppcheck's posix library model is not loaded: in 2.10 it rejects
#   mmap(..., MAP_ANONYMOUS, -1, 0), the documented way to map anonymous
#   memory.  Inline suppressions (cppcheck-suppress) carry their own reason.
set -eu

files="$(ls src/*/*.c fuzz/*.c)"
jobs=$(nproc 2>/dev/null || echo 2)
status=0

echo "lint: layers"
/usr/bin/python3 scripts/layers.py || status=1

echo "lint: cppcheck"
cppcheck --quiet --error-exitcode=1 --inline-suppr --std=c11 -D_GNU_SOURCE -Isrc -Ifuzz \
	--enable=warning,style,performance,portability \
	--suppress=variableScope --suppress=missingIncludeSystem \
	--suppress=unreachableCode:src/forkcp/forkcp.c \
	--template='{file}:{line}: {severity} ({id}): {message}' \
	$files || status=1

echo "lint: clang-tidy ($jobs at a time)"
# One file per run, in parallel; any output is a finding (WarningsAsErrors in .clang-tidy).
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! printf '%s\n' $files | xargs -P "$jobs" -n 1 sh -c \
	'clang-tidy --quiet "$0" -- -std=gnu11 -D_GNU_SOURCE -Isrc -Ifuzz 2>/dev/null' >"$out"; then
	status=1
fi
if [ -s "$out" ]; then
	cat "$out"
	status=1
fi
if [ $status -eq 0 ]; then
	echo "lint: clean (cppcheck and clang-tidy: 0 findings)"
else
	echo "lint: FAILED"
fi
exit $status
