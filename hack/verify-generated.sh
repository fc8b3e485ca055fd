#!/usr/bin/env bash
# Regenerates deepcopy code, CRDs and RBAC and fails when that changed anything: generated files
# must be committed as the generators make them. The tree is left regenerated, so committing it
# is the fix.
set -euo pipefail
cd "$(dirname "$0")/.."

generated() {
	{ ls api/v1alpha1/zz_generated.*.go config/crd/bases/*.yaml config/rbac/role.yaml 2>/dev/null || true; } | sort
}
snapshot() {
	generated | while read -r f; do sha256sum "$f"; done
}

before=$(snapshot)
make --no-print-directory generate manifests >/dev/null
after=$(snapshot)
if [[ "$before" != "$after" ]]; then
	echo "generated files were stale; they have been regenerated, commit them:" >&2
	diff <(echo "$before") <(echo "$after") | grep '^[<>]' | awk '{print "  " $3}' | sort -u >&2
	exit 1
fi
echo "generated files are up to date"
