package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/schedule"
)

// Names the bench gives things.
const (
	// systemNamespace is volsyncd's own: its leader-election Lease and its admin namespace.
	systemNamespace = "volsync-system"
	// pskSecret is the rsync-tls pre-shared key every bench ReplicationSource names.
	pskSecret = "bench-psk"
	// pairName is the ClusterPair every bench MigrationSchedule's Migrations use.
	pairName = "loopback"
	// pairSecret holds that pair's kubeconfig.
	pairSecret = "loopback-kubeconfig"
	// perNamespace is how many owners of one kind share a namespace.
	perNamespace = 100
)

// zones are the policies' time zones, one per trigger minute in turn, so that the wall-clock types
// are read in zones with whole-hour, half-hour and daylight-saving offsets.
var zones = []string{"UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Adelaide"}

// createAll creates objs with workers goroutines and returns the first error.
func createAll(ctx context.Context, c client.Client, workers int, objs []client.Object) error {
	next := make(chan client.Object)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range workers {
		wg.Go(func() {
			for o := range next {
				if err := c.Create(ctx, o); err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("creating %T %s/%s: %w", o, o.GetNamespace(), o.GetName(), err)
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, o := range objs {
		if ctx.Err() != nil {
			break
		}
		next <- o
	}
	close(next)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

// namespaceOf is the namespace of the i-th owner of a group.
func namespaceOf(prefix string, i int) string {
	return fmt.Sprintf("%s-%02d", prefix, i/perNamespace)
}

// namespaces lists the namespaces n owners of a group use.
func namespaces(prefix string, n int) []string {
	var out []string
	for i := 0; i < n; i += perNamespace {
		out = append(out, namespaceOf(prefix, i))
	}
	return out
}

func pvc(ns, name string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}},
		},
	}
}

func psk(ns string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: pskSecret, Namespace: ns},
		StringData: map[string]string{"psk.txt": "volsync:" + strings.Repeat("0123456789abcdef", 4)},
	}
}

// source is a ReplicationSource of the PVC of the same name, with an rsync-tls mover and the
// given schedule policy, as a user with one source per volume writes it.
func source(ns, name, policy string) *volsyncv1alpha1.ReplicationSource {
	return &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: volsyncv1alpha1.ReplicationSourceSpec{
			SourcePVC: name,
			Trigger:   &volsyncv1alpha1.ReplicationTriggerSpec{SchedulePolicyName: policy},
			RsyncTLS: &volsyncv1alpha1.ReplicationSourceRsyncTLSSpec{
				ReplicationSourceVolumeOptions: volsyncv1alpha1.ReplicationSourceVolumeOptions{CopyMethod: volsyncv1alpha1.CopyMethodDirect},
				KeySecret:                      ptr.To(pskSecret),
				Address:                        ptr.To("dr.example.com"),
			},
		},
	}
}

// migrationSchedule migrates its own namespace, without volumes, through the loopback pair into
// "<namespace>-dr".
func migrationSchedule(ns, name, policy string, suspend bool) *volsyncv1alpha1.MigrationSchedule {
	return &volsyncv1alpha1.MigrationSchedule{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: volsyncv1alpha1.MigrationScheduleSpec{
			SchedulePolicyName: policy,
			Suspend:            ptr.To(suspend),
			Template: volsyncv1alpha1.MigrationTemplateSpec{Spec: volsyncv1alpha1.MigrationSpec{
				ClusterPair:      pairName,
				Namespaces:       []string{ns},
				NamespaceMapping: map[string]volsyncv1alpha1.NamespaceName{ns: volsyncv1alpha1.NamespaceName(ns + "-dr")},
				IncludeVolumes:   ptr.To(false),
			}},
		},
	}
}

// loopbackPair reaches this very API server with kubeconfig, so Migrations run for real.
func loopbackPair(ns string, kubeconfig []byte) []client.Object {
	return []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: pairSecret, Namespace: ns},
			Data: map[string][]byte{volsyncv1alpha1.DefaultKubeconfigKey: kubeconfig}},
		&volsyncv1alpha1.ClusterPair{ObjectMeta: metav1.ObjectMeta{Name: pairName, Namespace: ns},
			Spec: volsyncv1alpha1.ClusterPairSpec{KubeconfigSecretRef: volsyncv1alpha1.SecretKeyRef{Name: pairSecret}}},
	}
}

// kitchen is t's wall-clock time in the policy form (3:04PM).
func kitchen(t time.Time) string { return schedule.FormatKitchen(t.Hour(), t.Minute()) }

// wallPolicy is a policy with one wall-clock section of type typ that fires at at (a whole
// minute), read in zone.
func wallPolicy(name string, typ schedule.Type, at time.Time, zone string) (*volsyncv1alpha1.SchedulePolicy, error) {
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, err
	}
	local := at.In(loc)
	item := volsyncv1alpha1.SchedulePolicyItem{TimeZone: zone}
	switch typ {
	case schedule.TypeDaily:
		item.Daily = &volsyncv1alpha1.DailyPolicy{Time: kitchen(local)}
	case schedule.TypeWeekly:
		item.Weekly = &volsyncv1alpha1.WeeklyPolicy{Day: local.Weekday().String(), Time: kitchen(local)}
	case schedule.TypeMonthly:
		item.Monthly = &volsyncv1alpha1.MonthlyPolicy{Date: int32(local.Day()), Time: kitchen(local)}
	default:
		return nil, fmt.Errorf("%s is not a wall-clock type", typ)
	}
	return &volsyncv1alpha1.SchedulePolicy{ObjectMeta: metav1.ObjectMeta{Name: name}, Policy: item}, nil
}

func intervalPolicy(name string, minutes int32) *volsyncv1alpha1.SchedulePolicy {
	return &volsyncv1alpha1.SchedulePolicy{ObjectMeta: metav1.ObjectMeta{Name: name},
		Policy: volsyncv1alpha1.SchedulePolicyItem{Interval: &volsyncv1alpha1.IntervalPolicy{IntervalMinutes: minutes}}}
}

// idlePolicies are policies whose every trigger is hours or days after now: a daily one six hours
// on, a weekly one three days on, a monthly one ten days on, and one with all three.
func idlePolicies(now time.Time) ([]*volsyncv1alpha1.SchedulePolicy, error) {
	now = now.UTC().Truncate(time.Minute)
	daily, err := wallPolicy("idle-daily", schedule.TypeDaily, now.Add(6*time.Hour), "UTC")
	if err != nil {
		return nil, err
	}
	weekly, err := wallPolicy("idle-weekly", schedule.TypeWeekly, now.AddDate(0, 0, 3), "UTC")
	if err != nil {
		return nil, err
	}
	monthly, err := wallPolicy("idle-monthly", schedule.TypeMonthly, now.AddDate(0, 0, 10), "UTC")
	if err != nil {
		return nil, err
	}
	all := &volsyncv1alpha1.SchedulePolicy{ObjectMeta: metav1.ObjectMeta{Name: "idle-all"}, Policy: volsyncv1alpha1.SchedulePolicyItem{
		Daily: daily.Policy.Daily, Weekly: weekly.Policy.Weekly, Monthly: monthly.Policy.Monthly}}
	return []*volsyncv1alpha1.SchedulePolicy{daily, weekly, monthly, all}, nil
}
