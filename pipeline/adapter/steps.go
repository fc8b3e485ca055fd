package adapter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/names"
	"kratix.dev/kratix/pipeline"
)

// ObjectFile is the name of the object's file in /kratix/input.
const ObjectFile = "object.yaml"

// EngineObjectFile is the name of the reader's copy of the object, as JSON, in the engine's
// steps' own directory (pipeline.MountEngine), for the status-writer.
const EngineObjectFile = "object.json"

// Env is what the engine's containers learn from the environment their Job gives them.
type Env struct {
	Action, Type, Promise, Pipeline string
	Group, Version, Kind, Plural    string
	Name, Namespace                 string
	ClusterScoped                   bool
	// PipelineNamespace is where the Work is written.
	PipelineNamespace string
	// PromiseSelectors are the Promise's destination selectors.
	PromiseSelectors []v1alpha1.PromiseScheduling
	// LastPipeline is true in the workflow's last pipeline.
	LastPipeline bool
	// Run is the Job's run number; 0 in a Job built by an engine that did not say.
	Run int64
	// DryRun is "<namespace>/<name>" of the DryRun in a dry run's Job, else empty;
	// DryRunObject is then the object the pipeline reads, as YAML.
	DryRun, DryRunObject string
}

// LoadEnv reads the environment through getenv (os.Getenv in a container) and says which
// variables are missing or malformed.
func LoadEnv(getenv func(string) string) (Env, error) {
	var errs []error
	need := func(name string) string {
		v := getenv(name)
		if v == "" {
			errs = append(errs, fmt.Errorf("%s is not set", name))
		}
		return v
	}
	boolean := func(name string) bool {
		v, err := strconv.ParseBool(getenv(name))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s is not true or false", name))
		}
		return v
	}
	e := Env{
		Action: need(pipeline.EnvWorkflowAction), Type: need(pipeline.EnvWorkflowType),
		Promise: need(pipeline.EnvPromiseName), Pipeline: need(pipeline.EnvPipelineName),
		Group: getenv(pipeline.EnvObjectGroup), Version: need(pipeline.EnvObjectVersion),
		Kind: need(pipeline.EnvObjectKind), Plural: need(pipeline.EnvCRDPlural),
		Name: need(pipeline.EnvObjectName), Namespace: getenv(pipeline.EnvObjectNamespace),
		ClusterScoped:     boolean(pipeline.EnvClusterScoped),
		PipelineNamespace: need(pipeline.EnvPipelineNamespace),
		LastPipeline:      boolean(pipeline.EnvLastPipeline),
		DryRun:            getenv(pipeline.EnvDryRun),
		DryRunObject:      getenv(pipeline.EnvDryRunObject),
	}
	if raw := getenv(pipeline.EnvWorkflowRun); raw != "" {
		run, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || run < 1 {
			errs = append(errs, fmt.Errorf("%s is not a run number", pipeline.EnvWorkflowRun))
		}
		e.Run = run
	}
	if e.DryRun != "" && e.DryRunObject == "" {
		errs = append(errs, fmt.Errorf("%s is set without %s", pipeline.EnvDryRun, pipeline.EnvDryRunObject))
	}
	if raw := getenv(pipeline.EnvPromiseDestinationSelectors); raw != "" {
		if err := json.Unmarshal([]byte(raw), &e.PromiseSelectors); err != nil {
			errs = append(errs, fmt.Errorf("%s is not a list of selectors: %w", pipeline.EnvPromiseDestinationSelectors, err))
		}
	}
	return e, errors.Join(errs...)
}

func (e Env) resource(dyn dynamic.Interface) dynamic.ResourceInterface {
	r := dyn.Resource(schema.GroupVersionResource{Group: e.Group, Version: e.Version, Resource: e.Plural})
	if e.ClusterScoped {
		return r
	}
	return r.Namespace(e.Namespace)
}

func (e Env) describe() string {
	if e.Namespace != "" && !e.ClusterScoped {
		return fmt.Sprintf("%s %s/%s", e.Kind, e.Namespace, e.Name)
	}
	return fmt.Sprintf("%s %s", e.Kind, e.Name)
}

