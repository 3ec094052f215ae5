package migration

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/migration"
)

// A hook that cannot run fails the Migration before anything is copied, with a condition and a
// Warning Event that say why: a preExecRule the namespace does not have, and a podSelector that
// matches no running pod (the API servers here have no kubelet, so a pod stays Pending, which is
// the case of a pod not yet started).
func TestMigrationExecRulesThatCannotRunFailBeforeAnythingIsCopied(t *testing.T) {
	ctx := context.Background()
	createOn(t, a,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "hook-app"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "hook-app"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: "hook-app"}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "db-0", Namespace: "hook-app", Labels: map[string]string{"app": "db"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "db"}}}},
		&volsyncv1alpha1.Rule{ObjectMeta: metav1.ObjectMeta{Name: "quiesce", Namespace: "hook-app"},
			Rules: []volsyncv1alpha1.RuleItem{{PodSelector: map[string]string{"app": "db"},
				Actions: []volsyncv1alpha1.RuleAction{{Type: volsyncv1alpha1.RuleActionCommand, Value: "sync"}}}}},
	)
	for _, tc := range []struct {
		name, pre, post, reason, says string
	}{
		{"hook-missing-rule", "no-such-rule", "", migration.ReasonRuleNotFound,
			`spec.preExecRule names Rule "no-such-rule", which namespace hook-app does not have`},
		{"hook-missing-post-rule", "", "no-such-rule", migration.ReasonRuleNotFound,
			`spec.postExecRule names Rule "no-such-rule", which namespace hook-app does not have`},
		{"hook-no-running-pod", "quiesce", "", migration.ReasonRulePodsNotFound,
			`Rule hook-app/quiesce: rules[0].podSelector {app=db} matches no running pod in namespace hook-app (1 pod(s) have the labels, none running)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMigration(tc.name, "hook-app")
			m.Spec.PreExecRule, m.Spec.PostExecRule = tc.pre, tc.post
			got := migrate(t, m)
			wantStatus(t, got, volsyncv1alpha1.RunStatusFailed)
			c := meta.FindStatusCondition(got.Status.Conditions, volsyncv1alpha1.ConditionCompleted)
			if c == nil || c.Reason != tc.reason || !strings.Contains(c.Message, tc.says) {
				t.Errorf("Completed condition %+v, want reason %s saying %q", c, tc.reason, tc.says)
			}
			eventually(t, 10*time.Second, hasEvent(suiteNamespace, m.Name, corev1.EventTypeWarning, tc.reason, tc.says))
			if len(got.Status.Resources) != 0 || len(got.Status.RuleActions) != 0 {
				t.Errorf("something was done: resources %+v, rule actions %+v", got.Status.Resources, got.Status.RuleActions)
			}
			if err := b.Get(ctx, client.ObjectKey{Name: "hook-app"}, &corev1.Namespace{}); !apierrors.IsNotFound(err) {
				t.Errorf("namespace hook-app reached B (err %v): something was copied", err)
			}
		})
	}
}
