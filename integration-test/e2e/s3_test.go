package e2e

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/volsync/volsync/integration-test/testenv"
)

// The restic and rclone scenarios need an object store the mover pods reach. The test starts a
// real S3 server, versitygw over a temporary directory (testenv.StartS3, as the data-plane tests
// do), on the host at the address pods see it by (VOLSYNC_E2E_HOST_IP).

// objectStore is an S3 server the test started on the host.
type objectStore struct {
	*testenv.S3Server
}

// startObjectStore starts an S3 server on the host for the test; it stops at the end of the test.
func startObjectStore(t *testing.T) *objectStore {
	t.Helper()
	if hostIP == "" {
		t.Fatal("VOLSYNC_E2E_HOST_IP is not set: the object store listens on the host at the address pods reach it by")
	}
	return &objectStore{testenv.StartS3(t, testenv.S3Options{Host: hostIP})}
}

// resticRepositorySecret makes the Secret a restic mover reads its repository from: bucket/path
// on the store.
func (s *objectStore) resticRepositorySecret(t *testing.T, ns, name, bucket, path string) {
	t.Helper()
	create(t, &corev1.Secret{ObjectMeta: objectMeta(ns, name), StringData: map[string]string{
		"RESTIC_REPOSITORY":     fmt.Sprintf("s3:%s/%s/%s", s.Endpoint, bucket, path),
		"RESTIC_PASSWORD":       "volsync-e2e-repository-password",
		"AWS_ACCESS_KEY_ID":     s.AccessKey,
		"AWS_SECRET_ACCESS_KEY": s.SecretKey,
		"AWS_DEFAULT_REGION":    s.Region,
	}})
}

// rcloneConfigSecret makes the Secret an rclone mover reads rclone.conf from.
func (s *objectStore) rcloneConfigSecret(t *testing.T, ns, name string) {
	t.Helper()
	create(t, &corev1.Secret{ObjectMeta: objectMeta(ns, name), StringData: map[string]string{
		"rclone.conf": s.RcloneConfig(),
	}})
}
