#!/usr/bin/env bash
# Builds the test and development tools from the Go module proxy into bin/ (git-ignored):
#   bin/k8s/<version>/{kube-apiserver,etcd,kubectl}  (KUBEBUILDER_ASSETS for envtest)
#   bin/k8s/<version>/kube-controller-manager        (garbage collection in `kratix local`)
#   bin/controller-gen-<version>
#   bin/versitygw-<version>                           (the S3 server of the state-store tests)
#   bin/kustomize-<version>                           (install manifests; what Flux runs on a Destination)
#   bin/flux/<version>/                               (Flux's source- and kustomize-controller: hack/build-flux.sh)
# Versions come from hack/tools/go.mod, except versitygw's and kustomize's, pinned below: their
# dependencies would fight Kubernetes' in one module, and `go install module@version` checks its
# go.sum on its own. A tool already built at its version is skipped, so a warm run costs a
# second. Nothing is downloaded except Go modules.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
versitygw_version=v1.8.0
kustomize_version=v5.8.1
tools="$root/hack/tools"
cd "$tools"

version_of() { go list -m -f '{{.Version}}' "$1"; }
k8s_version=$(version_of k8s.io/kubernetes)
cg_version=$(version_of sigs.k8s.io/controller-tools)
k8s_dir="$root/bin/k8s/$k8s_version"
mkdir -p "$k8s_dir"

minor=${k8s_version#v1.}; minor=${minor%%.*}
# Kubernetes reports its version through these variables; without them the binaries call themselves
# v0.0.0 and clients that check the server version complain.
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
	ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

build() { # build <output> <package> [ldflags]
	local out=$1 pkg=$2 flags=${3:-"-s -w"}
	if [[ -x "$out" ]]; then
		return 0
	fi
	echo "building $(basename "$out") ($pkg)" >&2
	local start=$SECONDS
	go build -trimpath -ldflags "$flags" -o "$out.tmp" "$pkg"
	mv "$out.tmp" "$out"
	echo "built $(basename "$out") in $((SECONDS - start))s" >&2
}

build "$k8s_dir/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver "$ldflags"
build "$k8s_dir/etcd" ./etcd
build "$k8s_dir/kubectl" k8s.io/kubernetes/cmd/kubectl "$ldflags"
build "$k8s_dir/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager "$ldflags"
build "$root/bin/controller-gen-$cg_version" sigs.k8s.io/controller-tools/cmd/controller-gen
ln -sfn "controller-gen-$cg_version" "$root/bin/controller-gen"

install_pinned() { # install_pinned <name> <module path of the command> <version>
	local name=$1 pkg=$2 version=$3
	if [[ -x "$root/bin/$name-$version" ]]; then
		return 0
	fi
	echo "building $name $version" >&2
	local start=$SECONDS gobin
	gobin=$(mktemp -d)
	GOBIN="$gobin" go install -trimpath -ldflags "-s -w" "$pkg@$version"
	mv "$gobin/$name" "$root/bin/$name-$version"
	rmdir "$gobin"
	echo "built $name in $((SECONDS - start))s" >&2
}

install_pinned versitygw github.com/versity/versitygw/cmd/versitygw "$versitygw_version"
install_pinned kustomize sigs.k8s.io/kustomize/kustomize/v5 "$kustomize_version"
ln -sfn "kustomize-$kustomize_version" "$root/bin/kustomize"
ln -sfn "versitygw-$versitygw_version" "$root/bin/versitygw"
ln -sfn "k8s/$k8s_version/kubectl" "$root/bin/kubectl"

# Flux's source-controller and kustomize-controller, with their CRDs, into bin/flux/<version>/.
"$root/hack/build-flux.sh"