// Read writes the object, with its status, to inputDir/object.yaml: what the pipeline's
// containers read; and, when engineDir exists, to engineDir/object.json for the status-writer.
func Read(ctx context.Context, dyn dynamic.Interface, env Env, inputDir, engineDir string) error {
	if env.DryRun != "" {
		// A dry run's object is the one the engine gave the Job: the request with the spec to
		// preview, or a request that does not exist yet.
		if err := writeNew(inputDir, ObjectFile, []byte(env.DryRunObject)); err != nil {
			return fmt.Errorf("write %s: %w", ObjectFile, err)
		}
		return nil
	}
	obj, err := env.resource(dyn).Get(ctx, env.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("read %s: %w", env.describe(), err)
	}
	unstructured.RemoveNestedField(obj.Object, "metadata", "managedFields")
	data, err := yaml.Marshal(obj.Object)
	if err != nil {
		return fmt.Errorf("encode %s: %w", env.describe(), err)
	}
	if err := writeNew(inputDir, ObjectFile, data); err != nil {
		return fmt.Errorf("write %s: %w", ObjectFile, err)
	}
	if engineDir == "" {
		return nil
	}
	if _, err := os.Stat(engineDir); errors.Is(err, os.ErrNotExist) {
		return nil // a Job built without the engine's volume
	}
	copied, err := obj.MarshalJSON()
	if err != nil {
		return fmt.Errorf("encode %s: %w", env.describe(), err)
	}
	if err := writeNew(engineDir, EngineObjectFile, copied); err != nil {
		return fmt.Errorf("write %s: %w", EngineObjectFile, err)
	}
	return nil
}

// maxObjectFile bounds the reader's copy of the object: more than the API server stores.
const maxObjectFile = 4 << 20

// readerCopy is the object as the reader read it, from engineDir; nil when there is none.
func readerCopy(engineDir string, env Env) *unstructured.Unstructured {
	if engineDir == "" {
		return nil
	}
	// Read as any file of a volume is: the engine's volume is the engine's steps' alone, but a
	// hand-made Job could mount it in a container of its own and leave a link there (to
	// /dev/zero, for one).
	data, err := readRegularFile(engineDir, EngineObjectFile, maxObjectFile, "the reader's copy of the object")
	if err != nil || data == nil {
		return nil
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(data); err != nil || obj.GetName() != env.Name || obj.GetResourceVersion() == "" {
		return nil
	}
	return obj
}

// writeNew writes data to a new file name in dir, replacing what is there: a symbolic link
// left there (the local job runner runs the engine's steps on the host, where a container that
// ran before may have linked object.yaml to any file) is removed, not followed.
func writeNew(dir, name string, data []byte) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer func() { _ = root.Close() }()
	if err := root.RemoveAll(name); err != nil {
		return err
	}
	f, err := root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// WriteWork turns the pipeline's output into the Work of this object and pipeline (ownWork),
// replaced, or created under its name (workName). A pipeline that wrote nothing leaves a Work
// without workload groups, which removes its earlier placements.
func WriteWork(ctx context.Context, c client.Client, env Env, outputDir, metadataDir string, budget int) (*v1alpha1.Work, error) {
	selectors, err := ReadDestinationSelectors(metadataDir)
	if err != nil {
		return nil, err
	}
	in := WorkInput{OutputDir: outputDir, Selectors: selectors, PromiseSelectors: env.PromiseSelectors, WorkflowType: env.Type,
		PromiseName: env.Promise, PipelineName: env.Pipeline}
	if env.Type == v1alpha1.WorkflowTypeResource {
		in.ResourceName, in.ResourceNamespace = env.Name, env.Namespace
	}
	spec, err := BuildWorkSpec(in)
	if err != nil {
		return nil, err
	}
	if err := CheckSize(spec, budget); err != nil {
		return nil, err
	}
	// As upstream's work creator does: every run stamps its Work, so that a re-run changes the
	// Work's generation and its placements (spec.generation) are scheduled and written again.
	spec.LastExecutionTimestamp = metav1.Now()
	if env.DryRun != "" {
		return writeDryRunWork(ctx, c, env, spec)
	}
	labels := workLabels(env)
	work, nameFree, err := replaceNamedWork(ctx, c, env, spec, labels)
	if work != nil || err != nil {
		if err != nil {
			return nil, fmt.Errorf("write the Work of %s, pipeline %s: %w", env.describe(), env.Pipeline, err)
		}
		return work, nil
	}
	// A Work created meanwhile under the name asked for (AlreadyExists) is looked for again.
	retriable := func(err error) bool { return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) }
	err = retry.OnError(retry.DefaultRetry, retriable, func() error {
		existing, nameTaken, err := ownWork(ctx, c, env, spec, nameFree)
		nameFree = false // what the patch found holds for this attempt only
		if err != nil {
			return err
		}
		if existing == nil {
			work = &v1alpha1.Work{ObjectMeta: metav1.ObjectMeta{Name: workName(env), Namespace: env.PipelineNamespace, Labels: labels}, Spec: spec}
			if nameTaken {
				// Someone else's Work holds the name; ours gets a name no one can take ahead of
				// it, and the next run finds it by its labels and spec.
				work.Name, work.GenerateName = "", workName(env)+"-"
			}
			return c.Create(ctx, work)
		}
		work = existing
		work.Spec = spec
		if work.Labels == nil {
			work.Labels = map[string]string{}
		}
		for k, v := range labels {
			work.Labels[k] = v // the engine's controllers find the Work by them
		}
		return c.Update(ctx, work)
	})
	if err != nil {
		return nil, fmt.Errorf("write the Work of %s, pipeline %s: %w", env.describe(), env.Pipeline, err)
	}
	return work, nil
}

