package controllers

import (
	"slices"
	"sort"
)

// FlagStateStoreSecretNamespaces is the manager's flag that sets
// Options.StateStoreSecretNamespaces; messages name it.
const FlagStateStoreSecretNamespaces = "state-store-secret-namespaces"

// AnyNamespace in SecretNamespaces allows every namespace.
const AnyNamespace = "*"

// SecretNamespaces are the namespaces where state stores' Secrets may be. A GitStateStore or
// BucketStateStore names its Secret by namespace and name, and its writer sends the Secret's
// credentials to the store's URL: without a limit, whoever may create a store could send any
// team's credentials to a server of their choice.
type SecretNamespaces []string

// Allows reports whether a store's Secret may be in namespace ns.
func (s SecretNamespaces) Allows(ns string) bool {
	return slices.Contains(s, AnyNamespace) || slices.Contains(s, ns)
}

// List returns the namespaces sorted, for messages.
func (s SecretNamespaces) List() []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}
