package replication

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	moverjob "github.com/volsync/volsync/pkg/mover/job"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/mover/rsync"
)

// secretItems is the Secret and keys a pod mounts as volume.
func secretItems(pod corev1.PodSpec, volume string) (string, []string) {
	for _, v := range pod.Volumes {
		if v.Name == volume && v.Secret != nil {
			var keys []string
			for _, it := range v.Secret.Items {
				keys = append(keys, it.Key)
			}
			return v.Secret.SecretName, keys
		}
	}
	return "", nil
}

func TestAnRsyncDestinationGeneratesKeysPerRelationshipAndTheSourceUsesThem(t *testing.T) {
	ns := namespace(t, false)
	rd := &volsyncv1alpha1.ReplicationDestination{
		ObjectMeta: metav1.ObjectMeta{Name: "ssh", Namespace: ns},
		Spec: volsyncv1alpha1.ReplicationDestinationSpec{Rsync: &volsyncv1alpha1.ReplicationDestinationRsyncSpec{
			ReplicationDestinationVolumeOptions: volsyncv1alpha1.ReplicationDestinationVolumeOptions{Capacity: ptr.To(resource.MustParse("1Gi"))},
			ServiceType:                         ptr.To(corev1.ServiceTypeLoadBalancer),
		}},
	}
	create(t, rd)
	job := waitJob(t, ns, mover.ObjectName("rsync-dst", rd.Name), "")
	if p := job.Spec.Template.Spec.Containers[0].Ports; len(p) != 1 || p[0].ContainerPort != 8022 {
		t.Errorf("container ports %+v, want sshd on 8022", p)
	}
	if v := envValue(job, "RECEIVE_IN_PLACE"); v != "false" {
		t.Errorf("RECEIVE_IN_PLACE=%q: a Direct destination has no snapshot to fall back on and must stage", v)
	}
	name, keys := secretItems(job.Spec.Template.Spec, "keys")
	if name != rsync.DestinationKeysName(rd.Name) || strings.Join(keys, ",") != "destination,destination.pub,source.pub" {
		t.Errorf("keys volume %s %v", name, keys)
	}
	all := get(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: rsync.DestinationKeysName(rd.Name), Namespace: ns}})
	for _, k := range []string{"source", "source.pub", "destination", "destination.pub"} {
		if len(all.Data[k]) == 0 {
			t.Errorf("destination keys lack %s", k)
		}
	}
	if !strings.Contains(string(all.Data["source"]), "OPENSSH PRIVATE KEY") || !strings.HasPrefix(string(all.Data["source.pub"]), "ssh-ed25519 ") {
		t.Errorf("keys are not OpenSSH ed25519: %q", all.Data["source.pub"])
	}
	srcKeys := get(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: rsync.SourceKeysName(rd.Name), Namespace: ns}})
	if len(srcKeys.Data) != 3 || len(srcKeys.Data["destination"]) != 0 || string(srcKeys.Data["source"]) != string(all.Data["source"]) {
		t.Errorf("the source's Secret holds %d keys; want source, source.pub, destination.pub of the same relationship", len(srcKeys.Data))
	}
	svc := get(t, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: rsync.ServiceName(rd.Name), Namespace: ns}})
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || svc.Spec.Ports[0].Port != 22 || svc.Spec.Ports[0].TargetPort.IntValue() != 8022 {
		t.Errorf("service %+v", svc.Spec)
	}
	eventually(t, wait, func() error {
		get(t, rd)
		st := rd.Status.Rsync
		if st == nil || ptr.Deref(st.SSHKeys, "") != srcKeys.Name || ptr.Deref(st.Port, 0) != 22 {
			return fmt.Errorf("status.rsync %+v", st)
		}
		if st.Address != nil {
			return fmt.Errorf("address %q before the load balancer gave one", *st.Address)
		}
		return nil
	})

	// No address past ServiceAddressTimeout: a warning, and the destination keeps listening.
	fakeClock.Step(mover.ServiceAddressTimeout + 10*time.Second)
	poke(t, rd)
	waitEvent(t, ns, rd.Name, moverjob.ReasonServiceAddressNotAssigned)

	// The load balancer answers: the address is published.
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.7"}}
	if err := k8s.Status().Update(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	poke(t, rd)
	eventually(t, wait, func() error {
		get(t, rd)
		if a := ptr.Deref(rd.Status.Rsync.Address, ""); a != "203.0.113.7" {
			return fmt.Errorf("address %q", a)
		}
		return nil
	})

	sourcePVC(t, ns, "data", nil)
	rs := &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: metav1.ObjectMeta{Name: "ssh", Namespace: ns},
		Spec: volsyncv1alpha1.ReplicationSourceSpec{SourcePVC: "data", Rsync: &volsyncv1alpha1.ReplicationSourceRsyncSpec{
			Address: rd.Status.Rsync.Address, SSHKeys: rd.Status.Rsync.SSHKeys, SSHUser: ptr.To("backup"),
		}},
	}
	create(t, rs)
	src := waitJob(t, ns, mover.ObjectName("rsync-src", rs.Name), "")
	for n, want := range map[string]string{"DESTINATION_ADDRESS": "203.0.113.7", "DESTINATION_PORT": "22", "SSH_USER": "backup"} {
		if got, _ := envOf(src, n); got != want {
			t.Errorf("%s = %q, want %q", n, got, want)
		}
	}
	if name, keys := secretItems(src.Spec.Template.Spec, "keys"); name != srcKeys.Name || strings.Join(keys, ",") != "source,source.pub,destination.pub" {
		t.Errorf("source keys volume %s %v", name, keys)
	}
}