// replaceNamedWork replaces the spec of the Work named workName, and sets its labels, in one
// request: a JSON patch whose first operations test that the Work is this object's and
// pipeline's (sameOwner), so that the API server applies it to no one else's Work. It returns
// nil when there is no such Work (none of the name, or someone else's), and then says whether
// no Work has the name (nameFree: the API server answered NotFound): ownWork then looks, as
// for a first run, without reading the name again. It does nothing for a Work whose owner has
// an empty field (a Promise's, a cluster-scoped request's), which a test cannot tell from a
// missing one.
func replaceNamedWork(ctx context.Context, c client.Client, env Env, spec v1alpha1.WorkSpec, labels map[string]string) (work *v1alpha1.Work, nameFree bool, err error) {
	if spec.PromiseName == "" || spec.ResourceName == "" || spec.ResourceNamespace == "" || spec.PipelineName == "" {
		return nil, false, nil
	}
	type op struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value any    `json:"value"`
	}
	ops := []op{
		{"test", "/spec/promiseName", spec.PromiseName},
		{"test", "/spec/resourceName", spec.ResourceName},
		{"test", "/spec/resourceNamespace", spec.ResourceNamespace},
		{"test", "/spec/pipelineName", spec.PipelineName},
		{"replace", "/spec", spec},
	}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		// The engine's controllers find the Work by them; "add" replaces a label that is there.
		ops = append(ops, op{"add", "/metadata/labels/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(k), labels[k]})
	}
	data, err := json.Marshal(ops)
	if err != nil {
		return nil, false, err
	}
	work = &v1alpha1.Work{ObjectMeta: metav1.ObjectMeta{Name: workName(env), Namespace: env.PipelineNamespace}}
	if err := c.Patch(ctx, work, client.RawPatch(types.JSONPatchType, data)); err != nil {
		// None of the name (NotFound), or one that failed a test (Invalid: someone else's, or
		// one without labels). Whatever else went wrong, the long way meets it too and says so.
		return nil, apierrors.IsNotFound(err), nil
	}
	return work, false, nil
}

// workLabels find the Work of one object and pipeline.
func workLabels(env Env) map[string]string {
	labels := map[string]string{
		v1alpha1.LabelPromiseName:  names.LabelValue(env.Promise),
		v1alpha1.LabelPipelineName: names.LabelValue(env.Pipeline),
		v1alpha1.LabelWorkType:     v1alpha1.WorkTypePromise,
	}
	if env.Type == v1alpha1.WorkflowTypeResource {
		labels[v1alpha1.LabelWorkType] = v1alpha1.WorkTypeResource
		labels[v1alpha1.LabelResourceName] = names.LabelValue(env.Name)
		if env.Namespace != "" {
			labels[v1alpha1.LabelResourceNamespace] = env.Namespace
		}
	}
	return labels
}

