package pipeline

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"kratix.dev/kratix/api/v1alpha1"
)

// The engine's volumes and where every container sees them (CONTRACT.md §6). They are emptyDirs
// that live as long as the Job's Pod.
const (
	VolumeInput    = "kratix-input"
	VolumeOutput   = "kratix-output"
	VolumeMetadata = "kratix-metadata"

	MountInput    = "/kratix/input"
	MountOutput   = "/kratix/output"
	MountMetadata = "/kratix/metadata"

	// VolumeEngine, at MountEngine, is the engine's containers' own: the reader leaves there the
	// object as it read it, which the status-writer writes its status over (its resourceVersion
	// proves it current) instead of reading the object again. The pipeline's containers do not
	// mount it: what they could write there, the status-writer would trust.
	VolumeEngine = "kratix-engine"
	MountEngine  = "/kratix/engine"
)

// The engine's containers in a pipeline's Job. Each runs "<AdapterCommand> pipeline-adapter
// <its name>".
const (
	// ContainerReader writes the object to /kratix/input/object.yaml; the first init container.
	ContainerReader = "reader"
	// ContainerWorkWriter turns /kratix/output into the pipeline's Work; the last init container,
	// configure pipelines only.
	ContainerWorkWriter = "work-writer"
	// ContainerStatusWriter merges /kratix/metadata/status.yaml into the object's status; the
	// Job's main container, so the Job completes only when the status is written.
	ContainerStatusWriter = "status-writer"

	// AdapterSubcommand is the kratix subcommand that runs the engine's containers.
	AdapterSubcommand = "pipeline-adapter"
)

// step is one pipeline of a workflow resolved into what BuildJob and BuildAccess share.
type step struct {
	workflow       Workflow
	pipeline       v1alpha1.Pipeline // a copy: nothing built shares memory with the Promise
	last           bool              // the workflow's last pipeline
	object         objectRef
	namespace      string // of the Job, its ServiceAccount and the Work
	serviceAccount string
	// perRequest says that the ServiceAccount is the request's own: a resource workflow's
	// pipeline that names none of its own (rbac.serviceAccount).
	perRequest bool
}

// resolve checks the workflow and picks its pipeline at index.
func resolve(w Workflow, index int, opts Options) (step, error) {
	pipelines, err := w.Pipelines()
	if err != nil {
		return step{}, err
	}
	if index < 0 || index >= len(pipelines) {
		return step{}, fmt.Errorf("the %s %s workflow of Promise %q has %d pipelines; there is no pipeline %d", w.Type, w.Action, w.Promise.Name, len(pipelines), index)
	}
	obj, err := w.object()
	if err != nil {
		return step{}, err
	}
	p := *pipelines[index].DeepCopy()
	namespace := w.Namespace(opts)
	if err := errors.Join(checkReserved(p, opts), checkAccess(p, namespace, opts)); err != nil {
		return step{}, fmt.Errorf("pipeline %q of Promise %q: %w", p.Metadata.Name, w.Promise.Name, err)
	}
	s := step{
		workflow:       w,
		pipeline:       p,
		last:           index == len(pipelines)-1,
		object:         obj,
		namespace:      namespace,
		serviceAccount: p.Spec.RBAC.ServiceAccount,
	}
	switch {
	case s.serviceAccount != "":
	case w.Type == v1alpha1.WorkflowTypeResource:
		s.serviceAccount, s.perRequest = requestServiceAccountName(w, p.Metadata.Name, obj), true
	default:
		s.serviceAccount = accessName(w, p.Metadata.Name)
	}
	return s, nil
}

