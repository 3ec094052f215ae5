package remote

import (
	"crypto/x509"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// Error is a failure to reach or use the destination. Reason is a ClusterPair condition reason.
type Error struct {
	// Reason is SecretNotFound, InvalidKubeconfig, Unreachable or Forbidden.
	Reason string
	// Err says what happened and what to fix.
	Err error
}

func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ReasonOf is the condition reason of err: the Reason of an *Error in its chain, else Error.
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return volsyncv1alpha1.ReasonError
}

func newError(reason, format string, args ...any) *Error {
	return &Error{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// Classify turns an error from a request to the destination at host into an *Error that says
// what to fix. doing says what was being asked ("reading the server version").
func Classify(err error, host, doing string) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	switch {
	case apierrors.IsUnauthorized(err):
		return &Error{Reason: volsyncv1alpha1.ReasonForbidden, Err: fmt.Errorf(
			"the destination %s refused the kubeconfig's credentials while %s (401 Unauthorized): "+
				"the token or client certificate is wrong or has expired; put a current one in the kubeconfig Secret: %w", host, doing, err)}
	case apierrors.IsForbidden(err):
		return &Error{Reason: volsyncv1alpha1.ReasonForbidden, Err: fmt.Errorf(
			"the destination %s forbids the kubeconfig's user %s: %w", host, doing, err)}
	}
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	if errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &invalid) {
		return &Error{Reason: volsyncv1alpha1.ReasonUnreachable, Err: fmt.Errorf(
			"the destination %s presented a certificate the kubeconfig does not trust while %s: "+
				"check certificate-authority-data and the server name in the kubeconfig: %w", host, doing, err)}
	}
	return &Error{Reason: volsyncv1alpha1.ReasonUnreachable, Err: fmt.Errorf(
		"cannot reach the destination %s while %s: check the server address in the kubeconfig and that "+
			"this cluster can connect to it: %w", host, doing, err)}
}
