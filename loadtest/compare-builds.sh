#!/bin/bash
# compare-builds.sh OLD_BINARY NEW_BINARY [verify|scan|mixed]
#
# Runs two builds of cordtrace at once, each with its own database, service and load
# generator (8 clients each), and prints each one's CPU per write over the same 10 s: its
# serve process, its PostgreSQL backends and its load generator, from /proc, divided by the
# writes /metrics counted. Both meet the same machine in the same seconds, which makes a
# difference of a few per cent visible on a machine whose speed drifts by half within
# minutes. Swap the two builds and run again: the first started has a small edge.
#
# Needs PostgreSQL on 127.0.0.1:5432 (role postgres, trust auth), psql, createdb and curl.
set -euo pipefail
OLD=$1 NEW=$2 SCENARIO=${3:-verify}
case $SCENARIO in
verify) EXTRA=(-duration 32s) ;;
scan | mixed) EXTRA=(-duration 32s -bags 15000) ;; # enough for 32 s at up to 900 scans/s each; seeding takes minutes
*) echo "scenario: verify, scan or mixed" >&2; exit 2 ;;
esac
work=$(mktemp -d)
pids=()
cleanup() {
	kill "${pids[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	for b in old new; do psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS cordtrace_compare_$b" || true; done
	rm -rf "$work"
}
trap cleanup EXIT

ticks() { # CPU ticks (user + system) of the processes given
	local t=0 s p
	for p in "$@"; do
		s=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
		t=$((t + s))
	done
	echo "$t"
}
backends() { psql -h 127.0.0.1 -U postgres -Atc "SELECT pid FROM pg_stat_activity WHERE datname = '$1' AND pid <> pg_backend_pid()"; }
writes() { curl -s "http://127.0.0.1:$1/metrics" | awk '/^cordtrace_grouped_writes_total/ {s += $2} END {print s + 0}'; }

declare -A port=([old]=18091 [new]=18092) bin=([old]=$OLD [new]=$NEW) serve loadgen
for b in old new; do
	db=cordtrace_compare_$b
	url="postgres://postgres@127.0.0.1:5432/$db?sslmode=disable"
	psql -h 127.0.0.1 -U postgres -q -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db"
	createdb -h 127.0.0.1 -U postgres "$db"
	CORDTRACE_ADMIN_PASSWORD="admin password 1" CORDTRACE_ADDR=127.0.0.1:${port[$b]} DATABASE_URL=$url \
		"${bin[$b]}" serve >"$work/serve-$b.log" 2>&1 &
	serve[$b]=$!
	pids+=($!)
done
for b in old new; do
	until curl -s -o /dev/null "http://127.0.0.1:${port[$b]}/healthz"; do sleep 0.2; done
done
for b in old new; do
	"${bin[$b]}" loadtest -target "http://127.0.0.1:${port[$b]}" -admin-password "admin password 1" \
		-database-url "postgres://postgres@127.0.0.1:5432/cordtrace_compare_$b?sslmode=disable" \
		-concurrency 8 -scenario "$SCENARIO" "${EXTRA[@]}" >"$work/load-$b.out" 2>"$work/load-$b.err" &
	loadgen[$b]=$!
	pids+=($!)
done
# Both in their timed run (a progress line a second), then 3 s more.
until grep -q '^ *1s ' "$work/load-old.err" 2>/dev/null && grep -q '^ *1s ' "$work/load-new.err" 2>/dev/null; do sleep 0.5; done
sleep 3
declare -A cpu0 pg0 w0
for b in old new; do
	pg=$(backends "cordtrace_compare_$b")
	cpu0[$b]=$(ticks "${serve[$b]}" "${loadgen[$b]}" $pg) pg0[$b]=$(ticks $pg) w0[$b]=$(writes "${port[$b]}")
done
sleep 10
for b in old new; do
	# A load that ended inside the window (its scan pool ran out) leaves ticks uncounted.
	if ! kill -0 "${loadgen[$b]}" 2>/dev/null; then
		echo "$b: its load ended before the 10 s window did, so the figures would be wrong; give the scan pool more bags (EXTRA above)" >&2
		exit 1
	fi
done
for b in old new; do
	pg=$(backends "cordtrace_compare_$b")
	cpu=$(($(ticks "${serve[$b]}" "${loadgen[$b]}" $pg) - cpu0[$b]))
	pgcpu=$(($(ticks $pg) - pg0[$b]))
	w=$(($(writes "${port[$b]}") - w0[$b]))
	# ticks are 10 ms
	echo "$b: $w writes in 10 s; CPU per write $(echo "scale=3; $cpu * 10 / $w" | bc) ms, of which PostgreSQL $(echo "scale=3; $pgcpu * 10 / $w" | bc) ms"
done
wait "${loadgen[@]}"
for b in old new; do echo "$b: $(grep -E 'requests/s|^unexpected outcomes' "$work/load-$b.out" | tr '\n' ' ')"; done