// checkReserved refuses container names, volume names and mount paths that the engine's own
// would clash with (the API server would refuse the Job, later and less clearly), and containers
// that would run the engine's own steps: its adapter image, or a command line that runs
// `<AdapterCommand> pipeline-adapter`. Those steps are the engine's to run; the local job runner
// runs them outside the sandbox.
func checkReserved(p v1alpha1.Pipeline, opts Options) error {
	var errs []error
	for _, c := range p.Spec.Containers {
		switch c.Name {
		case ContainerReader, ContainerWorkWriter, ContainerStatusWriter:
			errs = append(errs, fmt.Errorf("container name %q is reserved for the engine", c.Name))
		}
		if sameImage(c.Image, opts.AdapterImage) {
			errs = append(errs, fmt.Errorf("container %q: image %q is the engine's own (%s), which runs the engine's steps only; use an image of your own", c.Name, c.Image, opts.AdapterImage))
		}
		if how := runsAdapter(c.Command, c.Args, opts.AdapterCommand); how != "" {
			errs = append(errs, fmt.Errorf("container %q: %s; the engine adds its own steps (%s, %s, %s) to every pipeline's Job itself, and a pipeline's containers may not run them", c.Name, how, ContainerReader, ContainerWorkWriter, ContainerStatusWriter))
		}
		for _, m := range c.VolumeMounts {
			switch {
			case m.MountPath == MountInput, m.MountPath == MountOutput, m.MountPath == MountMetadata, m.MountPath == MountEngine:
				errs = append(errs, fmt.Errorf("container %q mounts %q over the engine's volume there", c.Name, m.MountPath))
			case m.Name == VolumeEngine:
				errs = append(errs, fmt.Errorf("container %q mounts volume %q, the engine's own", c.Name, m.Name))
			}
		}
	}
	for _, v := range p.Spec.Volumes {
		switch v.Name {
		case VolumeInput, VolumeOutput, VolumeMetadata, VolumeEngine:
			errs = append(errs, fmt.Errorf("volume name %q is reserved for the engine", v.Name))
		}
	}
	return errors.Join(errs...)
}

// sameImage reports whether image names the same repository as the adapter image, whatever its
// tag or digest: "kratix", "kratix:latest" and "docker.io/library/kratix:v2" are all
// "index.docker.io/library/kratix". Every tag of the engine's image holds the engine's binary. An
// image that does not parse is compared as written.
func sameImage(image, adapter string) bool {
	if image == "" || adapter == "" {
		return false
	}
	a, errA := name.ParseReference(adapter)
	i, errI := name.ParseReference(image)
	if errA != nil || errI != nil {
		return image == adapter
	}
	return a.Context().Name() == i.Context().Name()
}

// runsAdapter says why a container's command line would run the engine's adapter, or "": the
// argument pipeline-adapter after one whose base name is the adapter command ([kratix]
// [pipeline-adapter work-writer], [/usr/bin/kratix pipeline-adapter]), or pipeline-adapter inside
// a longer argument, as a shell script (sh -c "kratix pipeline-adapter ...") runs it.
func runsAdapter(command, args []string, adapterCommand string) string {
	binary := path.Base(adapterCommand)
	seenBinary := false
	for _, arg := range slices.Concat(command, args) {
		switch {
		case arg == AdapterSubcommand && seenBinary:
			return fmt.Sprintf("its command and args run `%s %s`", binary, AdapterSubcommand)
		case arg != AdapterSubcommand && strings.Contains(arg, AdapterSubcommand):
			return fmt.Sprintf("its command or args mention %q, as a script that runs `%s %s` would", AdapterSubcommand, binary, AdapterSubcommand)
		case path.Base(arg) == binary:
			seenBinary = true
		}
	}
	return ""
}

// checkAccess refuses a pipeline that would hold the engine's powers: running as the engine's
// ServiceAccount or as the namespace's default one (which every Pod there runs as, so every Pod
// would gain the pipeline's permissions), or asking in rbac.permissions for write access to the
// engine's own kinds, or for the verbs that admit Works (VerbWritePromiseWorks,
// VerbWriteResourceWorks), which the engine grants each pipeline for its own Promise alone.
func checkAccess(p v1alpha1.Pipeline, namespace string, opts Options) error {
	var errs []error
	switch sa := p.Spec.RBAC.ServiceAccount; {
	case sa == "default":
		errs = append(errs, errors.New("rbac.serviceAccount default is every Pod's of its namespace; name a ServiceAccount of the pipeline's own"))
	case sa != "" && namespace+"/"+sa == opts.EngineServiceAccount:
		errs = append(errs, fmt.Errorf("rbac.serviceAccount %s is the engine's own", sa))
	}
	for _, perm := range p.Spec.RBAC.Permissions {
		why := reservedPermission(perm.PolicyRule)
		if why == "" && (perm.ResourceNamespace == "*" || perm.ResourceNamespace == opts.PlatformNamespace) {
			why = runsAsAnyone(perm.PolicyRule)
		}
		if why != "" {
			errs = append(errs, fmt.Errorf("rbac.permissions: %s", why))
		}
	}
	return errors.Join(errs...)
}

