package replication

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover/syncthing"

	"github.com/volsync/volsync/integration-test/testenv"
)

// syncthingAPIs maps a ReplicationSource (namespace/name) to the loopback address of the real
// Syncthing a test runs for it: no pod runs here, so the test plays the Deployment's pod.
var syncthingAPIs sync.Map

func syncthingAPIAddress(rs *volsyncv1alpha1.ReplicationSource, _ *corev1.Service) string {
	if a, ok := syncthingAPIs.Load(rs.Namespace + "/" + rs.Name); ok {
		return a.(string)
	}
	return "127.0.0.1:1" // nothing listens: the pass reports Syncthing unreachable
}

// A syncthing source makes its Deployment, Services, API Secret and config volume under VolSync's
// names; once the pod is ready, volsyncd configures the real Syncthing over its API with the
// certificate it generated and publishes the device in status.syncthing. Pausing scales it to 0.
func TestSyncthingSourceRunsAndPublishesItsDevice(t *testing.T) {
	ns := namespace(t, false)
	sourcePVC(t, ns, "shared", nil)
	peer := "MFZWI3D-BONSGYC-YLTMRWG-C43ENR5-QXGZDMM-FZWI3DP-BONSGYY-LTMRWAD"
	rs := &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: metav1.ObjectMeta{Name: "st", Namespace: ns},
		Spec: volsyncv1alpha1.ReplicationSourceSpec{SourcePVC: "shared", Syncthing: &volsyncv1alpha1.ReplicationSourceSyncthingSpec{
			Peers: []volsyncv1alpha1.SyncthingPeer{{ID: peer, Address: "tcp://10.1.2.3:22000"}},
		}},
	}
	create(t, rs)

	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "volsync-st", Namespace: ns}}
	appears(t, dep)
	if *dep.Spec.Replicas != 1 || dep.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("deployment replicas %d, strategy %s; want 1, Recreate", *dep.Spec.Replicas, dep.Spec.Strategy.Type)
	}
	claims := map[string]string{}
	for _, v := range dep.Spec.Template.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			claims[v.Name] = v.PersistentVolumeClaim.ClaimName
		}
	}
	if claims["data"] != "shared" || claims["config"] != "volsync-st-config" {
		t.Errorf("deployment claims %v, want data=shared and config=volsync-st-config", claims)
	}
	for _, name := range []string{"volsync-st-api", "volsync-st-data"} {
		appears(t, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}})
	}
	config := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "volsync-st-config", Namespace: ns}}
	appears(t, config)
	if got := config.Spec.Resources.Requests[corev1.ResourceStorage]; got.String() != "1Gi" {
		t.Errorf("config volume of %s, want 1Gi", got.String())
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "volsync-st", Namespace: ns}}
	appears(t, secret)
	for _, k := range []string{syncthing.SecretAPIKey, syncthing.SecretUsername, syncthing.SecretPassword, syncthing.SecretCert, syncthing.SecretKey} {
		if len(secret.Data[k]) == 0 {
			t.Errorf("API Secret has no %s", k)
		}
	}
	waitReason(t, rs, volsyncv1alpha1.ReasonSyncInProgress)
	if msg := synchronizing(&rs.Status.ReplicationStatus).Message; !strings.Contains(msg, "syncthing syncs continuously") {
		t.Errorf("Synchronizing says %q", msg)
	}

	// The pod: a real Syncthing with the Secret's certificate and key, started as the mover
	// image's entry point prepares it.
	id, addr := runSyncthing(t, secret)
	syncthingAPIs.Store(ns+"/st", addr)
	t.Cleanup(func() { syncthingAPIs.Delete(ns + "/st") })
	dep.Status.Replicas, dep.Status.ReadyReplicas = 1, 1
	if err := k8s.Status().Update(context.Background(), dep); err != nil {
		t.Fatal(err)
	}
	eventually(t, wait, func() error {
		get(t, rs)
		st := rs.Status.Syncthing
		if st == nil || st.ID != id {
			return fmt.Errorf("status.syncthing = %+v, want ID %s", st, id)
		}
		if len(st.Peers) != 1 || st.Peers[0].ID != peer || st.Peers[0].Connected || st.Peers[0].Address != "tcp://10.1.2.3:22000" {
			return fmt.Errorf("status.syncthing.peers = %+v", st.Peers)
		}
		if !strings.HasPrefix(st.Address, "tcp://") || !strings.HasSuffix(st.Address, ":22000") {
			return fmt.Errorf("status.syncthing.address = %q", st.Address)
		}
		return nil
	})

	// Syncthing gone: the condition and a Warning Event say so; the published device stays.
	syncthingAPIs.Delete(ns + "/st")
	waitReason(t, rs, syncthing.ReasonSyncthingUnreachable)
	waitEvent(t, ns, "st", syncthing.ReasonSyncthingUnreachable)
	if get(t, rs).Status.Syncthing.ID != id {
		t.Error("an unreachable Syncthing erased status.syncthing")
	}

	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"paused":true}}`))
	if err := k8s.Patch(context.Background(), rs, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, wait, func() error {
		get(t, dep)
		if *dep.Spec.Replicas != 0 {
			return fmt.Errorf("paused source's deployment has %d replicas", *dep.Spec.Replicas)
		}
		return nil
	})
	waitReason(t, rs, volsyncv1alpha1.ReasonPaused)
}

// appears waits until obj exists and reads it.
func appears(t *testing.T, obj client.Object) {
	t.Helper()
	eventually(t, wait, func() error { return k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj) })
}

// runSyncthing starts Syncthing for the API Secret and returns its device ID and API address.
func runSyncthing(t *testing.T, secret *corev1.Secret) (string, string) {
	t.Helper()
	certs, home := t.TempDir(), t.TempDir()
	for file, key := range map[string]string{"https-cert.pem": syncthing.SecretCert, "https-key.pem": syncthing.SecretKey} {
		if err := os.WriteFile(filepath.Join(certs, file), secret.Data[key], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t, "127.0.0.1"))
	env := map[string]string{
		syncthing.EnvConfigDir: home, syncthing.EnvCertDir: certs, syncthing.EnvAPIKey: string(secret.Data[syncthing.SecretAPIKey]),
		syncthing.EnvGUIAddress: "https://" + addr, syncthing.EnvBinary: filepath.Join(testenv.MoverTools(t), "syncthing"),
	}
	argv, err := syncthing.Prepare(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "STNODEFAULTFOLDER=1", "STNOUPGRADE=1", syncthing.EnvAPIKey+"="+env[syncthing.EnvAPIKey])
	out := &testenv.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("syncthing:\n%s", out.String())
		}
	})
	api, err := syncthing.NewClient("https://"+addr, env[syncthing.EnvAPIKey], secret.Data[syncthing.SecretCert], "volsync-st-api."+secret.Namespace+".svc")
	if err != nil {
		t.Fatal(err)
	}
	var id string
	eventually(t, wait, func() error {
		id, err = api.MyID(context.Background())
		return err
	})
	return id, addr
}
