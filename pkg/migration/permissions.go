package migration

import (
	"slices"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/volsync/volsync/pkg/migration/copier"
	"github.com/volsync/volsync/pkg/migration/remote"
)

// applyVerbs are what server-side apply needs: patch, and create when the object is new.
var applyVerbs = []string{"create", "patch"}

// purgeVerbs are what purgeDeletedResources needs on top: finding the copies, deleting the stale.
var purgeVerbs = []string{"list", "delete"}

// pairPermissions is what a ClusterPair's user must be allowed for the pair to be Ready: applying
// every kind a migration copies by default, in every namespace, since the pair does not know which
// namespaces its migrations will name. Purging is checked by the migrations that purge: a pair
// whose user may not delete is still good for every migration that does not. Neither checks the
// kinds only some namespaces have (see checkedOnApply).
func pairPermissions() []remote.Permission {
	var out []remote.Permission
	for _, k := range copier.Kinds() {
		if k.Optional || checkedOnApply(k) {
			continue
		}
		for _, verb := range applyVerbs {
			out = append(out, remote.Permission{Verb: verb, Resource: k.GroupResource()})
		}
	}
	return out
}

// migrationPermissions is what one run needs on the destination: applying its kinds in its
// namespaces (and the namespaces themselves), and, when it purges, listing and deleting them there.
// Asking for exactly this, namespace by namespace, lets a destination user confined to the
// migrated namespaces run migrations even when its pair cannot prove cluster-wide rights.
func migrationPermissions(kinds []copier.Kind, namespaces []string, purge bool) []remote.Permission {
	var out []remote.Permission
	for _, k := range kinds {
		if checkedOnApply(k) {
			continue
		}
		if k.IsNamespace() {
			for _, verb := range applyVerbs {
				out = append(out, remote.Permission{Verb: verb, Resource: k.GroupResource()})
			}
			continue
		}
		verbs := applyVerbs
		if purge {
			verbs = append(append([]string{}, applyVerbs...), purgeVerbs...)
		}
		for _, ns := range namespaces {
			for _, verb := range verbs {
				out = append(out, remote.Permission{Verb: verb, Resource: k.GroupResource(), Namespace: ns})
			}
		}
	}
	return out
}

// volumePermissions is what moving the volumes of a run needs on the destination, in each of its
// namespaces: the namespace and the PVC applied, the ReplicationDestination applied, read and
// deleted, and its key Secret read.
func volumePermissions(namespaces []string) []remote.Permission {
	var out []remote.Permission
	for _, verb := range applyVerbs {
		out = append(out, remote.Permission{Verb: verb, Resource: schema.GroupResource{Resource: "namespaces"}})
	}
	rd := schema.GroupResource{Group: "volsync.backube", Resource: "replicationdestinations"}
	for _, ns := range namespaces {
		for _, verb := range []string{"create", "get", "patch", "delete"} {
			out = append(out, remote.Permission{Verb: verb, Resource: rd, Namespace: ns})
		}
		out = append(out, remote.Permission{Verb: "get", Resource: schema.GroupResource{Resource: "secrets"}, Namespace: ns})
		for _, verb := range applyVerbs {
			out = append(out, remote.Permission{Verb: verb, Resource: schema.GroupResource{Resource: "persistentvolumeclaims"}, Namespace: ns})
		}
	}
	return out
}

// addPermissions appends to perms those of more it does not hold yet.
func addPermissions(perms, more []remote.Permission) []remote.Permission {
	for _, p := range more {
		if !slices.Contains(perms, p) {
			perms = append(perms, p)
		}
	}
	return perms
}

// checkedOnApply says whether the destination's permission for kind is left to the apply of each
// object instead of being checked before the run: custom resources (what kinds there are depends
// on the operators installed) and the cluster-scoped RBAC kinds, which few migrated namespaces
// have. A user of the pair that may not write them gets a failed entry, with the destination's
// words, for each object it may not write, and the rest of the run goes on.
func checkedOnApply(k copier.Kind) bool {
	return k.Definition != "" || (!k.Namespaced && !k.IsNamespace())
}
