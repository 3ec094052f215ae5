package admission

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Key phrases of the replication messages.
const (
	oneMoverPhrase    = "exactly one mover of rsync, rsyncTLS, rclone, restic, external must be set"
	oneSourceMover    = "exactly one mover of rsync, rsyncTLS, rclone, restic, syncthing, external must be set"
	cronPhrase        = "schedule must be a cron expression of 5 fields (6 with seconds)"
	cronZonePhrase    = "the zone after CRON_TZ= must be an IANA name such as Europe/Berlin"
	oneTriggerPhrase  = "trigger takes schedule or schedulePolicyName, not both"
	requiredPhrase    = "Required value"
	unsupportedPhrase = "Unsupported value"
	immutablePhrase   = "spec is immutable"
)

// cronSource is a ReplicationSource body with schedule as its cron trigger.
func cronSource(schedule string) string {
	return `spec: {sourcePVC: data, restic: {repository: restic-config}, trigger: {schedule: "` + schedule + `"}}`
}

var replicationSourceRefusals = []refusal{
	{name: "a ReplicationSource with two movers is refused", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, rsync: {address: dest.example.com}, restic: {repository: restic-config}}`,
		want: []cause{{"spec", oneSourceMover}}},
	{name: "a ReplicationSource with no mover is refused", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, trigger: {manual: once}}`,
		want: []cause{{"spec", oneSourceMover}}},
	{name: "syncthing beside another mover is refused", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, syncthing: {}, restic: {repository: restic-config}}`,
		want: []cause{{"spec", oneSourceMover}}},
	{name: "a syncthing peer listed twice is refused", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, syncthing: {peers: [{ID: MFZWI3D-BONSGYC-YLTMRWG-C43ENR5-QXGZDMM-FZWI3DP-BONSGYY-LTMRWAD, address: "tcp://a:22000", introducer: false}, {ID: MFZWI3D-BONSGYC-YLTMRWG-C43ENR5-QXGZDMM-FZWI3DP-BONSGYY-LTMRWAD, address: "tcp://b:22000", introducer: false}]}}`,
		want: []cause{{"spec.syncthing.peers", "each peer ID may appear only once"}}},
	{name: "a syncthing peer ID that is not a device ID is refused", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, syncthing: {peers: [{ID: not-an-id, address: "tcp://a:22000", introducer: false}]}}`,
		want: []cause{{"spec.syncthing.peers[0].ID", "should match"}}},
	{name: "a syncthing peer address without a scheme is refused", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, syncthing: {peers: [{ID: MFZWI3D-BONSGYC-YLTMRWG-C43ENR5-QXGZDMM-FZWI3DP-BONSGYY-LTMRWAD, address: "a:22000", introducer: false}]}}`,
		want: []cause{{"spec.syncthing.peers[0].address", "should match"}}},
	{name: "a ReplicationSource without sourcePVC is refused", kind: "ReplicationSource",
		body: `spec: {restic: {repository: restic-config}}`,
		want: []cause{{"spec.sourcePVC", requiredPhrase}}},
	{name: "a ReplicationSource with an empty sourcePVC is refused", kind: "ReplicationSource",
		body: `spec: {sourcePVC: "", restic: {repository: restic-config}}`,
		want: []cause{{"spec.sourcePVC", "at least 1 chars long"}}},
	{name: "a ReplicationSource without spec is refused", kind: "ReplicationSource",
		body: `{}`,
		want: []cause{{"spec", requiredPhrase}}},
	{name: "a restic source without repository is refused", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, restic: {copyMethod: Clone}}`,
		want: []cause{{"spec.restic.repository", requiredPhrase}}},
	{name: "a cron of 'garbage 0 3 * * *' is refused", kind: "ReplicationSource",
		body: cronSource("garbage 0 3 * * *"),
		want: []cause{{"spec.trigger.schedule", cronPhrase}}},
	{name: "a descriptor of @daily-random is refused", kind: "ReplicationSource",
		body: cronSource("@daily-random"),
		want: []cause{{"spec.trigger.schedule", cronPhrase}}},
	{name: "CRON_TZ=Europe/Berlin with only 4 fields is refused", kind: "ReplicationSource",
		body: cronSource("CRON_TZ=Europe/Berlin 0 3 * *"),
		want: []cause{{"spec.trigger.schedule", cronPhrase}}},
	{name: "a cron in an unknown CRON_TZ zone is refused", kind: "ReplicationSource",
		body: cronSource("CRON_TZ=Mars/Olympus_Mons 0 3 * * *"),
		want: []cause{{"spec.trigger.schedule", cronZonePhrase}}},
	{name: "a cron in the host-dependent zone TZ=Local is refused", kind: "ReplicationSource",
		body: cronSource("TZ=Local 0 3 * * *"),
		want: []cause{{"spec.trigger.schedule", cronZonePhrase}}},
	{name: "a cron of 4 fields is refused", kind: "ReplicationSource",
		body: cronSource("0 3 * *"),
		want: []cause{{"spec.trigger.schedule", cronPhrase}}},
	{name: "a cron of 7 fields is refused", kind: "ReplicationSource",
		body: cronSource("0 0 3 * * * 2024"),
		want: []cause{{"spec.trigger.schedule", cronPhrase}}},
	{name: "a cron naming a weekday that does not exist is refused", kind: "ReplicationSource",
		body: cronSource("0 3 * * mond"),
		want: []cause{{"spec.trigger.schedule", cronPhrase}}},
	{name: "an empty schedule is refused", kind: "ReplicationSource",
		body: cronSource(""),
		want: []cause{{"spec.trigger.schedule", cronPhrase}}},
	{name: "a trigger with both schedule and schedulePolicyName is refused", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, restic: {repository: restic-config}, trigger: {schedule: "@hourly", schedulePolicyName: testpolicy}}`,
		want: []cause{{"spec.trigger", oneTriggerPhrase}}},
	{name: "an rsync port of 0 is refused", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, rsync: {address: dest.example.com, port: 0}}`,
		want: []cause{{"spec.rsync.port", atLeastOne}}},
	{name: "an rsync port of 70000 is refused", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, rsync: {address: dest.example.com, port: 70000}}`,
		want: []cause{{"spec.rsync.port", "should be less than or equal to 65535"}}},
	{name: "an rsyncTLS port of 70000 is refused", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, rsyncTLS: {address: dest.example.com, port: 70000}}`,
		want: []cause{{"spec.rsyncTLS.port", "should be less than or equal to 65535"}}},
	{name: "a copyMethod of Copy is refused", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, restic: {repository: restic-config, copyMethod: Copy}}`,
		want: []cause{{"spec.restic.copyMethod", unsupportedPhrase}}},
	{name: "a customCA naming both a Secret and a ConfigMap is refused", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, rclone: {rcloneConfig: rclone-secret, customCA: {secretName: ca, configMapName: ca}}}`,
		want: []cause{{"spec.rclone.customCA", "customCA takes secretName or configMapName, not both"}}},
	{name: "an external mover without provider is refused", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, external: {parameters: {a: b}}}`,
		want: []cause{{"spec.external.provider", requiredPhrase}}},
	{name: "a restic retain within of '2 weeks' is refused", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, restic: {repository: restic-config, retain: {within: "2 weeks"}}}`,
		want: []cause{{"spec.restic.retain.within", "should match"}}},
	{name: "a seed's name with capitals (mySource) is refused by the naming rules", kind: "ReplicationSource",
		body: `{metadata: {name: mySource}, spec: {sourcePVC: data, rsync: {address: my.host.com}}}`,
		want: []cause{{"metadata.name", "lowercase RFC 1123 subdomain"}}},
	{name: "restic retain.last of words is refused", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, restic: {repository: restic-config, retain: {last: five}}}`,
		want: []cause{{"spec.restic.retain.last", "last must be a whole number of snapshots"}}},
	{name: "a negative restic retain.last is refused", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, restic: {repository: restic-config, retain: {last: -1}}}`,
		want: []cause{{"spec.restic.retain.last", "last must be a whole number of snapshots"}}},
	{name: "a moverVolumes mountPath that climbs out of /mnt is refused", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, restic: {repository: restic-config, moverVolumes: [{mountPath: ../etc, volumeSource: {secret: {secretName: x}}}]}}`,
		want: []cause{{"spec.restic.moverVolumes[0].mountPath", "mountPath must be a path relative to /mnt"}}},
	{name: "an absolute moverVolumes mountPath is refused", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, rclone: {rcloneConfig: rclone-secret, moverVolumes: [{mountPath: /etc, volumeSource: {secret: {secretName: x}}}]}}`,
		want: []cause{{"spec.rclone.moverVolumes[0].mountPath", "mountPath must be a path relative to /mnt"}}},
	{name: "a moverVolume with both a Secret and a PVC is refused", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, rsyncTLS: {moverVolumes: [{mountPath: x, volumeSource: {secret: {secretName: x}, persistentVolumeClaim: {claimName: other}}}]}}`,
		want: []cause{{"spec.rsyncTLS.moverVolumes[0].volumeSource", "exactly one of secret and persistentVolumeClaim"}}},
	{name: "two moverVolumes at one mountPath are refused", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, restic: {repository: restic-config, moverVolumes: [{mountPath: a, volumeSource: {secret: {secretName: x}}}, {mountPath: a, volumeSource: {secret: {secretName: other}}}]}}`,
		want: []cause{{"spec.restic.moverVolumes", "each moverVolumes mountPath must be different"}}},
}

var replicationSourceAcceptances = []acceptance{
	{name: "moverVolumes on rsyncTLS, as VolSync writes them, are accepted", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, rsyncTLS: {address: dst.example, moverVolumes: [{mountPath: certs, volumeSource: {secret: {secretName: ca}}}]}}`},
	{name: "moverVolumes on rclone are accepted", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, rclone: {rcloneConfig: rclone-secret, moverVolumes: [{mountPath: cache/extra, volumeSource: {persistentVolumeClaim: {claimName: more, readOnly: true}}}]}}`},
	{name: "moverVolumes on restic are accepted", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, restic: {repository: restic-config, moverVolumes: [{mountPath: a, volumeSource: {secret: {secretName: x}}}, {mountPath: b, volumeSource: {secret: {secretName: other}}}]}}`},
	{name: "restic retain.last as VolSync's string is accepted", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, restic: {repository: restic-config, retain: {last: "5", daily: 7}}}`},
	{name: "restic retain.last as a number is accepted", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, restic: {repository: restic-config, retain: {last: 5}}}`},
	{name: "a trigger with schedule and manual together is accepted, as VolSync does (manual wins)", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, restic: {repository: restic-config}, trigger: {schedule: "@hourly", manual: now}}`},
	{name: "a cron of '*/6 * * * *' is accepted", kind: "ReplicationSource", body: cronSource("*/6 * * * *")},
	{name: "a descriptor of @hourly is accepted", kind: "ReplicationSource", body: cronSource("@hourly")},
	{name: "a cron of 'CRON_TZ=Europe/Berlin 0 3 * * *' is accepted", kind: "ReplicationSource",
		body: cronSource("CRON_TZ=Europe/Berlin 0 3 * * *")},
	{name: "a six-field cron of '*/30 * * * * *' is accepted", kind: "ReplicationSource", body: cronSource("*/30 * * * * *")},
	{name: "a six-field cron of '30 * * * * *' is accepted", kind: "ReplicationSource", body: cronSource("30 * * * * *")},
	{name: "a cron of 'TZ=America/New_York 15 4 * * *' is accepted", kind: "ReplicationSource",
		body: cronSource("TZ=America/New_York 15 4 * * *")},
	{name: "a cron with weekday names and a range is accepted", kind: "ReplicationSource", body: cronSource("0 3 * * MON-FRI")},
	{name: "a cron with lists, month names and ? is accepted", kind: "ReplicationSource", body: cronSource("0 22 1,15 JAN,jul ?")},
	{name: "an @every descriptor is accepted", kind: "ReplicationSource", body: cronSource("@every 1h30m")},
	{name: "a manual trigger is accepted", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, restic: {repository: restic-config}, trigger: {manual: first}}`},
	{name: "a schedulePolicyName trigger is accepted", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, restic: {repository: restic-config}, trigger: {schedulePolicyName: testpolicy}}`},
	{name: "no trigger at all (always) is accepted", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, rsyncTLS: {address: dest.example.com, port: 8000}}`},
	{name: "an rsync port of 65535 is accepted", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, rsync: {address: dest.example.com, port: 65535}}`},
	{name: "an external mover with a provider is accepted", kind: "ReplicationSource",
		body: `spec: {sourcePVC: data, external: {provider: example.com/replicator, parameters: {a: b}}}`},
}

var replicationDestinationRefusals = []refusal{
	{name: "a ReplicationDestination with two movers is refused", kind: "ReplicationDestination",
		body: `spec: {rsync: {capacity: 1Gi}, rclone: {rcloneConfig: rclone-secret}}`,
		want: []cause{{"spec", oneMoverPhrase}}},
	{name: "a ReplicationDestination with no mover is refused", kind: "ReplicationDestination",
		body: `spec: {trigger: {manual: once}}`,
		want: []cause{{"spec", oneMoverPhrase}}},
	{name: "a destination copyMethod of Clone is refused", kind: "ReplicationDestination",
		body: `spec: {rsync: {copyMethod: Clone, capacity: 1Gi}}`,
		want: []cause{{"spec.rsync", "copyMethod on a destination must be Direct, None or Snapshot"}}},
	{name: "a restic destination with both previous and restoreAsOf is refused", kind: "ReplicationDestination",
		body: `spec: {restic: {repository: restic-config, previous: 1, restoreAsOf: "2024-03-10T07:00:00Z"}}`,
		want: []cause{{"spec.restic", "restic takes previous or restoreAsOf, not both"}}},
	{name: "a negative restic previous is refused", kind: "ReplicationDestination",
		body: `spec: {restic: {repository: restic-config, previous: -1}}`,
		want: []cause{{"spec.restic.previous", "should be greater than or equal to 0"}}},
	{name: "a restoreAsOf that is not a date-time is refused", kind: "ReplicationDestination",
		body: `spec: {restic: {repository: restic-config, restoreAsOf: yesterday}}`,
		want: []cause{{"spec.restic.restoreAsOf", "date-time"}}},
	{name: "a restic destination without repository is refused", kind: "ReplicationDestination",
		body: `spec: {restic: {destinationPVC: datavol}}`,
		want: []cause{{"spec.restic.repository", requiredPhrase}}},
	{name: "a moverBackoffLimit of 21 is refused, so a failing mover cannot retry for ever", kind: "ReplicationDestination",
		body: `spec: {rsyncTLS: {capacity: 1Gi, moverBackoffLimit: 21}}`,
		want: []cause{{"spec.rsyncTLS.moverBackoffLimit", "should be less than or equal to 20"}}},
	{name: "a destination cron of 'garbage 0 3 * * *' is refused", kind: "ReplicationDestination",
		body: `spec: {rclone: {rcloneConfig: rclone-secret}, trigger: {schedule: "garbage 0 3 * * *"}}`,
		want: []cause{{"spec.trigger.schedule", cronPhrase}}},
	{name: "an rsync destination port of 0 is refused", kind: "ReplicationDestination",
		body: `spec: {rsync: {capacity: 1Gi, port: 0}}`,
		want: []cause{{"spec.rsync.port", atLeastOne}}},
}

var replicationDestinationAcceptances = []acceptance{
	{name: "moverVolumes on a restic destination are accepted", kind: "ReplicationDestination",
		body: `spec: {restic: {repository: restic-config, capacity: 1Gi, moverVolumes: [{mountPath: certs, volumeSource: {secret: {secretName: ca}}}]}}`},
	{name: "moverVolumes on an rsyncTLS destination are accepted", kind: "ReplicationDestination",
		body: `spec: {rsyncTLS: {capacity: 1Gi, moverVolumes: [{mountPath: certs, volumeSource: {secret: {secretName: ca}}}]}}`},
	{name: "moverVolumes on an rclone destination are accepted", kind: "ReplicationDestination",
		body: `spec: {rclone: {rcloneConfig: rclone-secret, capacity: 1Gi, moverVolumes: [{mountPath: certs, volumeSource: {secret: {secretName: ca}}}]}}`},
	{name: "a destination trigger with manual beside schedulePolicyName is accepted (manual wins)", kind: "ReplicationDestination",
		body: `spec: {rclone: {rcloneConfig: rclone-secret}, trigger: {manual: once, schedulePolicyName: testpolicy}}`},
	{name: "a destination copyMethod of None is accepted", kind: "ReplicationDestination",
		body: `spec: {restic: {repository: restic-config, destinationPVC: datavol, copyMethod: None}}`},
	{name: "a destination copyMethod of Direct is accepted", kind: "ReplicationDestination",
		body: `spec: {rsync: {destinationPVC: datavol, copyMethod: Direct}}`},
	{name: "a destination copyMethod of Snapshot is accepted", kind: "ReplicationDestination",
		body: `spec: {rsyncTLS: {capacity: 2Gi, accessModes: [ReadWriteOnce], copyMethod: Snapshot}}`},
	{name: "a restic restore of the snapshot before the latest is accepted", kind: "ReplicationDestination",
		body: `spec: {restic: {repository: restic-config, previous: 1}, trigger: {manual: restore}}`},
	{name: "a restic restore as of a date is accepted", kind: "ReplicationDestination",
		body: `spec: {restic: {repository: restic-config, restoreAsOf: "2024-03-10T07:00:00Z"}}`},
	{name: "a destination on a schedulePolicyName is accepted", kind: "ReplicationDestination",
		body: `spec: {rclone: {rcloneConfig: rclone-secret, capacity: 1Gi}, trigger: {schedulePolicyName: testpolicy}}`},
}

// syncBody is a valid ReplicationSync.
const syncBody = `spec: {replication: {kind: ReplicationSource, name: database-source}, policyType: Daily,
  scheduledTime: "2024-03-10T07:00:00Z"}`

var replicationSyncRefusals = []refusal{
	{name: "a ReplicationSync for a Pod is refused", kind: "ReplicationSync",
		body: `spec: {replication: {kind: Pod, name: db}, policyType: Daily, scheduledTime: "2024-03-10T07:00:00Z"}`,
		want: []cause{{"spec.replication.kind", unsupportedPhrase}}},
	{name: "a ReplicationSync of policyType Hourly is refused", kind: "ReplicationSync",
		body: `spec: {replication: {kind: ReplicationSource, name: db}, policyType: Hourly, scheduledTime: "2024-03-10T07:00:00Z"}`,
		want: []cause{{"spec.policyType", unsupportedPhrase}}},
	{name: "a ReplicationSync without scheduledTime is refused", kind: "ReplicationSync",
		body: `spec: {replication: {kind: ReplicationSource, name: db}, policyType: Daily}`,
		want: []cause{{"spec.scheduledTime", requiredPhrase}}},
	{name: "a ReplicationSync with an empty owner name is refused", kind: "ReplicationSync",
		body: `spec: {replication: {kind: ReplicationDestination, name: ""}, policyType: Weekly, scheduledTime: "2024-03-10T07:00:00Z"}`,
		want: []cause{{"spec.replication.name", "at least 1 chars long"}}},
}

func TestReplicationSourceAdmission(t *testing.T) {
	t.Run("refused", func(t *testing.T) { runRefusals(t, replicationSourceRefusals) })
	t.Run("accepted", func(t *testing.T) { runAcceptances(t, replicationSourceAcceptances) })
}

func TestReplicationDestinationAdmission(t *testing.T) {
	t.Run("refused", func(t *testing.T) { runRefusals(t, replicationDestinationRefusals) })
	t.Run("accepted", func(t *testing.T) { runAcceptances(t, replicationDestinationAcceptances) })
}

func TestReplicationSyncAdmission(t *testing.T) {
	t.Run("refused", func(t *testing.T) { runRefusals(t, replicationSyncRefusals) })
	t.Run("accepted", func(t *testing.T) {
		runAcceptances(t, []acceptance{{name: "a dated sync of a ReplicationSource is accepted",
			kind: "ReplicationSync", body: syncBody}})
	})
}

// syncChange is one edit of a stored ReplicationSync.
type syncChange struct {
	name string
	// edit changes the object read back from the server.
	edit func(u *unstructured.Unstructured) error
	// status sends the edit to the status subresource.
	status bool
	// refused says the API server must refuse the edit, naming spec as immutable.
	refused bool
}

// replicationSyncChanges are edits after create: the spec is immutable, so a sync always stands for
// the trigger it was created for; metadata and status stay writable.
var replicationSyncChanges = []syncChange{
	{name: "changing a ReplicationSync's policyType after create is refused", refused: true,
		edit: func(u *unstructured.Unstructured) error {
			return unstructured.SetNestedField(u.Object, "Weekly", "spec", "policyType")
		}},
	{name: "changing a ReplicationSync's scheduledTime after create is refused", refused: true,
		edit: func(u *unstructured.Unstructured) error {
			return unstructured.SetNestedField(u.Object, "2024-03-11T07:00:00Z", "spec", "scheduledTime")
		}},
	{name: "pointing a ReplicationSync at another owner after create is refused", refused: true,
		edit: func(u *unstructured.Unstructured) error {
			return unstructured.SetNestedField(u.Object, "other-source", "spec", "replication", "name")
		}},
	{name: "relabelling a ReplicationSync is allowed",
		edit: func(u *unstructured.Unstructured) error {
			u.SetLabels(map[string]string{"volsync.backube/policy-type": "daily"})
			return nil
		}},
	{name: "writing a ReplicationSync's status is allowed", status: true,
		edit: func(u *unstructured.Unstructured) error {
			return unstructured.SetNestedField(u.Object, "InProgress", "status", "status")
		}},
}

func TestReplicationSyncSpecIsImmutable(t *testing.T) {
	for _, row := range replicationSyncChanges {
		t.Run(row.name, func(t *testing.T) {
			obj, err := newObject("ReplicationSync", "immutable", syncBody)
			if err != nil {
				t.Fatal(err)
			}
			if err := create(obj); err != nil {
				t.Fatalf("creating the sync: %v", err)
			}
			t.Cleanup(func() { deleteAndWait(t, obj) })
			ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
			defer cancel()
			stored := obj.DeepCopy()
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), stored); err != nil {
				t.Fatal(err)
			}
			if err := row.edit(stored); err != nil {
				t.Fatal(err)
			}
			if row.status {
				err = env.Client.Status().Update(ctx, stored)
			} else {
				err = env.Client.Update(ctx, stored, client.FieldValidation("Strict"))
			}
			if !row.refused {
				if err != nil {
					t.Fatalf("the API server refused the edit: %v", err)
				}
				return
			}
			checkRefused(t, err, []cause{{"spec", immutablePhrase}})
		})
	}
}
