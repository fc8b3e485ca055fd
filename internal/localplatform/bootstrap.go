package localplatform

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/config/crd"
)

// ensureRepository creates the bare repository of the GitStateStore `default`, with main as
// its default branch, unless it exists. The engine's first write creates main.
func ensureRepository(path string) error {
	if _, err := git.PlainOpen(path); err == nil {
		return nil
	} else if !errors.Is(err, git.ErrRepositoryNotExists) {
		return fmt.Errorf("open the state repository %s: %w", path, err)
	}
	_, err := git.PlainInitWithOptions(path, &git.PlainInitOptions{
		Bare:        true,
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName(v1alpha1.DefaultBranch)},
	})
	if err != nil {
		return fmt.Errorf("create the state repository %s: %w", path, err)
	}
	return nil
}

// embeddedCRDs decodes the CRDs embedded in the binary (config/crd/bases).
func embeddedCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	files, err := fs.Glob(crd.Bases, "bases/*.yaml")
	if err != nil {
		return nil, err
	}
	var out []*apiextensionsv1.CustomResourceDefinition
	for _, name := range files {
		data, err := crd.Bases.ReadFile(name)
		if err != nil {
			return nil, err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			c := &apiextensionsv1.CustomResourceDefinition{}
			if err := dec.Decode(c); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return nil, fmt.Errorf("decode %s: %w", name, err)
			}
			if c.Name != "" {
				out = append(out, c)
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("the binary embeds no CRDs")
	}
	return out, nil
}

// installCRDs creates or updates the engine's CRDs and waits until the API server serves them.
func installCRDs(ctx context.Context, c client.Client) error {
	crds, err := embeddedCRDs()
	if err != nil {
		return err
	}
	for _, want := range crds {
		if err := createOrUpdateCRD(ctx, c, want); err != nil {
			return err
		}
	}
	for _, want := range crds {
		if err := waitEstablished(ctx, c, want.Name); err != nil {
			return err
		}
	}
	return nil
}

// createOrUpdateCRD makes the API server's CRD the binary's: a new binary brings its CRDs along.
func createOrUpdateCRD(ctx context.Context, c client.Client, want *apiextensionsv1.CustomResourceDefinition) error {
	current := &apiextensionsv1.CustomResourceDefinition{}
	err := c.Get(ctx, client.ObjectKeyFromObject(want), current)
	switch {
	case apierrors.IsNotFound(err):
		if err := c.Create(ctx, want.DeepCopy()); err != nil {
			return fmt.Errorf("create CRD %s: %w", want.Name, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("read CRD %s: %w", want.Name, err)
	}
	current.Labels, current.Annotations, current.Spec = want.Labels, want.Annotations, want.Spec
	if err := c.Update(ctx, current); err != nil {
		return fmt.Errorf("update CRD %s: %w", want.Name, err)
	}
	return nil
}

func waitEstablished(ctx context.Context, c client.Client, name string) error {
	return pollUntil(ctx, "CRD "+name+" established", func() error {
		current := &apiextensionsv1.CustomResourceDefinition{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, current); err != nil {
			return err
		}
		for _, cond := range current.Status.Conditions {
			if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
				return nil
			}
		}
		return errors.New("not established yet")
	})
}

// defaultObjects are what the platform creates when missing: the namespace of Promise
// workflows, the GitStateStore `default` on the repository at repoURL, and the Destinations
// `local` and `platform` on it. Existing ones are left as they are: they may have been changed on purpose.
func defaultObjects(repoURL string) []client.Object {
	return []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DefaultPlatformNS}},
		&v1alpha1.GitStateStore{
			ObjectMeta: metav1.ObjectMeta{Name: StoreName},
			// No secretRef: the repository is a local path, with nothing to authenticate.
			Spec: v1alpha1.GitStateStoreSpec{URL: repoURL, Branch: v1alpha1.DefaultBranch},
		},
		&v1alpha1.Destination{
			ObjectMeta: metav1.ObjectMeta{Name: DestinationName, Labels: map[string]string{"environment": "local"}},
			Spec: v1alpha1.DestinationSpec{
				Path:          DestinationName,
				StateStoreRef: v1alpha1.StateStoreReference{Kind: v1alpha1.KindGitStateStore, Name: StoreName},
			},
		},
		// The platform itself: strictMatchLabels, so that only what asks for environment:
		// platform lands here, and is applied to the platform's own API server.
		&v1alpha1.Destination{
			ObjectMeta: metav1.ObjectMeta{Name: PlatformDestinationName, Labels: map[string]string{"environment": "platform"}},
			Spec: v1alpha1.DestinationSpec{
				Path:              PlatformDestinationName,
				StateStoreRef:     v1alpha1.StateStoreReference{Kind: v1alpha1.KindGitStateStore, Name: StoreName},
				StrictMatchLabels: true,
			},
		},
	}
}

// createMissing creates each object that does not exist yet.
func createMissing(ctx context.Context, c client.Client, objs []client.Object) error {
	for _, obj := range objs {
		if err := c.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create %T %s: %w", obj, obj.GetName(), err)
		}
	}
	return nil
}

// waitDefaultsReady waits until the GitStateStore `default` and the Destinations `local` and
// `platform` are Ready: the engine reached the repository and wrote the Destination's canary files.
func waitDefaultsReady(ctx context.Context, c client.Client) error {
	store := &v1alpha1.GitStateStore{}
	if err := pollUntil(ctx, "GitStateStore "+StoreName+" Ready", func() error {
		if err := c.Get(ctx, client.ObjectKey{Name: StoreName}, store); err != nil {
			return err
		}
		return readyError(store.Status.Conditions, store.Generation)
	}); err != nil {
		return err
	}
	for _, name := range []string{DestinationName, PlatformDestinationName} {
		dest := &v1alpha1.Destination{}
		if err := pollUntil(ctx, "Destination "+name+" Ready", func() error {
			if err := c.Get(ctx, client.ObjectKey{Name: name}, dest); err != nil {
				return err
			}
			return readyError(dest.Status.Conditions, dest.Generation)
		}); err != nil {
			return err
		}
	}
	return nil
}

// readyError is nil when the Ready condition is True for the object's current generation.
func readyError(conds []metav1.Condition, generation int64) error {
	c := meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
	switch {
	case c == nil:
		return errors.New("no Ready condition yet")
	case c.ObservedGeneration != 0 && c.ObservedGeneration < generation:
		return errors.New("Ready is from an older generation")
	case c.Status != metav1.ConditionTrue:
		return fmt.Errorf("Ready=%s %s: %s", c.Status, c.Reason, c.Message)
	}
	return nil
}

// pollUntil calls check every 100ms until it succeeds or ctx ends; the error then names what
// was awaited and check's last complaint.
func pollUntil(ctx context.Context, what string, check func() error) error {
	for {
		last := check()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %v)", what, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// repoURL is the file:// URL of the bare repository at path.
func repoURL(path string) string { return "file://" + path }
