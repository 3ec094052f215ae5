package mover

import (
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Reasons of the errors a sync waits out. They become the Synchronizing condition's reason and the
// Warning Event's, so each is a word a person can search for.
const (
	ReasonQuotaExceeded    = "QuotaExceeded"
	ReasonForbidden        = "Forbidden"
	ReasonSecretNotFound   = "SecretNotFound"
	ReasonNotFound         = "NotFound"
	ReasonInvalid          = "Invalid"
	ReasonNameConflict     = "NameConflict"
	ReasonAPIUnavailable   = "APIUnavailable"
	ReasonCapacityRequired = "CapacityRequired"
	ReasonTransientError   = "TransientError"
	// ReasonStaleJob: the mover Job of the owner's name finished for an earlier sync than the
	// running one; it is deleted and the mover runs again.
	ReasonStaleJob = "StaleJob"
)

// TransientError is an error the sync waits out: the controller shows it (condition and Event)
// and tries the same step again, with backoff, until it heals or the spec changes. It is not the
// end of the sync; a FailedError is.
type TransientError struct {
	// Reason is a short CamelCase word a person can search for, such as CapacityRequired.
	Reason string
	// Related is the object the error is about (a Secret, a PVC), named in the Event; may be nil.
	Related client.Object
	Err     error
}

func (e *TransientError) Error() string { return e.Err.Error() }
func (e *TransientError) Unwrap() error { return e.Err }

// Transient makes a TransientError.
func Transient(reason string, related client.Object, format string, args ...any) error {
	return &TransientError{Reason: reason, Related: related, Err: fmt.Errorf(format, args...)}
}

// Explanation is what a person is told about an error a pass ran into.
type Explanation struct {
	// Reason for the condition and the Event.
	Reason string
	// Message is the error's text.
	Message string
	// Related is the object the error is about, when it is known.
	Related client.Object
	// Quiet errors are not shown: an optimistic-concurrency conflict only means "read again", and
	// the retry that follows at once almost always succeeds.
	Quiet bool
}

// Explain says what err means to a person. namespace is the owner's: the API's errors name the
// object but not always its namespace.
func Explain(err error, namespace string) Explanation {
	var t *TransientError
	if errors.As(err, &t) {
		return Explanation{Reason: t.Reason, Message: err.Error(), Related: t.Related}
	}
	e := Explanation{Reason: ReasonTransientError, Message: err.Error(), Related: relatedOf(err, namespace)}
	switch {
	case apierrors.IsConflict(err):
		e.Quiet = true
	case apierrors.IsForbidden(err) && strings.Contains(err.Error(), "exceeded quota"):
		e.Reason = ReasonQuotaExceeded
	case apierrors.IsForbidden(err):
		e.Reason = ReasonForbidden
	case apierrors.IsNotFound(err):
		e.Reason = ReasonNotFound
		if r, ok := e.Related.(*metav1.PartialObjectMetadata); ok && r.Kind == "Secret" {
			e.Reason = ReasonSecretNotFound
		}
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		e.Reason = ReasonInvalid
	case apierrors.IsAlreadyExists(err):
		e.Reason = ReasonNameConflict
	case apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err) || apierrors.IsUnexpectedServerError(err):
		e.Reason = ReasonAPIUnavailable
	}
	return e
}

// kinds maps the resources the API's errors name to the kinds an Event's related object needs.
var kinds = map[string]metav1.TypeMeta{
	"secrets":                {APIVersion: "v1", Kind: "Secret"},
	"persistentvolumeclaims": {APIVersion: "v1", Kind: "PersistentVolumeClaim"},
	"services":               {APIVersion: "v1", Kind: "Service"},
	"serviceaccounts":        {APIVersion: "v1", Kind: "ServiceAccount"},
	"configmaps":             {APIVersion: "v1", Kind: "ConfigMap"},
	"jobs":                   {APIVersion: "batch/v1", Kind: "Job"},
	"volumesnapshots":        {APIVersion: "snapshot.storage.k8s.io/v1", Kind: "VolumeSnapshot"},
	"replicationsyncs":       {APIVersion: "volsync.backube/v1alpha1", Kind: "ReplicationSync"},
}

// relatedOf is the object an API error names, when it names one of a kind we know.
func relatedOf(err error, namespace string) client.Object {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return nil
	}
	d := status.Status().Details
	if d == nil || d.Name == "" {
		return nil
	}
	tm, ok := kinds[d.Kind]
	if !ok {
		return nil
	}
	return &metav1.PartialObjectMetadata{TypeMeta: tm, ObjectMeta: metav1.ObjectMeta{Name: d.Name, Namespace: namespace}}
}