// identityVerbs let their holder act as someone else or grant what it does not hold.
var identityVerbs = []string{"impersonate", "bind", "escalate"}

// identityKinds are what those verbs apply to.
var identityKinds = map[string]bool{"users": true, "groups": true, "serviceaccounts": true, "uids": true, "userextras": true,
	"roles": true, "clusterroles": true, "*": true}

// actsAsOthers says why a rule lets the pipeline impersonate someone or grant roles beyond its
// own (impersonate, bind, escalate, or every verb on what they apply to), or "".
func actsAsOthers(rule rbacv1.PolicyRule) string {
	for _, verb := range rule.Verbs {
		if slices.Contains(identityVerbs, verb) {
			return fmt.Sprintf("verb %q lets the pipeline act as others or grant what it does not hold", verb)
		}
	}
	identityGroup := slices.ContainsFunc(rule.APIGroups, func(g string) bool {
		return g == "" || g == "*" || g == rbacv1.GroupName || g == "authentication.k8s.io"
	})
	if !slices.Contains(rule.Verbs, "*") || !identityGroup {
		return ""
	}
	for _, resource := range rule.Resources {
		kind, _, _ := strings.Cut(resource, "/")
		if identityKinds[kind] {
			return fmt.Sprintf("verb \"*\" on %s includes impersonate, bind or escalate, which let the pipeline act as others or grant what it does not hold; name the verbs it needs", resource)
		}
	}
	return ""
}

// runAsKinds are what runs a container as any ServiceAccount of its namespace, or hands out a
// ServiceAccount's token: in the platform namespace, the engine's.
var runAsKinds = map[string]bool{
	"pods": true, "deployments": true, "replicasets": true, "statefulsets": true, "daemonsets": true,
	"jobs": true, "cronjobs": true, "replicationcontrollers": true, "serviceaccounts/token": true, "*": true,
}

// runsAsAnyone says why a rule, granted in the platform namespace or cluster-wide, would let the
// pipeline run as the engine's ServiceAccount (or any other there), or "".
func runsAsAnyone(rule rbacv1.PolicyRule) string {
	writes := slices.ContainsFunc(rule.Verbs, func(v string) bool { return v == "create" || v == "update" || v == "patch" || v == "*" })
	if !writes {
		return ""
	}
	for _, resource := range rule.Resources {
		if runAsKinds[resource] {
			return fmt.Sprintf("writes of %s in the platform namespace or cluster-wide would run as, or mint a token of, the engine's ServiceAccount; grant them in the namespaces the pipeline needs", resource)
		}
	}
	return ""
}

// engineKinds are the platform.kratix.io resources whose writes only the engine grants.
var engineKinds = map[string]bool{"works": true, "workplacements": true, "promises": true, "*": true}

// reservedPermission says why a rule of rbac.permissions is not the pipeline's to ask for, or "".
func reservedPermission(rule rbacv1.PolicyRule) string {
	for _, verb := range rule.Verbs {
		if verb == v1alpha1.VerbDeleteLatestRevisions {
			return fmt.Sprintf("verb %q admits deleting a Promise's latest PromiseRevision; only the engine holds it", verb)
		}
		if verb == v1alpha1.VerbWritePromiseWorks || verb == v1alpha1.VerbWriteResourceWorks || verb == v1alpha1.VerbWriteWorkPlacements {
			return fmt.Sprintf("verb %q admits writes of Works or WorkPlacements; the engine grants it to each pipeline for its own Promise", verb)
		}
	}
	if !slices.Contains(rule.APIGroups, v1alpha1.GroupVersion.Group) && !slices.Contains(rule.APIGroups, "*") {
		return actsAsOthers(rule)
	}
	for _, resource := range rule.Resources {
		kind, _, _ := strings.Cut(resource, "/")
		if !engineKinds[kind] {
			continue
		}
		for _, verb := range rule.Verbs {
			if verb != "get" && verb != "list" && verb != "watch" {
				return fmt.Sprintf("verb %q on %s of %s: only the engine writes its own kinds", verb, resource, v1alpha1.GroupVersion.Group)
			}
		}
	}
	return actsAsOthers(rule)
}