// workName is <promise>[-<resource>]-<pipeline>-<hash>, the hash telling apart names that the
// dashes would make equal, shortened to Kubernetes' limit.
func workName(env Env) string {
	base := env.Promise
	if env.Type == v1alpha1.WorkflowTypeResource {
		base += "-" + env.Name
	}
	base += "-" + env.Pipeline
	sum := sha256.Sum256([]byte(env.Type + "\x00" + env.Namespace + "\x00" + env.Name + "\x00" + env.Pipeline))
	return names.Shorten(base + "-" + hex.EncodeToString(sum[:4]))
}

// ownWork finds the Work of this object and pipeline: a Work is its own when its spec names the
// same Promise, request and pipeline as spec does (sameOwner). Labels are anyone's to write, and
// a pipeline of another Promise may create Works of its own Promise in the same namespace, so a
// Work that only wears the labels, or only holds the name, is someone else's and left alone.
//
// The Work named workName comes first; without it, the one Work of its own that carries the
// labels (a Work written under another name, by an earlier engine or after the name was taken),
// and more than one is an error. nameTaken says that a Work of someone else holds the name.
// nameFree says that the API server has just answered that no Work has the name, which is then
// not read again.
func ownWork(ctx context.Context, c client.Client, env Env, spec v1alpha1.WorkSpec, nameFree bool) (work *v1alpha1.Work, nameTaken bool, err error) {
	if !nameFree {
		named := &v1alpha1.Work{}
		err = c.Get(ctx, client.ObjectKey{Namespace: env.PipelineNamespace, Name: workName(env)}, named)
		switch {
		case err == nil && sameOwner(named.Spec, spec):
			return named, false, nil
		case err == nil:
			nameTaken = true
		case !apierrors.IsNotFound(err):
			return nil, false, fmt.Errorf("read the Work %s: %w", workName(env), err)
		}
	}
	// Upstream Kratix labels a Work with its request's namespace only in a pipeline namespace:
	// the Works it wrote in the request's own namespace are found without that label.
	selector := workLabels(env)
	delete(selector, v1alpha1.LabelResourceNamespace)
	var works v1alpha1.WorkList
	if err := c.List(ctx, &works, client.InNamespace(env.PipelineNamespace), client.MatchingLabels(selector)); err != nil {
		return nil, false, fmt.Errorf("find the Work: %w", err)
	}
	var own []*v1alpha1.Work
	for i := range works.Items {
		if sameOwner(works.Items[i].Spec, spec) {
			own = append(own, &works.Items[i])
		}
	}
	switch len(own) {
	case 0:
		return nil, nameTaken, nil
	case 1:
		return own[0], nameTaken, nil
	default:
		found := make([]string, len(own))
		for i, w := range own {
			found[i] = w.Name
		}
		return nil, false, fmt.Errorf("%d Works of %s, pipeline %s, carry its labels (%v) and none has the name %s; expected one",
			len(own), env.describe(), env.Pipeline, found, workName(env))
	}
}

// sameOwner reports whether two WorkSpecs name the same Promise, request and pipeline.
func sameOwner(a, b v1alpha1.WorkSpec) bool {
	return a.PromiseName == b.PromiseName && a.ResourceName == b.ResourceName &&
		a.ResourceNamespace == b.ResourceNamespace && a.PipelineName == b.PipelineName
}

