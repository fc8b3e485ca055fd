package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The kinds of state store a Destination's stateStoreRef names.
const (
	KindGitStateStore    = "GitStateStore"
	KindBucketStateStore = "BucketStateStore"
)

// DefaultBranch is the branch of a GitStateStore that names none: the API server fills it in
// (the +kubebuilder:default of GitStateStoreSpec.Branch says the same), and the writer assumes it
// for a store created before the default existed.
const DefaultBranch = "main"

// Authentication methods of state stores.
const (
	// AuthMethodBasicAuth authenticates to Git with the Secret's username and password.
	AuthMethodBasicAuth = "basicAuth"
	// AuthMethodSSH authenticates to Git with the Secret's sshPrivateKey, checking the server
	// against its knownHosts.
	AuthMethodSSH = "ssh"
	// AuthMethodGitHubApp authenticates to Git over HTTPS as a GitHub App installation: the
	// Secret's appID, installationID and privateKey (optionally apiURL) buy an installation
	// token, sent as the password of the user x-access-token.
	AuthMethodGitHubApp = "githubApp"
	// AuthMethodAccessKey authenticates to S3 with the Secret's accessKeyID and secretAccessKey.
	AuthMethodAccessKey = "accessKey"
	// AuthMethodIAM authenticates to S3 with the credentials of the environment (IAM role).
	AuthMethodIAM = "IAM"
)

// Keys of a state store's Secret.
const (
	SecretKeyUsername       = "username"
	SecretKeyPassword       = "password"
	SecretKeySSHPrivateKey  = "sshPrivateKey"
	SecretKeyKnownHosts     = "knownHosts"
	SecretKeyAppID          = "appID"
	SecretKeyInstallationID = "installationID"
	SecretKeyPrivateKey     = "privateKey"
	// SecretKeyAPIURL is the GitHub API of a GitHub App store, https://api.github.com when the
	// Secret has none (GitHub Enterprise Server: https://HOST/api/v3).
	SecretKeyAPIURL          = "apiURL"
	SecretKeyAccessKeyID     = "accessKeyID"
	SecretKeySecretAccessKey = "secretAccessKey"
	// SecretKeyCACert holds a PEM bundle of extra certificate authorities to trust, named as Flux
	// and Argo CD name it.
	SecretKeyCACert = "ca.crt"
)

// Values of a state store's status.status.
const (
	StateStoreStatusReady    = "Ready"
	StateStoreStatusNotReady = "NotReady"
)

// StateStoreCoreFields are the fields every kind of state store has.
type StateStoreCoreFields struct {
	// Path is the root directory of the engine's files inside the store.
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/') && !self.split('/').exists(s, s == '..')",message="path must be relative and must not contain '..'"
	// +optional
	Path string `json:"path,omitempty"`

	// SecretRef names the Secret with the store's credentials.
	// +optional
	SecretRef *SecretRef `json:"secretRef,omitempty"`
}