// BuildJob builds the Job that runs pipeline index of the workflow as part of run number run
// (both from a Decision). Its init containers are the reader, the pipeline's containers in
// order and, for configure, the work-writer; its main container is the status-writer.
func BuildJob(w Workflow, index, run int, opts Options) (*batchv1.Job, error) {
	opts = opts.withDefaults()
	if run < 1 {
		return nil, fmt.Errorf("run number %d: runs are numbered from 1", run)
	}
	s, err := resolve(w, index, opts)
	if err != nil {
		return nil, err
	}
	hash, err := SpecHash(w.Promise, w.Object)
	if err != nil {
		return nil, err
	}
	pod, err := podSpec(s, run, opts)
	if err != nil {
		return nil, err
	}
	labels := jobLabels(w, s.pipeline, hash, run)
	annotations := copyStrings(s.pipeline.Metadata.Annotations)
	backoff := DefaultBackoffLimit
	if b := s.pipeline.Spec.JobOptions.BackoffLimit; b != nil {
		backoff = *b
	}
	return &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: batchv1.SchemeGroupVersion.String(), Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            jobName(w, s.object, s.pipeline.Metadata.Name, hash, run),
			Namespace:       s.namespace,
			Labels:          labels,
			Annotations:     annotations,
			OwnerReferences: jobOwner(s),
		},
		Spec: batchv1.JobSpec{
			BackoffLimit: &backoff,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: copyStrings(labels), Annotations: copyStrings(annotations)},
				Spec:       pod,
			},
		},
	}, nil
}

// podSpec is the Pod of a pipeline's Job in run number run.
func podSpec(s step, run int, opts Options) (corev1.PodSpec, error) {
	contract := contractEnv(s.workflow, s.object, s.pipeline.Metadata.Name)
	engineEnv, err := adapterEnv(contract, s.workflow, s.namespace, s.last, run)
	if err != nil {
		return corev1.PodSpec{}, err
	}
	init := []corev1.Container{
		adapterContainer(ContainerReader, opts, engineEnv, mount(VolumeInput, MountInput, false), mount(VolumeEngine, MountEngine, false)),
	}
	for _, c := range s.pipeline.Spec.Containers {
		init = append(init, userContainer(c, userEnv(contract, c)))
	}
	if s.workflow.Action == v1alpha1.WorkflowActionConfigure {
		init = append(init, adapterContainer(ContainerWorkWriter, opts, engineEnv,
			mount(VolumeOutput, MountOutput, true), mount(VolumeMetadata, MountMetadata, true)))
	}
	volumes := []corev1.Volume{emptyDir(VolumeInput), emptyDir(VolumeOutput), emptyDir(VolumeMetadata), emptyDir(VolumeEngine)}
	for _, v := range s.pipeline.Spec.Volumes {
		volumes = append(volumes, v.Volume)
	}
	restart := corev1.RestartPolicyNever
	if p := s.pipeline.Spec.RestartPolicy; p != "" {
		restart = p // Never or OnFailure: the API refuses Always, which a Job's Pod cannot have
	}
	return corev1.PodSpec{
		ServiceAccountName: s.serviceAccount,
		RestartPolicy:      restart,
		InitContainers:     init,
		Containers: []corev1.Container{
			adapterContainer(ContainerStatusWriter, opts, engineEnv, mount(VolumeMetadata, MountMetadata, true), mount(VolumeEngine, MountEngine, true)),
		},
		Volumes:          volumes,
		ImagePullSecrets: s.pipeline.Spec.ImagePullSecrets,
		NodeSelector:     s.pipeline.Spec.NodeSelector,
		Tolerations:      s.pipeline.Spec.Tolerations,
	}, nil
}