func TestAnRcloneSourceMountsItsConfigAndCustomCA(t *testing.T) {
	ns := namespace(t, false)
	sourcePVC(t, ns, "data", nil)
	rs := &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: metav1.ObjectMeta{Name: "s3", Namespace: ns},
		Spec: volsyncv1alpha1.ReplicationSourceSpec{SourcePVC: "data", Rclone: &volsyncv1alpha1.ReplicationSourceRcloneSpec{
			RcloneConfig: ptr.To("rclone-secret"), RcloneConfigSection: ptr.To("aws-s3"), RcloneDestPath: ptr.To("bucket/db"),
			CustomCA: &volsyncv1alpha1.CustomCASpec{ConfigMapName: "corp-ca", Key: "bundle.pem"},
		}},
	}
	create(t, rs)
	job := waitJob(t, ns, mover.ObjectName("rclone-src", rs.Name), "")
	for n, want := range map[string]string{
		"RCLONE_CONFIG": "/rclone-config/rclone.conf", "RCLONE_CONFIG_SECTION": "aws-s3",
		"RCLONE_DEST_PATH": "bucket/db", "CUSTOM_CA": "/customca/ca.crt",
	} {
		if got, _ := envOf(job, n); got != want {
			t.Errorf("%s = %q, want %q", n, got, want)
		}
	}
	mounts := map[string]string{}
	for _, m := range job.Spec.Template.Spec.Containers[0].VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	for _, p := range []string{"/data", "/rclone-config", "/customca", "/tmp"} {
		if mounts[p] == "" {
			t.Errorf("nothing mounted at %s: %v", p, mounts)
		}
	}
}

func TestABuilderRejectingItsBlockShowsWhatIsMissing(t *testing.T) {
	ns := namespace(t, false)
	sourcePVC(t, ns, "data", nil)
	rs := &volsyncv1alpha1.ReplicationSource{
		ObjectMeta: metav1.ObjectMeta{Name: "no-address", Namespace: ns},
		Spec:       volsyncv1alpha1.ReplicationSourceSpec{SourcePVC: "data", RsyncTLS: &volsyncv1alpha1.ReplicationSourceRsyncTLSSpec{KeySecret: ptr.To("psk")}},
	}
	create(t, rs)
	waitReason(t, rs, volsyncv1alpha1.ReasonError)
	if c := synchronizing(&rs.Status.ReplicationStatus); !strings.Contains(c.Message, "rsyncTLS.address is required") {
		t.Errorf("message %q", c.Message)
	}
	// Fixing the spec brings it back.
	get(t, rs)
	rs.Spec.RsyncTLS.Address = ptr.To("dst.example.com")
	if err := k8s.Update(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	waitJob(t, ns, tlsSourceJob(rs.Name), "")
}

// envValue is the value of the mover container's environment variable name, or "".
func envValue(job *batchv1.Job, name string) string {
	for _, e := range job.Spec.Template.Spec.Containers[0].Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}
