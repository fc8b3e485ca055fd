package controllers

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kratix.dev/kratix/api/v1alpha1"
	"kratix.dev/kratix/internal/s3server"
)

// s3Fixture is an S3 server with the Secret of its root user.
type s3Fixture struct {
	server *s3server.Server
	secret *corev1.Secret
}

func newS3Fixture(t *testing.T) *s3Fixture {
	t.Helper()
	server := s3server.New(t)
	secret := &corev1.Secret{
		ObjectMeta: storeSecretMeta(t, uniqueName("s3-creds")),
		Data: map[string][]byte{
			v1alpha1.SecretKeyAccessKeyID:     []byte(server.AccessKey),
			v1alpha1.SecretKeySecretAccessKey: []byte(server.SecretKey),
		},
	}
	create(t, secret)
	return &s3Fixture{server: server, secret: secret}
}

func (f *s3Fixture) bucketStore(bucket string) *v1alpha1.BucketStateStore {
	return &v1alpha1.BucketStateStore{
		ObjectMeta: metav1.ObjectMeta{Name: uniqueName("bucket")},
		Spec: v1alpha1.BucketStateStoreSpec{
			StateStoreCoreFields: v1alpha1.StateStoreCoreFields{SecretRef: storeSecretRef(f.secret.Name)},
			Endpoint:             f.server.Endpoint,
			BucketName:           bucket,
			Insecure:             true,
		},
	}
}

// A BucketStateStore with the right keys becomes Ready.
func TestBucketStateStoreWithCorrectKeysIsReady(t *testing.T) {
	startManager(t)
	f := newS3Fixture(t)
	if err := f.server.CreateBucket(t.Context(), "kratix"); err != nil {
		t.Fatal(err)
	}
	store := f.bucketStore("kratix")
	create(t, store)

	waitForCondition(t, store, metav1.ConditionTrue, v1alpha1.ReasonStateStoreReady)
	if store.Status.Status != v1alpha1.StateStoreStatusReady {
		t.Errorf("status.status = %q, want Ready", store.Status.Status)
	}
	waitForEvent(t, "BucketStateStore", store.Name, corev1.EventTypeNormal, v1alpha1.ReasonStateStoreReady)
}

// A store whose bucket does not exist is NotReady with a message that names the bucket and says
// what to do, and becomes Ready once the bucket exists.
func TestBucketStateStoreMissingBucket(t *testing.T) {
	startManager(t)
	f := newS3Fixture(t)
	store := f.bucketStore("not-there")
	create(t, store)

	cond := waitForCondition(t, store, metav1.ConditionFalse, v1alpha1.ReasonErrorValidatingPermissions)
	for _, want := range []string{`bucket "not-there"`, "create it"} {
		if !strings.Contains(cond.Message, want) {
			t.Errorf("message %q lacks %q", cond.Message, want)
		}
	}
	if strings.Contains(cond.Message, f.server.SecretKey) {
		t.Errorf("the secret key leaked: %q", cond.Message)
	}
	if store.Status.Status != v1alpha1.StateStoreStatusNotReady {
		t.Errorf("status.status = %q, want NotReady", store.Status.Status)
	}

	if err := f.server.CreateBucket(t.Context(), "not-there"); err != nil {
		t.Fatal(err)
	}
	waitForCondition(t, store, metav1.ConditionTrue, v1alpha1.ReasonStateStoreReady)
}

// Wrong keys are refused without showing the key.
func TestBucketStateStoreWrongSecretKey(t *testing.T) {
	startManager(t)
	f := newS3Fixture(t)
	if err := f.server.CreateBucket(t.Context(), "kratix"); err != nil {
		t.Fatal(err)
	}
	const wrong = "definitely-not-the-key"
	f.secret.Data[v1alpha1.SecretKeySecretAccessKey] = []byte(wrong)
	if err := env.Client.Update(t.Context(), f.secret); err != nil {
		t.Fatal(err)
	}
	store := f.bucketStore("kratix")
	create(t, store)

	cond := waitForCondition(t, store, metav1.ConditionFalse, v1alpha1.ReasonErrorValidatingPermissions)
	if strings.Contains(cond.Message, wrong) {
		t.Errorf("the key leaked: %q", cond.Message)
	}
}