// userContainer is one of the pipeline's containers: the object read-only at /kratix/input,
// /kratix/output and /kratix/metadata writable, then the container's own mounts.
func userContainer(c v1alpha1.Container, env []corev1.EnvVar) corev1.Container {
	mounts := []corev1.VolumeMount{
		mount(VolumeInput, MountInput, true),
		mount(VolumeOutput, MountOutput, false),
		mount(VolumeMetadata, MountMetadata, false),
	}
	return corev1.Container{
		Name:            c.Name,
		Image:           c.Image,
		Command:         c.Command,
		Args:            c.Args,
		Env:             env,
		EnvFrom:         c.EnvFrom,
		VolumeMounts:    append(mounts, c.VolumeMounts...),
		ImagePullPolicy: c.ImagePullPolicy,
		SecurityContext: c.SecurityContext,
		Resources:       resources(c.Resources),
	}
}

// adapterContainer is one of the engine's containers, locked down: it only talks to the API
// server and reads or writes the /kratix volumes it mounts.
func adapterContainer(name string, opts Options, env []corev1.EnvVar, mounts ...corev1.VolumeMount) corev1.Container {
	no, yes := false, true
	return corev1.Container{
		Name:            name,
		Image:           opts.AdapterImage,
		ImagePullPolicy: opts.AdapterPullPolicy,
		Command:         []string{opts.AdapterCommand},
		Args:            []string{AdapterSubcommand, name},
		Env:             env,
		VolumeMounts:    mounts,
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: &no,
			ReadOnlyRootFilesystem:   &yes,
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}
}

func mount(volume, path string, readOnly bool) corev1.VolumeMount {
	return corev1.VolumeMount{Name: volume, MountPath: path, ReadOnly: readOnly}
}

func emptyDir(name string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
}

func resources(r *corev1.ResourceRequirements) corev1.ResourceRequirements {
	if r == nil {
		return corev1.ResourceRequirements{}
	}
	return *r
}

// jobOwner makes a configure Job go when the object it ran for goes (see ownerIn).
func jobOwner(s step) []metav1.OwnerReference {
	return ownerIn(s, s.namespace)
}

// ownerIn is the owner of an object that a workflow's run builds for itself in namespace ("" for
// a cluster-scoped object): the object the workflow acts on (the Promise, or the resource
// request) when an owner reference to it is allowed (Kubernetes refuses owners in another
// namespace, and namespaced owners of cluster-scoped objects) and possible (it has a UID), else
// the Promise. None for a delete workflow (see ownedBy).
func ownerIn(s step, namespace string) []metav1.OwnerReference {
	obj := s.object
	if !ownedBy(s.workflow) {
		return nil
	}
	if obj.UID == "" || (!obj.ClusterScoped && obj.Namespace != namespace) {
		return promiseOwner(s.workflow)
	}
	return []metav1.OwnerReference{{APIVersion: obj.APIVersion, Kind: obj.Kind, Name: obj.Name, UID: types.UID(obj.UID)}}
}

// ownedBy reports whether what a workflow's runs build may have owner references. A delete
// workflow's Job, ServiceAccount and RBAC may not: they run while their owner is being deleted,
// and a foreground deletion (Argo CD prunes that way) would have the garbage collector remove
// them under the running Job, or as soon as they are created. The controller removes the Jobs
// when the delete workflow has finished, and a request's own ServiceAccounts and RBAC when its
// deletion has finished.
func ownedBy(w Workflow) bool {
	return w.Action != v1alpha1.WorkflowActionDelete
}

// promiseOwner is an owner reference to the Promise, which any object may have: the Promise is
// cluster-scoped. None for a delete workflow (see ownedBy) or a Promise without a UID.
func promiseOwner(w Workflow) []metav1.OwnerReference {
	p := w.Promise
	if p.UID == "" || !ownedBy(w) {
		return nil
	}
	return []metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Promise", Name: p.Name, UID: p.UID}}
}
