package adapter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/names"
	"kratix.dev/kratix/pipeline"
)

// writeDryRunWork writes the output of a dry run's pipeline as a Work of the dry run's: the
// spec the real run would write, under a name of its own, with the dry run's labels and none of
// the labels that the engine finds a request's Works by, so that no request sees it and no
// placement is made of it. Its kratix.io/dry-run-of annotation names the Work the real run
// would write (the request's own Work, found as the real run finds it, read only; or the name
// it would create).
func writeDryRunWork(ctx context.Context, c client.Client, env Env, spec v1alpha1.WorkSpec) (*v1alpha1.Work, error) {
	namespace, name, ok := strings.Cut(env.DryRun, "/")
	if !ok {
		return nil, fmt.Errorf("%s %q is not <namespace>/<name>", pipeline.EnvDryRun, env.DryRun)
	}
	real, _, err := ownWork(ctx, c, env, spec, false)
	if err != nil {
		return nil, err
	}
	realName := workName(env)
	if real != nil {
		realName = real.Name
	}
	ref := pipeline.DryRunRef{Namespace: namespace, Name: name}
	work := &v1alpha1.Work{ObjectMeta: metav1.ObjectMeta{
		Name:        DryRunWorkName(namespace, name, env),
		Namespace:   env.PipelineNamespace,
		Labels:      ref.Labels(),
		Annotations: map[string]string{v1alpha1.AnnotationDryRunOf: realName},
	}}
	err = retry.OnError(retry.DefaultRetry, func(err error) bool { return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) }, func() error {
		existing := &v1alpha1.Work{}
		err := c.Get(ctx, client.ObjectKeyFromObject(work), existing)
		switch {
		case apierrors.IsNotFound(err):
			work.Spec = spec
			return c.Create(ctx, work)
		case err != nil:
			return err
		}
		if existing.Labels[v1alpha1.LabelDryRun] != ref.Labels()[v1alpha1.LabelDryRun] || existing.Labels[v1alpha1.LabelDryRunNamespace] != namespace {
			return fmt.Errorf("Work %s/%s exists and is not this dry run's", existing.Namespace, existing.Name)
		}
		existing.Spec = spec
		existing.Annotations = work.Annotations
		work = existing
		return c.Update(ctx, existing)
	})
	if err != nil {
		return nil, fmt.Errorf("write the dry run's Work of %s, pipeline %s: %w", env.describe(), env.Pipeline, err)
	}
	return work, nil
}

// DryRunWorkName names the Work of a dry run's pipeline for one request: the dry run's, the
// request's and the pipeline's names and a hash of them.
func DryRunWorkName(namespace, name string, env Env) string {
	return DryRunWorkNameFor(namespace, name, env.Namespace, env.Name, env.Pipeline)
}

// DryRunWorkNameFor is DryRunWorkName from the parts.
func DryRunWorkNameFor(namespace, name, requestNamespace, request, pipelineName string) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{namespace, name, requestNamespace, request, pipelineName}, "\x00")))
	return names.Shorten(fmt.Sprintf("kratix-dryrun-%s-%s-%s-%s", name, request, pipelineName, hex.EncodeToString(sum[:4])))
}