// SecretRef names a Secret.
type SecretRef struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// Namespace of the Secret.
	// +kubebuilder:default=default
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// StateStoreStatus is what the engine observed of a state store.
type StateStoreStatus struct {
	// Status is Ready or NotReady.
	// +optional
	Status string `json:"status,omitempty"`

	// Conditions: Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ObservedGeneration is the generation of the spec that the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// GitStateStoreSpec says which Git repository and branch hold the files and how to reach them.
// +kubebuilder:validation:XValidation:rule="self.authMethod != 'ssh' || has(self.secretRef)",message="authMethod ssh needs a secretRef with sshPrivateKey and knownHosts"
// +kubebuilder:validation:XValidation:rule="self.authMethod != 'githubApp' || has(self.secretRef)",message="authMethod githubApp needs a secretRef with appID, installationID and privateKey"
type GitStateStoreSpec struct {
	StateStoreCoreFields `json:",inline"`

	// URL of the repository: https://, http:// or ssh:// (or scp-like user@host:path for ssh).
	// It must not hold credentials, which belong in the Secret named by secretRef: neither a
	// password (user:password@, in any form) nor a user in an http(s) URL, often a token
	// (https://TOKEN@host/...). The user of an ssh URL (ssh://git@host/..., git@host:path) is
	// no credential and is fine. The refusal (Forbidden) does not repeat the URL.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*:[^/?#]*@') && !self.matches('^(?i)https?://[^/?#]*@') && !self.matches('^[A-Za-z][A-Za-z0-9+.-]*://[^/?#@]*%3[Aa][^/?#]*@') && !self.matches('^[^:/@]*:(?:[^/@][^@]*)?@[^:/@]+:') && !self.matches('[?#]')",message="url must not hold credentials (user:password@, a user such as a token in an http(s) URL, or a query or fragment): put them in the Secret named by secretRef; an ssh user such as git@ is fine",reason=FieldValueForbidden
	URL string `json:"url"`

	// Branch that receives the commits; created by the first commit if the repository is empty.
	// +kubebuilder:default=main
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Branch string `json:"branch,omitempty"`

	// AuthMethod is basicAuth (username and password from the Secret), ssh (sshPrivateKey and
	// knownHosts) or githubApp (appID, installationID, privateKey and optionally apiURL: the
	// engine exchanges a JWT signed with the App's key for an installation token, which it
	// caches until shortly before it expires, and pushes over HTTPS as x-access-token).
	// +kubebuilder:validation:Enum=basicAuth;ssh;githubApp
	// +kubebuilder:default=basicAuth
	// +optional
	AuthMethod string `json:"authMethod,omitempty"`

	// GitAuthor is the author and committer of the engine's commits.
	// +kubebuilder:default={name: kratix}
	// +optional
	GitAuthor GitAuthor `json:"gitAuthor,omitempty"`

	// Insecure skips TLS verification of an https URL, and lets the Secret's username and
	// password go to an http URL in clear text, where anyone on the network path can read them;
	// without it such a store is refused (Ready=False, reason CredentialsOverPlainHTTP). An http
	// URL without credentials needs no insecure. Off by default; prefer https, with ca.crt in
	// the Secret for a private CA.
	// +optional
	Insecure bool `json:"insecure,omitempty"`
}

// GitAuthor is the identity written into commits.
type GitAuthor struct {
	// Name of the author.
	// +kubebuilder:default=kratix
	// +optional
	Name string `json:"name,omitempty"`

	// Email of the author.
	// +optional
	Email string `json:"email,omitempty"`
}

// GitStateStore is a Git repository that holds Destinations' files.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=kratix
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.spec.url`
// +kubebuilder:printcolumn:name="Branch",type=string,JSONPath=`.spec.branch`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type GitStateStore struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   GitStateStoreSpec `json:"spec"`
	Status StateStoreStatus  `json:"status,omitempty"`
}

// GitStateStoreList is a list of GitStateStores.
//
// +kubebuilder:object:root=true
type GitStateStoreList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []GitStateStore `json:"items"`
}

// BucketStateStoreSpec says which S3 bucket holds the files and how to reach it.
// +kubebuilder:validation:XValidation:rule="self.authMethod != 'accessKey' || has(self.secretRef)",message="authMethod accessKey needs a secretRef with accessKeyID and secretAccessKey"
type BucketStateStoreSpec struct {
	StateStoreCoreFields `json:",inline"`

	// Endpoint of the S3 service, host[:port] without a scheme or credentials. The refusals
	// (Forbidden) do not repeat the endpoint.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="!self.contains('://')",message="endpoint is host[:port] without a scheme; set insecure for plain HTTP",reason=FieldValueForbidden
	// +kubebuilder:validation:XValidation:rule="!self.contains('@')",message="endpoint is host[:port] and must not hold credentials: put them in the Secret named by secretRef",reason=FieldValueForbidden
	Endpoint string `json:"endpoint"`

	// BucketName of the bucket.
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	BucketName string `json:"bucketName"`

	// Insecure talks plain HTTP to the endpoint. TLS, verified, otherwise.
	// +optional
	Insecure bool `json:"insecure,omitempty"`

	// UseDualStack uses the dual-stack (IPv4 and IPv6) variant of an Amazon S3 endpoint
	// (s3.dualstack.REGION.amazonaws.com); other S3-compatible services ignore it.
	// +optional
	UseDualStack bool `json:"useDualStack,omitempty"`

	// AuthMethod is accessKey (keys from the Secret) or IAM.
	// +kubebuilder:validation:Enum=accessKey;IAM
	// +kubebuilder:default=accessKey
	// +optional
	AuthMethod string `json:"authMethod,omitempty"`
}

// BucketStateStore is an S3-compatible bucket that holds Destinations' files.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=kratix
// +kubebuilder:printcolumn:name="Bucket",type=string,JSONPath=`.spec.bucketName`
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.spec.endpoint`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type BucketStateStore struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   BucketStateStoreSpec `json:"spec"`
	Status StateStoreStatus     `json:"status,omitempty"`
}

// BucketStateStoreList is a list of BucketStateStores.
//
// +kubebuilder:object:root=true
type BucketStateStoreList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BucketStateStore `json:"items"`
}

func init() {
	register(&GitStateStore{}, &GitStateStoreList{}, &BucketStateStore{}, &BucketStateStoreList{})
}
