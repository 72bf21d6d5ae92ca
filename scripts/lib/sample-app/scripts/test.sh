#!/usr/bin/env bash
# The sample's test step: `go test` of every package, reported as JUnit XML
# (reports/junit.xml) for conveyor's test stage. Exit status = go test's.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p reports
set +e
go test -json -count=1 ./... >reports/go-test.json
status=$?
set -e
python3 scripts/go-junit.py <reports/go-test.json >reports/junit.xml
grep -h '"Action":"output"' reports/go-test.json | python3 -c 'import json,sys; [sys.stdout.write(json.loads(l)["Output"]) for l in sys.stdin]' | grep -E '^(---|ok|FAIL|PASS)' || true
exit "$status"
