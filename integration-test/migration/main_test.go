// Package migration is the suite of the ClusterPair and Migration controllers across two real
// clusters: two control planes (etcd + kube-apiserver each), cluster A where volsyncd runs and the
// applications live, and cluster B, the destination, reached only through a kubeconfig in a
// Secret on A, as in production.
package migration

import (
	"context"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	moverjob "github.com/volsync/volsync/pkg/mover/job"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"

	"github.com/volsync/volsync/integration-test/testenv"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/migration"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/mover/rsynctls"
	"github.com/volsync/volsync/pkg/replication"
)

// suiteNamespace on cluster A holds the suite's ClusterPairs, Secrets and Migrations; the suite's
// manager watches only it, so tests that run managers of their own use other namespaces.
const suiteNamespace = "dr"

var (
	// clusterA is the source: volsyncd's cluster. clusterB is the destination.
	clusterA, clusterB *testenv.Env
	// a and b read straight from each API server, never from a cache, so assertions see the truth.
	a, b client.Client
	// kubeconfigB reaches cluster B as its administrator.
	kubeconfigB []byte
	// versionB is cluster B's API server version.
	versionB string
	// fakeClock is what every reconciler of the suite's manager reads as "now".
	fakeClock = clocktesting.NewFakeClock(time.Date(2024, 3, 9, 12, 0, 0, 0, time.UTC))
	// suiteRetry is short in attempts so the budget can be walked through with the fake clock.
	suiteRetry = migration.RetryPolicy{Attempts: 3, Initial: 10 * time.Second, Max: time.Minute}
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// The controllers' logs are not part of what the suite checks; without a logger
	// controller-runtime would complain about the missing one instead.
	ctrl.SetLogger(logr.Discard())
	var err error
	if clusterA, err = testenv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "cluster A:", err)
		return 1
	}
	defer func() { _ = clusterA.Stop() }()
	if clusterB, err = testenv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "cluster B:", err)
		return 1
	}
	defer func() { _ = clusterB.Stop() }()
	a, b = clusterA.Client, clusterB.Client

	if kubeconfigB, err = kubeconfigFor(clusterB.Config); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dc, err := discovery.NewDiscoveryClientForConfig(clusterB.Config)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	info, err := dc.ServerVersion()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	versionB = info.GitVersion

	ctx := context.Background()
	if err := a.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: suiteNamespace}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	stop, err := startManager(suiteNamespace, suiteNamespace, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	stopReplication, err := startReplication()
	if err != nil {
		stop()
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	stop()
	stopReplication()
	return code
}

// moverImage is the image the rsync-tls Builder puts in mover Jobs; nothing pulls it here.
const moverImage = "example.com/volsync-mover:test"

// startReplication runs what volsyncd runs besides the migration controllers: the
// ReplicationSource controller on cluster A, which sends the volumes, and the
// ReplicationDestination controller on cluster B, which receives them, as volsyncd on the
// destination cluster would. No kubelet runs, so the tests finish the mover Jobs themselves.
func startReplication() (func(), error) {
	mover.Register(&rsynctls.Builder{Settings: moverjob.Settings{Image: moverImage}})
	_, stopA, err := testenv.StartManager(clusterA.Config, ctrl.Options{
		Scheme:     clusterA.Scheme,
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	}, func(mgr ctrl.Manager) error {
		return (&replication.SourceReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("volsync")}).SetupWithManager(mgr)
	})
	if err != nil {
		return nil, fmt.Errorf("cluster A replication: %w", err)
	}
	_, stopB, err := testenv.StartManager(clusterB.Config, ctrl.Options{
		Scheme:     clusterB.Scheme,
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	}, func(mgr ctrl.Manager) error {
		return (&replication.DestinationReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("volsync")}).SetupWithManager(mgr)
	})
	if err != nil {
		stopA()
		return nil, fmt.Errorf("cluster B replication: %w", err)
	}
	return func() { stopA(); stopB() }, nil
}

// startManager runs the ClusterPair and Migration controllers on cluster A, watching namespace
// ns only, with the suite's clock and retry policy and admin as the admin namespace. newClient,
// when not nil, makes the destination clients. The returned func stops the manager and waits
// until it has stopped, as volsyncd does when it is shut down.
func startManager(ns, admin string, newClient func(*rest.Config) (client.Client, error)) (func(), error) {
	_, stop, err := testenv.StartManager(clusterA.Config, ctrl.Options{
		Scheme:     clusterA.Scheme,
		Cache:      cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	}, func(mgr ctrl.Manager) error {
		return (&migration.ClusterPairReconciler{
			Client:   mgr.GetClient(),
			Recorder: mgr.GetEventRecorder("volsync"),
			Clock:    fakeClock,
		}).SetupWithManager(mgr)
	}, func(mgr ctrl.Manager) error {
		return (&migration.MigrationReconciler{
			Client:               mgr.GetClient(),
			Recorder:             mgr.GetEventRecorder("volsync"),
			Clock:                fakeClock,
			Retry:                suiteRetry,
			AdminNamespace:       admin,
			NewDestinationClient: newClient,
			VolumePollInterval:   200 * time.Millisecond,
		}).SetupWithManager(mgr)
	})
	return stop, err
}

