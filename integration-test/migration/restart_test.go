package migration

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// applyGate makes destination clients whose apply of one named ConfigMap hangs until volsyncd
// stops: a migration that is guaranteed to be in the middle of a kind when it is stopped.
func applyGate(blocked string) func(*rest.Config) (client.Client, error) {
	return func(cfg *rest.Config) (client.Client, error) {
		c, err := client.NewWithWatch(cfg, client.Options{})
		if err != nil {
			return nil, err
		}
		return interceptor.NewClient(c, interceptor.Funcs{
			Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
				if o, ok := obj.(interface {
					GetKind() string
					GetName() string
				}); ok && o.GetKind() == "ConfigMap" && o.GetName() == blocked {
					<-ctx.Done()
					return ctx.Err()
				}
				return c.Apply(ctx, obj, opts...)
			},
		}), nil
	}
}

func TestMigrationStoppedInTheMiddleFinishesAfterARestartWithNoDuplicates(t *testing.T) {
	ctx := context.Background()
	const (
		opsNS      = "dr-restart"
		appNS      = "resume"
		configMaps = 40
	)
	createOn(t, a,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: opsNS}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appNS}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: appNS}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: appNS}, StringData: map[string]string{"k": "v"}},
	)
	for i := range configMaps {
		createOn(t, a, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm-" + strconv.Itoa(i), Namespace: appNS}})
	}
	pair := createPair(t, opsNS, "cluster-b", kubeconfigB)

	stop, err := startManager(opsNS, opsNS, applyGate("cm-17"))
	if err != nil {
		t.Fatal(err)
	}
	m := &volsyncv1alpha1.Migration{
		ObjectMeta: metav1.ObjectMeta{Name: "resume", Namespace: opsNS},
		Spec:       volsyncv1alpha1.MigrationSpec{ClusterPair: pair.Name, Namespaces: []string{appNS}, IncludeVolumes: new(bool)},
	}
	createOn(t, a, m)
	// Wait until the run has checkpointed the kinds before ConfigMaps and is stuck inside them.
	eventually(t, 30*time.Second, func() error {
		var got volsyncv1alpha1.Migration
		if err := a.Get(ctx, client.ObjectKeyFromObject(m), &got); err != nil {
			return err
		}
		if got.Status.Status != volsyncv1alpha1.RunStatusInProgress || got.Status.Stage != volsyncv1alpha1.MigrationStageApplications {
			return fmt.Errorf("migration is %s at stage %s", got.Status.Status, got.Status.Stage)
		}
		keys := resourceKeys(&got)
		if len(keys) != 3 || keys[2] != "Secret resume/creds" {
			return fmt.Errorf("checkpointed resources %v; want Namespace, ServiceAccount, Secret", keys)
		}
		var onB corev1.ConfigMapList
		if err := b.List(ctx, &onB, client.InNamespace(appNS)); err != nil {
			return err
		}
		if len(onB.Items) < configMaps/2 {
			return fmt.Errorf("%d ConfigMaps on B so far", len(onB.Items))
		}
		return nil
	})
	stop() // volsyncd goes away in the middle of the ConfigMaps

	var mid volsyncv1alpha1.Migration
	if err := a.Get(ctx, client.ObjectKeyFromObject(m), &mid); err != nil {
		t.Fatal(err)
	}
	if mid.Status.Status.Finished() {
		t.Fatalf("the run finished although it was stopped in the middle: %+v", mid.Status)
	}

	// A new volsyncd picks the run up where its status says.
	stop, err = startManager(opsNS, opsNS, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	got := finished(t, m)
	wantStatus(t, got, volsyncv1alpha1.RunStatusSuccessful)

	seen := map[string]int{}
	for _, k := range resourceKeys(got) {
		seen[k]++
		if seen[k] > 1 {
			t.Errorf("%s is listed twice", k)
		}
	}
	if want := 3 + configMaps; len(got.Status.Resources) != want || got.Status.Summary.Resources != fmt.Sprintf("%d/%d", want, want) {
		t.Errorf("%d resources listed, summary %s; want %d", len(got.Status.Resources), got.Status.Summary.Resources, want)
	}
	var onB corev1.ConfigMapList
	if err := b.List(ctx, &onB, client.InNamespace(appNS), client.HasLabels{volsyncv1alpha1.MigratedFromLabel}); err != nil {
		t.Fatal(err)
	}
	if len(onB.Items) != configMaps {
		t.Errorf("%d copied ConfigMaps on B, want %d", len(onB.Items), configMaps)
	}
	var migrations volsyncv1alpha1.MigrationList
	if err := a.List(ctx, &migrations, client.InNamespace(opsNS)); err != nil {
		t.Fatal(err)
	}
	if len(migrations.Items) != 1 {
		t.Errorf("%d Migrations in %s, want the one", len(migrations.Items), opsNS)
	}
}
