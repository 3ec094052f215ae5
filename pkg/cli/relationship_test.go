package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

func TestParseObjectAddress(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        ObjectAddress
		wantErr     string
	}{
		{"namespace/name uses the current context", "source/datavol", ObjectAddress{Namespace: "source", Name: "datavol"}, ""},
		{"context/namespace/name names the context", "kind/source/datavol", ObjectAddress{Context: "kind", Namespace: "source", Name: "datavol"}, ""},
		{"a context may hold any character but a slash", "arn:aws:eks:eu-1:1:cluster@x/ns/pvc", ObjectAddress{Context: "arn:aws:eks:eu-1:1:cluster@x", Namespace: "ns", Name: "pvc"}, ""},
		{"a name alone is not an address", "datavol", ObjectAddress{}, `--pvcname "datavol" is not [context/]namespace/name: write it as namespace/name`},
		{"four parts are not an address", "a/b/c/d", ObjectAddress{}, `--pvcname "a/b/c/d" is not [context/]namespace/name`},
		{"an empty context is refused", "/source/datavol", ObjectAddress{}, `--pvcname "/source/datavol" has an empty context`},
		{"an empty namespace is refused", "/datavol", ObjectAddress{}, `"" is not a namespace name`},
		{"an upper-case namespace is refused", "Source/datavol", ObjectAddress{}, `"Source" is not a namespace name`},
		{"an empty name is refused", "source/", ObjectAddress{}, `"" is not an object name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseObjectAddress("pvcname", tc.value)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
			if got.String() != tc.value {
				t.Errorf("String() = %q, want %q", got.String(), tc.value)
			}
		})
	}
}

func TestRelationshipFileRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not-yet")
	rel, err := NewRelationship(dir, "example", ReplicationRelationship)
	if err != nil {
		t.Fatal(err)
	}
	rel.Replication.Source = &ReplicationSourceSide{Cluster: "kind", Namespace: "source", PVCName: "datavol", RSName: "datavol-abcde",
		VolumeOptions: volsyncv1alpha1.ReplicationSourceVolumeOptions{CopyMethod: volsyncv1alpha1.CopyMethodClone},
		Trigger:       volsyncv1alpha1.ReplicationTriggerSpec{Schedule: ptr.To("*/5 * * * *")}}
	svc := corev1.ServiceTypeLoadBalancer
	rel.Replication.Destination = &ReplicationDestinationSide{Namespace: "destns", RDName: "datavol", ServiceType: &svc,
		VolumeOptions: volsyncv1alpha1.ReplicationDestinationVolumeOptions{CopyMethod: volsyncv1alpha1.CopyMethodSnapshot}}
	if err := rel.Save(); err != nil {
		t.Fatal(err)
	}
	if _, err := NewRelationship(dir, "example", ReplicationRelationship); err == nil || !strings.Contains(err.Error(), `relationship "example" already exists`) {
		t.Fatalf("a second create: %v", err)
	}
	got, err := LoadRelationship(dir, "example", ReplicationRelationship)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != rel.ID || got.Replication.Source.RSName != "datavol-abcde" || ptr.Deref(got.Replication.Source.Trigger.Schedule, "") != "*/5 * * * *" ||
		ptr.Deref(got.Replication.Destination.ServiceType, "") != svc || got.Replication.Destination.VolumeOptions.CopyMethod != volsyncv1alpha1.CopyMethodSnapshot {
		t.Fatalf("loaded %+v / %+v / %+v", got, got.Replication.Source, got.Replication.Destination)
	}
	if fi, err := os.Stat(rel.Path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v, %v; want 0600", fi.Mode(), err)
	}
	if err := got.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := got.Remove(); err != nil {
		t.Fatalf("removing a removed relationship: %v", err)
	}
}

func TestLoadRelationshipRefusesWhatItCannotUse(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		typ        RelationshipType
		wantErr    string
	}{
		{"VolSync's version 2 layout loads", `data:
  destination:
    cluster: gcp
    namespace: destns
    rdname: datavol
    replicationdestinationvolumeoptions:
      accessmodes: [ReadWriteOnce]
      capacity: 3Gi
      copymethod: Snapshot
    servicetype: LoadBalancer
    moversecuritycontext: null
  isrsynctls: false
  source:
    cluster: kind
    namespace: source
    pvcname: datavol
    rsname: datavol-87srf
    replicationsourcevolumeoptions:
      copymethod: Clone
    trigger:
      schedule: '*/5 * * * *'
  version: 2
id: 90d56bef-551d-4ede-b6a7-0783cabdafb6
type: replication
`, ReplicationRelationship, ""},
		{"a replication file is not a migration", "type: replication\nid: x1\ndata: {version: 2}\n", MigrationRelationship,
			`relationship "r" is a replication relationship, not a migration one: manage it with 'volsyncctl replication -r r ...'`},
		{"version 1 files are refused with what to do", "type: migration\nid: x1\ndata: {version: 1}\n", MigrationRelationship,
			`has data.version 1; this volsyncctl reads version 2: delete the relationship with the tool that wrote it`},
		{"a file without data has version 0", "type: migration\nid: x1\n", MigrationRelationship, `has data.version 0`},
		{"rsync-tls relationships are refused", "type: replication\nid: x1\ndata: {version: 2, isrsynctls: true}\n", ReplicationRelationship,
			`relationship "r" uses rsync-tls, which volsyncctl relationships do not support`},
		{"an unknown type is a broken file", "type: backup\nid: x1\n", ReplicationRelationship, `type "backup" is neither replication nor migration: fix the file`},
		{"a file that is not YAML is broken", "type: [\n", ReplicationRelationship, `not YAML`},
		{"an id that is no label value is broken", "type: replication\nid: 'a b'\ndata: {version: 2}\n", ReplicationRelationship, `id "a b" is not a relationship id`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "r.yaml"), []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			rel, err := LoadRelationship(dir, "r", tc.typ)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				src, dst := rel.Replication.Source, rel.Replication.Destination
				if src.Cluster != "kind" || src.RSName != "datavol-87srf" || src.VolumeOptions.CopyMethod != volsyncv1alpha1.CopyMethodClone ||
					dst.VolumeOptions.Capacity.String() != "3Gi" || len(dst.VolumeOptions.AccessModes) != 1 || ptr.Deref(dst.ServiceType, "") != corev1.ServiceTypeLoadBalancer {
					t.Fatalf("loaded %+v / %+v", src, dst)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestRelationshipNames(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadRelationship(dir, "absent", ReplicationRelationship); err == nil ||
		!strings.Contains(err.Error(), `relationship "absent" not found: there is no `+filepath.Join(dir, "absent.yaml")+`: create it with 'volsyncctl replication -r absent create'`) {
		t.Fatalf("an unknown relationship: %v", err)
	}
	for _, name := range []string{"../escape", "a/b", ".hidden", ""} {
		if _, err := NewRelationship(dir, name, MigrationRelationship); err == nil || !strings.Contains(err.Error(), "is not a plain file name") {
			t.Errorf("name %q: %v", name, err)
		}
	}
}

func FuzzParseRelationship(f *testing.F) {
	f.Add([]byte("type: replication\nid: x1\ndata: {version: 2, source: {pvcname: a}}\n"))
	f.Add([]byte("type: migration\nid: x1\ndata: {version: 2, destination: {rdname: a}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, typ := range []RelationshipType{ReplicationRelationship, MigrationRelationship} {
			rel, err := parseRelationship("r.yaml", "r", typ, data)
			if err == nil && (rel.ID == "" || (rel.Replication == nil) == (rel.Migration == nil)) {
				t.Fatalf("accepted %q as %+v", data, rel)
			}
		}
	})
}

func FuzzParseObjectAddress(f *testing.F) {
	f.Add("kind/source/datavol")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseObjectAddress("pvcname", s)
		if err == nil && a.String() != s {
			t.Fatalf("%q parsed as %+v, which prints as %q", s, a, a.String())
		}
	})
}
