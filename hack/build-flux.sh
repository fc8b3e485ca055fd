#!/usr/bin/env bash
# Builds Flux's source-controller and kustomize-controller, pinned, with their CRDs, into
#   bin/flux/<version>/{source-controller,kustomize-controller}
#   bin/flux/<version>/crds/*.yaml   (config/crd/bases of both modules)
# for the Flux end-to-end tests (test/flux) and `kratix local --gitops`. Each controller is built
# from a module of its own under hack/flux/ (`go install module@version` refuses the controllers'
# go.mod, which has replace directives): its go.mod pins the release and copies the replaces the
# build needs, its go.sum makes the build reproducible. v1.9.6 is the newest release whose go.mod
# this Go accepts (v1.10 wants go 1.27). A build already done is skipped. Nothing is downloaded
# except Go modules. Called by hack/build-tools.sh (`make tools`).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
flux_version=v1.9.6
dir="$root/bin/flux/$flux_version"
mkdir -p "$dir/crds"

for name in source-controller kustomize-controller; do
	module=github.com/fluxcd/$name
	(
		cd "$root/hack/flux/$name"
		got=$(go list -m -f '{{.Version}}' "$module")
		if [[ "$got" != "$flux_version" ]]; then
			echo "hack/flux/$name/go.mod requires $module $got, not $flux_version" >&2
			exit 1
		fi
		if [[ ! -x "$dir/$name" ]]; then
			echo "building $name $flux_version" >&2
			start=$SECONDS
			go build -trimpath -ldflags "-s -w" -o "$dir/$name.tmp" "$module"
			mv "$dir/$name.tmp" "$dir/$name"
			echo "built $name in $((SECONDS - start))s" >&2
		fi
		# The CRDs of the release, from the module's sources (the download cache has them once
		# the build has run).
		src=$(go list -m -f '{{.Dir}}' "$module")
		if [[ -z "$src" || ! -d "$src/config/crd/bases" ]]; then
			go mod download "$module"
			src=$(go list -m -f '{{.Dir}}' "$module")
		fi
		for crd in "$src"/config/crd/bases/*.yaml; do
			if [[ ! -f "$dir/crds/$(basename "$crd")" ]]; then
				install -m 0644 "$crd" "$dir/crds/$(basename "$crd")"
			fi
		done
	)
done
