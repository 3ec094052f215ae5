package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
)

// hintError is an error together with what the user should do about it.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() + ": " + e.hint }
func (e *hintError) Unwrap() error { return e.err }

// Hint adds to err what the user should do about it; the message becomes "<err>: <hint>".
// errors.Is and errors.As still see err.
func Hint(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &hintError{err: err, hint: hint}
}

// Explain turns the errors of API calls that people meet most often into messages that say how to
// fix them. host is the API server's address, for the message. Errors it does not know pass
// through unchanged.
func Explain(err error, host string) error {
	var hinted *hintError
	switch {
	case err == nil, errors.As(err, &hinted):
		return err
	case meta.IsNoMatchError(err), isNotFoundResource(err):
		return Hint(err, "the volsync CRDs are not installed in this cluster: install them with 'kubectl apply -k specs'")
	case apierrors.IsUnauthorized(err):
		return Hint(err, "the kubeconfig's credentials were refused: log in again or pick another --context")
	case apierrors.IsForbidden(err):
		return Hint(err, "ask a cluster admin for the RBAC permission, or pick another --context")
	case isUnreachable(err):
		return Hint(fmt.Errorf("cannot reach the API server at %s: %w", host, err),
			"check that the cluster is up and that --kubeconfig and --context point at it")
	}
	return err
}

// isNotFoundResource tells a missing resource type (404 on the collection, as when a CRD is absent)
// from a missing object, which carries the object's name.
func isNotFoundResource(err error) bool {
	var status apierrors.APIStatus
	if !apierrors.IsNotFound(err) || !errors.As(err, &status) {
		return false
	}
	d := status.Status().Details
	return d == nil || d.Name == ""
}

// IsUnreachable says whether err means that a cluster cannot be used at all right now: no
// connection, no answer in time, or an API server that answers only that it is unavailable.
// A failover goes on without such a source; any other error (credentials, permissions, a
// missing object) is the user's to fix, and stops it.
func IsUnreachable(err error) bool {
	var urlErr *url.Error
	return isUnreachable(err) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &urlErr) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsInternalError(err) || apierrors.IsTooManyRequests(err)
}

func isUnreachable(err error) bool {
	var netErr net.Error
	var dnsErr *net.DNSError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.As(err, &dnsErr) || (errors.As(err, &netErr) && netErr.Timeout())
}

// PrintError writes err to w as the single line "error: <message>", which is what every volsyncctl
// failure looks like. Line breaks inside the message are folded so that it stays one line.
func PrintError(w io.Writer, err error) {
	msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
	fmt.Fprintln(w, "error: "+msg)
}