// WriteStatus merges status.yaml into the object's status; after the last pipeline of a configure
// workflow it also marks the workflow completed. A pipeline that suspended its workflow or asked
// for a retry (workflow-control.yaml) is marked Suspended in status.kratix.workflows instead,
// which the engine reads once the Job has completed.
//
// The first attempt writes over the reader's copy of the object from engineDir, when there is
// one: the API server takes it only if the object has not changed since (its resourceVersion),
// which spares reading it again; otherwise, and on a conflict, the object is read.
func WriteStatus(ctx context.Context, dyn dynamic.Interface, env Env, metadataDir, engineDir string, now time.Time) error {
	file, err := ReadStatusFile(metadataDir)
	if err != nil {
		return err
	}
	control, err := ReadWorkflowControl(metadataDir)
	if err != nil {
		return err
	}
	if env.DryRun != "" {
		// A dry run changes no request's status: the files were checked, nothing is written.
		return nil
	}
	r := env.resource(dyn)
	copied := readerCopy(engineDir, env)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		obj := copied
		copied = nil
		if obj == nil {
			var err error
			if obj, err = r.Get(ctx, env.Name, metav1.GetOptions{}); err != nil {
				if apierrors.IsNotFound(err) {
					return fmt.Errorf("%s is gone: %w", env.describe(), err)
				}
				return fmt.Errorf("read %s: %w", env.describe(), err)
			}
		}
		current, _, err := unstructured.NestedMap(obj.Object, "status")
		if err != nil {
			return fmt.Errorf("read the status of %s: %w", env.describe(), err)
		}
		status, err := MergeStatus(StatusInput{Current: current, File: file, WorkflowType: env.Type,
			ConfigureCompleted: env.Action == v1alpha1.WorkflowActionConfigure && env.LastPipeline && !control.Suspends(), Now: now})
		if err != nil {
			return err
		}
		if err := MarkWorkflowControl(status, env.Action, env.Pipeline, control, obj.GetGeneration(), env.Run, now); err != nil {
			return err
		}
		obj.Object["status"] = status
		_, err = r.UpdateStatus(ctx, obj, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("%s is gone: %w", env.describe(), err)
		}
		return err
	})
}

// MarkWorkflowControl records in status.kratix.workflows what the pipeline asked for in
// workflow-control.yaml: its entry becomes Suspended with the message, and for a retry the time
// it is due (nextRetryAt) and one more attempt; the object's generation is kept as
// suspendedGeneration. Without a control the entry's earlier suspension is cleared. A list of
// the other workflow (configure or delete) is replaced by one of this workflow. The entry's
// reportedRun becomes run, when positive: the engine's copy of the object that shows it holds
// this write.
func MarkWorkflowControl(status map[string]any, action, pipelineName string, control WorkflowControl, generation, run int64, now time.Time) error {
	workflows, _, err := unstructured.NestedMap(status, "kratix", "workflows")
	if err != nil {
		return fmt.Errorf("status.kratix.workflows: %w", err)
	}
	if workflows == nil {
		workflows = map[string]any{}
	}
	pipelines, _, err := unstructured.NestedSlice(workflows, "pipelines")
	if err != nil {
		return fmt.Errorf("status.kratix.workflows.pipelines: %w", err)
	}
	if a, _ := workflows["action"].(string); a != action {
		pipelines = nil
		delete(workflows, "suspendedGeneration")
	}
	workflows["action"] = action
	var entry map[string]any
	for _, p := range pipelines {
		if m, ok := p.(map[string]any); ok && m["name"] == pipelineName {
			entry = m
		}
	}
	if entry == nil {
		if !control.Suspends() && run <= 0 {
			return nil
		}
		entry = map[string]any{"name": pipelineName}
		pipelines = append(pipelines, entry)
	}
	if run > 0 {
		entry["reportedRun"] = run
	}
	stamp := now.UTC().Format(time.RFC3339)
	switch {
	case control.Suspends():
		if entry["phase"] != v1alpha1.WorkflowPhaseSuspended {
			entry["lastTransitionTime"] = stamp
		}
		entry["phase"] = v1alpha1.WorkflowPhaseSuspended
		entry["message"] = control.Message
		if control.Message == "" {
			delete(entry, "message")
		}
		delay, _ := control.RetryDuration()
		if control.RetryAfter != "" {
			attempts, _ := entry["attempts"].(int64)
			entry["attempts"] = attempts + 1
			entry["nextRetryAt"] = now.Add(delay).UTC().Format(time.RFC3339)
		} else {
			delete(entry, "attempts")
			delete(entry, "nextRetryAt")
		}
		workflows["suspendedGeneration"] = generation
	case entry["phase"] == v1alpha1.WorkflowPhaseSuspended:
		entry["phase"] = v1alpha1.WorkflowPhaseRunning
		entry["lastTransitionTime"] = stamp
		fallthrough
	default:
		delete(entry, "message")
		delete(entry, "attempts")
		delete(entry, "nextRetryAt")
	}
	workflows["pipelines"] = pipelines
	return unstructured.SetNestedMap(status, workflows, "kratix", "workflows")
}
