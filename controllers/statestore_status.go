package controllers

import (
	"errors"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/conditions"
	"kratix.dev/kratix/statestore"
	"kratix.dev/kratix/statestore/git"
)

// storeFacts is what one reconcile of a state store observed. The Ready condition and the
// result of the reconcile are pure functions of it.
type storeFacts struct {
	// target describes the store for messages, e.g. `repository "https://..." branch "main"`.
	target string
	// secretRef is "namespace/name" of the store's Secret, empty when it names none.
	secretRef string
	// requiredKeys are the Secret keys that the store's authentication method needs.
	requiredKeys []string
	// secretForbidden: the Secret is in a namespace the engine does not read store Secrets
	// from; secretNamespaces lists those it does.
	secretForbidden  bool
	secretNamespaces []string
	// secretMissing: the Secret does not exist.
	secretMissing bool
	// missingKeys are the required keys that the Secret lacks (or holds empty).
	missingKeys []string
	// writerErr is why the writer could not be built or failed validation; nil when it
	// validated. Its text holds no credential.
	writerErr error
}

// setStoreReadyCondition turns the facts into the Ready condition, status.status and
// status.observedGeneration (upstream's field: the generation the status describes).
func setStoreReadyCondition(status *v1alpha1.StateStoreStatus, generation int64, f storeFacts) {
	cond, reason, msg := storeReadiness(f)
	conditions.Set(&status.Conditions, v1alpha1.ConditionReady, cond, reason, msg, generation)
	status.ObservedGeneration = generation
	status.Status = v1alpha1.StateStoreStatusNotReady
	if cond == metav1.ConditionTrue {
		status.Status = v1alpha1.StateStoreStatusReady
	}
}

// storeReadiness is the Ready condition's status, reason and message for the facts.
func storeReadiness(f storeFacts) (metav1.ConditionStatus, string, string) {
	keys := strings.Join(f.requiredKeys, " and ")
	switch {
	case f.secretForbidden:
		return metav1.ConditionFalse, v1alpha1.ReasonSecretNamespaceNotAllowed,
			fmt.Sprintf("Secret %q is not in a namespace the engine reads state-store Secrets from (%s): move it there, or widen the manager's --%s",
				f.secretRef, strings.Join(f.secretNamespaces, ", "), FlagStateStoreSecretNamespaces)
	case f.secretMissing:
		return metav1.ConditionFalse, v1alpha1.ReasonSecretNotFound,
			fmt.Sprintf("Secret %q not found: create it with the keys %s", f.secretRef, keys)
	case len(f.missingKeys) > 0:
		return metav1.ConditionFalse, v1alpha1.ReasonInvalidSecret,
			fmt.Sprintf("Secret %q lacks the keys %s: the authentication method needs %s", f.secretRef, strings.Join(f.missingKeys, " and "), keys)
	case errors.Is(f.writerErr, git.ErrCredentialsOverHTTP):
		return metav1.ConditionFalse, v1alpha1.ReasonCredentialsOverHTTP,
			fmt.Sprintf("refusing to send %s in clear text to %s, where anyone on the network path can read them: use an https URL, or set spec.insecure to true to accept that", storeCredentials(f), f.target)
	case f.writerErr != nil:
		return metav1.ConditionFalse, v1alpha1.ReasonErrorValidatingPermissions,
			fmt.Sprintf("cannot write to %s: %v; %s", f.target, f.writerErr, writerErrHint(f))
	default:
		return metav1.ConditionTrue, v1alpha1.ReasonStateStoreReady,
			fmt.Sprintf("the engine can write to %s", f.target)
	}
}

// storeCredentials names the store's credentials for messages: those in its Secret, or those of
// its URL when it names no Secret.
func storeCredentials(f storeFacts) string {
	if f.secretRef != "" {
		return fmt.Sprintf("the credentials in Secret %q", f.secretRef)
	}
	return "the credentials"
}

// writerErrHint says what to do about a writer's failure.
func writerErrHint(f storeFacts) string {
	credentials := storeCredentials(f)
	switch {
	case errors.Is(f.writerErr, statestore.ErrAuthentication):
		return fmt.Sprintf("the store refused %s or presented a certificate that is not trusted: correct them, or add its CA as ca.crt to the Secret", credentials)
	case errors.Is(f.writerErr, statestore.ErrNotFound):
		return "create it or correct the spec; the engine retries with backoff"
	case errors.Is(f.writerErr, statestore.ErrInvalidConfig), errors.Is(f.writerErr, statestore.ErrInvalidPath):
		return fmt.Sprintf("correct the spec or %s", credentials)
	default:
		return "the engine retries with backoff"
	}
}

// storeResult is the outcome of a reconcile for the facts: revalidate a ready store after
// interval; wait for the Secret (its watch brings the store back); back off on failures that may
// pass; stop on the ones that need the user to change the spec or the Secret (which triggers a
// new reconcile).
func storeResult(f storeFacts, interval time.Duration) (ctrl.Result, error) {
	status, _, msg := storeReadiness(f)
	switch {
	case status == metav1.ConditionTrue:
		return ctrl.Result{RequeueAfter: interval}, nil
	case f.secretMissing:
		return ctrl.Result{}, nil
	default:
		// A missing repository or bucket may be created by someone meanwhile: keep looking.
		return storeErrorResult(f.writerErr, msg, statestore.ErrNotFound)
	}
}

// redactedError is a writer's error whose text had the Secret's values removed; errors.Is still
// sees the cause's kind.
type redactedError struct {
	msg   string
	cause error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.cause }

func redactError(err error, secret map[string][]byte) error {
	if err == nil {
		return nil
	}
	return &redactedError{msg: redact(err.Error(), secret), cause: err}
}
