package statemachine

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
)

func TestTheBackoffConditionSaysWhyTheLastSyncFailed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		logs  string
		wants []string
	}{
		{"the mover's one-line explanation is quoted", "the pre-shared key in psk.txt does not match the destination's",
			[]string{"1 sync(s) in a row failed, the last one with: the pre-shared key in psk.txt does not match the destination's;", "not before 2024-03-09T12:01:0"}},
		{"of a log tail only the last line is quoted", "rsync: connection refused\nrsync error: error in socket IO (code 10)\n",
			[]string{"failed, the last one with: rsync error: error in socket IO (code 10);"}},
		{"without logs the failure's own message is quoted", "",
			[]string{"failed, the last one with: the mover failed 3 times;"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fake{created: t0, cleanupDone: true}
			f.syncFail = &mover.FailedError{Reason: "BackoffLimitExceeded", Message: "the mover failed 3 times"}
			if tc.logs != "" {
				f.status.LatestMoverStatus = &volsyncv1alpha1.MoverStatus{Result: volsyncv1alpha1.MoverResultFailed, Logs: tc.logs}
			}
			// Start, fail, clean up: the passes end at different steps as the machine evolves, so
			// step until the sync has failed and the machine waits.
			var c *metav1.Condition
			for i := 0; i < 5 && (c == nil || c.Reason != volsyncv1alpha1.ReasonError); i++ {
				step(t, f, t0.Add(time.Duration(i)*time.Second))
				c = meta.FindStatusCondition(f.status.Conditions, volsyncv1alpha1.ConditionSynchronizing)
			}
			if c == nil || c.Reason != volsyncv1alpha1.ReasonError {
				t.Fatalf("condition %+v, want reason Error while backing off", c)
			}
			for _, w := range tc.wants {
				if !strings.Contains(c.Message, w) {
					t.Errorf("condition message %q does not contain %q", c.Message, w)
				}
			}
		})
	}
}

func TestLastFailureIsEmptyWithoutAFailedMover(t *testing.T) {
	for _, tc := range []struct {
		name string
		ms   *volsyncv1alpha1.MoverStatus
	}{
		{"no mover status", nil},
		{"a successful mover", &volsyncv1alpha1.MoverStatus{Result: volsyncv1alpha1.MoverResultSuccessful, Logs: "synchronized"}},
		{"a failed mover with blank logs", &volsyncv1alpha1.MoverStatus{Result: volsyncv1alpha1.MoverResultFailed, Logs: " \n "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := lastFailure(tc.ms); got != "" {
				t.Errorf("lastFailure = %q, want empty", got)
			}
		})
	}
}
