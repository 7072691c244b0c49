#!/usr/bin/env bash
# Prints why a `go test` run failed, from its log (the first argument), in
# few lines: CI keeps only the tail of its output, where Ginkgo's summary
# names a failed spec's file and line but not what it waited for. For each
# Ginkgo failure, the [FAILED] message (up to MAX lines); for each plain Go
# test, the lines before its "--- FAIL" that name a _test.go file.
set -euo pipefail

log=${1:?usage: test-failures.sh LOG}
max=${MAX:-14}

# Ginkgo colours its report; the escapes would hide the markers.
sed -e 's/\x1b\[[0-9;]*m//g' "$log" | awk -v max="$max" '
	# A Ginkgo failure report: from its [FAILED] line to its "In [It] at:".
	/^[[:space:]]*\[FAILED\]/ && !/\[FAILED\] in \[/ { infail = 1; n = 0 }
	infail {
		if (n < max) print
		n++
		if ($0 ~ /In \[[A-Za-z]+\] at:/) { infail = 0; print "" }
		next
	}
	# A plain test: the t.Error/t.Fatal lines name the _test.go file.
	/^[[:space:]]+[A-Za-z0-9_]+_test\.go:[0-9]+:/ { held[++h] = $0; if (h > max) { delete held[h - max]; } }
	/^--- FAIL:/ {
		for (i = h - max + 1; i <= h; i++) if (i in held) print held[i]
		print; print ""; delete held; h = 0
	}
	/^(ok|FAIL)[[:space:]]/ { delete held; h = 0 }
' | head -n "${LIMIT:-120}"
