// Package localplatform is `kratix local`: a whole platform on one machine, with no cluster. It
// runs etcd, kube-apiserver and kube-controller-manager (the binaries `make tools` builds into
// bin/k8s/<version>/) as child processes on loopback, installs the engine's CRDs, and runs the
// engine's controllers with the local job runner (pipeline/local) in this process. A
// GitStateStore `default`, backed by a bare repository in the data directory, and a Destination
// `local` on it are created, so that a Promise applied with kubectl ends up as commits that
// `git log` shows. A second Destination, `platform` (label environment: platform,
// strictMatchLabels), is the platform itself: its directory of the store is applied to the
// platform's own API server by a small GitOps agent (package applier), so that compound Promises,
// whose pipelines write requests of other Promises there, work with no cluster.
//
// Everything lives in one data directory (default .kratix-local/):
//
//	kubeconfig               an administrator's kubeconfig, rewritten at every start
//	state.git/               the bare repository of the GitStateStore `default`
//	etcd/                    etcd's data: the platform's objects survive a restart
//	pki/                     the CAs (the platform's and etcd's), serving and client certificates,
//	                         the service-account keys; the owner's alone, keys of mode 0600
//	control-plane/           kube-controller-manager's kubeconfig
//	jobs/                    the local job runner's volumes and container logs, per Job
//	logs/                    one log per process; the previous start's as <name>.log.1
//	kratix.lock              held (flock) while a platform runs on the directory
//
// etcd serves TLS on loopback and accepts only kube-apiserver, by a client certificate of a CA of
// its own kept in pki/: a user or process that cannot read the data directory cannot reach the
// objects behind the API server's back either. A data directory of an earlier version, whose
// etcd served plain HTTP, gains these certificates at its next start.
//
// kube-controller-manager runs without its Job controller: the local job runner plays that part.
// It is there for garbage collection (owner references) and namespace deletion, which behave as
// in a cluster.
package localplatform
