package job

import (
	"context"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ReadAheadMaxAge is how long what a pass read ahead of a trigger stands for the reads the trigger's
// first pass would make. The state machine reads a few seconds before the trigger
// (statemachine.ReadAheadLead); a little more covers a first pass that a busy queue delays.
const ReadAheadMaxAge = 10 * time.Second

// readAhead is what a Flow read before a scheduled trigger: the data volume and the Secrets the
// Job needs, found to exist.
type readAhead struct {
	at      time.Time
	pvc     *corev1.PersistentVolumeClaim
	secrets map[string]bool
}

// aheadStore keeps each owner's read-ahead, by UID, until the trigger's first pass takes it. It lives
// in volsyncd's memory alone: after a restart the first pass reads for itself.
type aheadStore struct {
	mu sync.Mutex
	m  map[types.UID]readAhead
}

var ahead = &aheadStore{m: map[types.UID]readAhead{}}

// put keeps r for the owner, and lets go of what was read for owners whose trigger never took it
// (deleted, paused or changed in the last seconds), so that the store holds no more than the owners
// of the next few seconds' triggers.
func (s *aheadStore) put(uid types.UID, r readAhead) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for other, old := range s.m {
		if r.at.Sub(old.at) > ReadAheadMaxAge {
			delete(s.m, other)
		}
	}
	s.m[uid] = r
}

// take removes the owner's read-ahead and returns it when it is recent enough at now. Taking it
// whatever its use means one pass at most ever relies on it: a pass that fails after it (a Secret
// deleted meanwhile) has its retries read afresh.
func (s *aheadStore) take(uid types.UID, now time.Time) (readAhead, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[uid]
	if !ok {
		return readAhead{}, false
	}
	delete(s.m, uid)
	if age := now.Sub(r.at); age < 0 || age > ReadAheadMaxAge {
		return readAhead{}, false
	}
	return r, true
}

// ReadsAhead says whether the Flow has anything to read before a trigger (ReadAhead).
func (f *Flow) ReadsAhead() bool { return f.ReadVolume != nil }

// ReadAhead does, shortly before a scheduled trigger, what the trigger's first pass needs done
// before it can create the Job: it makes the objects that serve every sync (the mover's
// ServiceAccount, its pull secrets), and reads the data volume and the Secrets the Job names. That
// pass then creates the Job with no request before it, so that the owners of one schedule firing
// together have their movers within the time the API server takes for the creates alone, instead
// of queueing each create behind two reads (and, on an owner's first sync, a create). Nothing is
// decided here: a volume or Secret that is missing is left for the trigger's pass to find and
// report.
func (f *Flow) ReadAhead(ctx context.Context) error {
	if f.ReadVolume == nil {
		return nil
	}
	now := f.now()
	pulls, err := EnsurePullSecrets(ctx, f.Client, f.Owner, f.PullSecrets)
	if err != nil {
		return err
	}
	if err := EnsureServiceAccount(ctx, f.Client, f.Owner, f.Config, f.ServiceAccount, pulls...); err != nil {
		return err
	}
	pvc, err := f.ReadVolume(ctx)
	if err != nil || pvc == nil {
		return err
	}
	present, err := presentSecrets(ctx, f.Client, Build(f.Spec(pvc)))
	if err != nil {
		return err
	}
	ahead.put(f.Owner.GetUID(), readAhead{at: now, pvc: pvc, secrets: present})
	return nil
}

// presentSecrets is the Secrets job's pod needs that exist.
func presentSecrets(ctx context.Context, c client.Client, job *batchv1.Job) (map[string]bool, error) {
	present := map[string]bool{}
	for name, needed := range secretsOf(&job.Spec.Template.Spec) {
		if !needed {
			continue
		}
		ok, err := secretExists(ctx, c, job.Namespace, name)
		if err != nil {
			return nil, err
		}
		present[name] = ok
	}
	return present, nil
}
