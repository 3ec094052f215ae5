package cli

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// ClusterPairTable is the `get clusterpair` table: NAME READY SERVER-VERSION LAST-CHECK CREATED,
// with NAMESPACE first when listing all namespaces. READY is the status of the Ready condition
// (True, False; Unknown before the first check), SERVER-VERSION that of the destination's API
// server, LAST-CHECK how long ago volsyncd checked it. wide adds REASON, the Secret and the
// condition's MESSAGE, last as it holds blanks.
func ClusterPairTable(pairs []volsyncv1alpha1.ClusterPair, allNamespaces, wide bool, now time.Time) Table {
	t := Table{Headers: []string{"NAME", "READY", "SERVER-VERSION", "LAST-CHECK", "CREATED"}}
	if wide {
		t.Headers = append(t.Headers, "REASON", "SECRET", "MESSAGE")
	}
	if allNamespaces {
		t.Headers = append([]string{"NAMESPACE"}, t.Headers...)
	}
	for _, p := range pairs {
		ready, reason, message := "Unknown", None, None
		if c := meta.FindStatusCondition(p.Status.Conditions, volsyncv1alpha1.ConditionReady); c != nil {
			ready = string(c.Status)
			reason, message = orNone(c.Reason), orNone(c.Message)
		}
		lastCheck := None
		if p.Status.LastCheckTime != nil && !p.Status.LastCheckTime.IsZero() {
			lastCheck = Age(p.Status.LastCheckTime.Time, now) + " ago"
		}
		row := []string{p.Name, ready, orNone(p.Status.ServerVersion), lastCheck, Timestamp(&p.CreationTimestamp)}
		if wide {
			secret := p.Spec.KubeconfigSecretRef.Name
			if key := p.Spec.KubeconfigSecretRef.Key; key != "" {
				secret += "/" + key
			}
			row = append(row, reason, orNone(secret), message)
		}
		if allNamespaces {
			row = append([]string{p.Namespace}, row...)
		}
		t.AddRow(row...)
	}
	return t
}
