package replication

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestMoverPodsAreUnprivilegedUnlessTheNamespaceAllowsIt(t *testing.T) {
	for _, tc := range []struct {
		name       string
		privileged bool
	}{
		{"an ordinary namespace runs movers as non-root with no capabilities", false},
		{"a namespace annotated privileged-movers runs them as root with rsync's capabilities", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := namespace(t, tc.privileged)
			sourcePVC(t, ns, "data", nil)
			rs := tlsSource(ns, "sec", "data", nil)
			create(t, rs)
			job := waitJob(t, ns, tlsSourceJob(rs.Name), "")
			pod := job.Spec.Template.Spec
			c := pod.Containers[0].SecurityContext
			if tc.privileged {
				if pod.SecurityContext.RunAsUser == nil || *pod.SecurityContext.RunAsUser != 0 {
					t.Errorf("runAsUser %v, want 0", pod.SecurityContext.RunAsUser)
				}
				for _, cap := range []corev1.Capability{"CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID", "SYS_CHROOT"} {
					if !slices.Contains(c.Capabilities.Add, cap) {
						t.Errorf("capability %s missing from %v", cap, c.Capabilities.Add)
					}
				}
				return
			}
			if pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
				t.Errorf("runAsNonRoot %v", pod.SecurityContext.RunAsNonRoot)
			}
			if len(c.Capabilities.Add) != 0 || !slices.Equal(c.Capabilities.Drop, []corev1.Capability{"ALL"}) {
				t.Errorf("capabilities %+v", c.Capabilities)
			}
			if *c.AllowPrivilegeEscalation || !*c.ReadOnlyRootFilesystem {
				t.Errorf("container security context %+v", c)
			}
			if pod.SecurityContext.SeccompProfile == nil || pod.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("seccomp %+v", pod.SecurityContext.SeccompProfile)
			}
			if pod.ServiceAccountName != "volsync-src-sec" {
				t.Errorf("service account %q, want the per-owner volsync-src-sec", pod.ServiceAccountName)
			}
			var sa corev1.ServiceAccount
			sa.Name, sa.Namespace = pod.ServiceAccountName, ns
			get(t, &sa)
		})
	}
}
