#!/usr/bin/env bash
# `make test`'s runner: go test on every package but the fault suite (test/faults, `make
# test-faults`), with the controllers package split into $CONTROLLER_SHARDS processes (default 3) that run
# side by side. Its tests run one after another against one API server per process and spend
# most of their time waiting for pipelines and caches, not computing: one process made the
# package alone take 20 minutes under -race. Each shard starts its own kube-apiserver and etcd.
# The Flux end-to-end tests (test/flux: kratix local, five API servers, Flux's controllers; about 3
# minutes) run as a process of their own beside them, so that no other package waits for them.
# TEST_FLAGS that narrow the run (-run) run the packages as one go test, unsharded. The shards
# are balanced by hack/controllers-test-costs.txt; `hack/test.sh --record-costs` measures it again.
set -uo pipefail
cd "$(dirname "$0")/.."

race=${RACE--race}
timeout=${TEST_TIMEOUT:-20m}
flags=${TEST_FLAGS:-}
shards=${CONTROLLER_SHARDS:-3}
sharded=kratix.dev/kratix/controllers
apart=kratix.dev/kratix/test/flux
costs=hack/controllers-test-costs.txt
record=
if [[ "${1:-}" == --record-costs ]]; then
	# The shards run verbosely, and their tests' durations become the costs of the next runs.
	record=-v
fi

pkgs=$(go list ./... | grep -v '/test/faults$')
if [[ "$flags" == *-run* ]] || (( shards <= 1 )); then
	# shellcheck disable=SC2086
	exec go test $race -timeout "$timeout" $flags $pkgs
fi

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
pids=()
names=()
# shellcheck disable=SC2086
go test $race -timeout "$timeout" $flags $(grep -vx -e "$sharded" -e "$apart" <<<"$pkgs") >"$logs/0-packages" 2>&1 &
pids+=($!)
names+=("every package but controllers and test/flux")
# shellcheck disable=SC2086
go test $race -timeout "$timeout" $flags "$apart" >"$logs/2-flux" 2>&1 &
pids+=($!)
names+=("test/flux")
tests=$(grep -h '^func Test[A-Za-z0-9_]*(t \*testing\.T)' controllers/*_test.go | sed 's/^func \(Test[A-Za-z0-9_]*\)(.*/\1/' | sort)
if (($(grep -h '^func Test' controllers/*_test.go | grep -vc '^func TestMain(') != $(wc -l <<<"$tests"))); then
	echo "hack/test.sh: a test of controllers is not declared as func TestX(t *testing.T): it would not run" >&2
	exit 1
fi
# The tests, dealt to the shards by their measured cost, longest first, each to the shard with the
# least so far; a test not in $costs costs the median of those that are.
median=$(awk '!/^#/ && NF == 2 { print $2 }' "$costs" | sort -n | awk '{ c[NR] = $1 } END { print NR ? c[int((NR + 1) / 2)] : 1 }')
assignment=$(awk -v n="$shards" -v median="$median" '
	FNR == NR { if ($0 !~ /^#/ && NF == 2) cost[$1] = $2; next }
	{ name[++count] = $1 }
	END {
		for (i = 1; i <= count; i++) c[i] = (name[i] in cost) ? cost[name[i]] : median
		for (k = 1; k <= count; k++) {
			best = 0
			for (i = 1; i <= count; i++) if (!(i in done) && (best == 0 || c[i] > c[best])) best = i
			done[best] = 1
			s = 0
			for (j = 1; j < n; j++) if (load[j] < load[s]) s = j
			load[s] += c[best]
			print s, name[best]
		}
	}' "$costs" - <<<"$tests")
for ((i = 0; i < shards; i++)); do
	shard=$(awk -v i="$i" '$1 == i { print $2 }' <<<"$assignment" | paste -sd'|')
	# shellcheck disable=SC2086
	go test $race -timeout "$timeout" $flags $record -run "^(${shard})\$" ./controllers/ >"$logs/1-controllers-$i" 2>&1 &
	pids+=($!)
	names+=("controllers, shard $((i + 1)) of $shards")
done

status=0
for i in "${!pids[@]}"; do
	if wait "${pids[$i]}"; then
		echo "--- passed: ${names[$i]}"
	else
		echo "--- FAILED: ${names[$i]}"
		status=1
	fi
done
for f in "$logs"/*; do
	cat "$f"
done
if [[ -n "$record" && $status == 0 ]]; then
	{
		sed -n '/^#/p' "$costs"
		cat "$logs"/1-controllers-* | sed -n 's/^--- PASS: \(Test[A-Za-z0-9_]*\) (\([0-9.]*\)s)$/\1 \2/p' | sort
	} >"$costs.tmp"
	mv "$costs.tmp" "$costs"
	echo "hack/test.sh: wrote $costs"
fi
exit $status
