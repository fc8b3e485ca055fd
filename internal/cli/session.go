package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"

	"github.com/spf13/pflag"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"kratix.dev/kratix/api/v1alpha1"
)

// Output formats, as kubectl names them; "" is the table.
const (
	outputTable = ""
	outputWide  = "wide"
	outputYAML  = "yaml"
	outputJSON  = "json"
)

// flags are the flags every command shares, as kubectl spells them.
type flags struct {
	kubeconfig    string
	context       string
	namespace     string
	allNamespaces bool
	output        string
}

// newFlagSet returns a command's flag set with the shared flags; flags may come after the
// arguments, as with kubectl. allNamespaces adds -A.
func newFlagSet(name string, stderr io.Writer, allNamespaces bool) (*pflag.FlagSet, *flags) {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &flags{}
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default $KUBECONFIG or ~/.kube/config, as kubectl)")
	fs.StringVar(&f.context, "context", "", "the kubeconfig context to use")
	fs.StringVarP(&f.namespace, "namespace", "n", "", "the namespace (default: the context's)")
	if allNamespaces {
		fs.BoolVarP(&f.allNamespaces, "all-namespaces", "A", false, "every namespace")
	}
	fs.StringVarP(&f.output, "output", "o", "", "output format: wide, yaml or json")
	return fs, f
}

// parse parses args and checks the shared flags; -h is flag.ErrHelp, a bad flag a UsageError.
func parse(fs *pflag.FlagSet, f *flags, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return flag.ErrHelp
		}
		return UsageError{Err: err}
	}
	switch f.output {
	case outputTable, outputWide, outputYAML, outputJSON:
	default:
		return usagef("unknown output format %q: use wide, yaml or json", f.output)
	}
	if f.allNamespaces && fs.Changed("namespace") {
		return usagef("give either --namespace or --all-namespaces")
	}
	return nil
}

// session is a connection to the API server as the kubeconfig says.
type session struct {
	c client.Client
	// logs reads Pods' logs, which the controller-runtime client cannot.
	logs kubernetes.Interface
	// server is the API server's address, for messages.
	server string
	// namespace is -n, else the context's, else "default"; explicitNS says whether -n (or the
	// context) named it.
	namespace  string
	explicitNS bool
	all        bool
	output     string
}

// scheme knows the kinds the CLI reads.
func scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, batchv1.AddToScheme, apiextensionsv1.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// connect loads the kubeconfig as kubectl does (--kubeconfig, else $KUBECONFIG, else
// ~/.kube/config; --context; -n) and builds a client. It does not contact the server.
func (f *flags) connect() (*session, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = f.kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: f.context}
	overrides.Context.Namespace = f.namespace
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load the kubeconfig (set --kubeconfig or $KUBECONFIG): %w", err)
	}
	ns, explicit, err := cc.Namespace()
	if err != nil {
		return nil, fmt.Errorf("load the kubeconfig: %w", err)
	}
	s, err := scheme()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		return nil, fmt.Errorf("connect to the API server %s: %w", cfg.Host, apiError(cfg.Host, err))
	}
	logs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the API server %s: %w", cfg.Host, err)
	}
	return &session{c: c, logs: logs, server: cfg.Host, namespace: ns, explicitNS: explicit || f.namespace != "", all: f.allNamespaces, output: f.output}, nil
}

// get reads one object; what names it for a "not found" message, e.g. `promise "redis"`.
func (s *session) get(ctx context.Context, what string, key client.ObjectKey, obj client.Object) error {
	if err := s.c.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			if key.Namespace != "" {
				return fmt.Errorf("%s not found in namespace %q", what, key.Namespace)
			}
			return fmt.Errorf("%s not found", what)
		}
		return apiError(s.server, err)
	}
	return nil
}

// list lists objects, with apiError's messages.
func (s *session) list(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if err := s.c.List(ctx, list, opts...); err != nil {
		return apiError(s.server, err)
	}
	return nil
}

// apiError says what went wrong with a call: the API server's own message when it answered
// (forbidden, invalid), that it could not be reached otherwise.
func apiError(server string, err error) error {
	var status apierrors.APIStatus
	switch {
	case errors.As(err, &status), meta.IsNoMatchError(err):
		return err
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return fmt.Errorf("cannot reach the API server %s: %w", server, uerr.Err)
	}
	return fmt.Errorf("cannot reach the API server %s: %w", server, err)
}