// kubeconfigFor writes a kubeconfig equivalent to cfg, with everything inline, as
// `volsyncctl generate clusterpair` does.
func kubeconfigFor(cfg *rest.Config) ([]byte, error) {
	c := clientcmdapi.NewConfig()
	c.Clusters["dr"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	c.AuthInfos["dr"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	c.Contexts["dr"] = &clientcmdapi.Context{Cluster: "dr", AuthInfo: "dr"}
	c.CurrentContext = "dr"
	return clientcmd.Write(*c)
}

// tokenKubeconfig is a kubeconfig for cluster B that authenticates with token.
func tokenKubeconfig(token string) ([]byte, error) {
	return kubeconfigFor(&rest.Config{Host: clusterB.Config.Host, TLSClientConfig: rest.TLSClientConfig{CAData: clusterB.Config.CAData}, BearerToken: token})
}

// unreachableKubeconfig points at a loopback port nothing listens on.
func unreachableKubeconfig(t *testing.T) []byte {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	kc, err := kubeconfigFor(&rest.Config{Host: "https://" + addr, TLSClientConfig: rest.TLSClientConfig{CAData: clusterB.Config.CAData}, BearerToken: "x"})
	if err != nil {
		t.Fatal(err)
	}
	return kc
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	testenv.Eventually(t, timeout, cond)
}

// createPair makes, in namespace ns of cluster A, a kubeconfig Secret (when kubeconfig is not nil)
// and a ClusterPair named name that reads it.
func createPair(t testing.TB, ns, name string, kubeconfig []byte) *volsyncv1alpha1.ClusterPair {
	t.Helper()
	ctx := context.Background()
	if kubeconfig != nil {
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name + "-kubeconfig", Namespace: ns},
			Data:       map[string][]byte{volsyncv1alpha1.DefaultKubeconfigKey: kubeconfig},
		}
		if err := a.Create(ctx, secret); err != nil {
			t.Fatal(err)
		}
	}
	pair := &volsyncv1alpha1.ClusterPair{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: volsyncv1alpha1.ClusterPairSpec{
			KubeconfigSecretRef: volsyncv1alpha1.SecretKeyRef{Name: name + "-kubeconfig"},
		},
	}
	if err := a.Create(ctx, pair); err != nil {
		t.Fatal(err)
	}
	return pair
}

// setKubeconfig replaces the kubeconfig in the Secret of pair, creating it if needed.
func setKubeconfig(t *testing.T, pair *volsyncv1alpha1.ClusterPair, kubeconfig []byte) {
	t.Helper()
	ctx := context.Background()
	key := client.ObjectKey{Namespace: pair.Namespace, Name: pair.Spec.KubeconfigSecretRef.Name}
	var secret corev1.Secret
	if err := a.Get(ctx, key, &secret); err != nil {
		secret = corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace},
			Data: map[string][]byte{volsyncv1alpha1.DefaultKubeconfigKey: kubeconfig}}
		if err := a.Create(ctx, &secret); err != nil {
			t.Fatal(err)
		}
		return
	}
	secret.Data = map[string][]byte{volsyncv1alpha1.DefaultKubeconfigKey: kubeconfig}
	if err := a.Update(ctx, &secret); err != nil {
		t.Fatal(err)
	}
}

// events lists the Events about object name in namespace ns of cluster A, oldest first.
func events(ns, name string) ([]eventsv1.Event, error) {
	var list eventsv1.EventList
	if err := a.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == name {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreationTimestamp.Before(&out[j].CreationTimestamp) })
	return out, nil
}

// hasEvent is a poll condition: an Event of eventType and reason about name, whose note
// contains says.
func hasEvent(ns, name, eventType, reason, says string) func() error {
	return func() error {
		evs, err := events(ns, name)
		if err != nil {
			return err
		}
		var seen []string
		for _, e := range evs {
			if e.Type == eventType && e.Reason == reason && strings.Contains(e.Note, says) {
				return nil
			}
			seen = append(seen, e.Type+"/"+e.Reason+": "+e.Note)
		}
		return fmt.Errorf("no %s event %s saying %q about %s; events: %v", eventType, reason, says, name, seen)
	}
}
