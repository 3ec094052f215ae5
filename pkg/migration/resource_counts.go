package migration

import (
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// The Applications stage accounts for every object in status.resourceCounts and lists only some
// of them in status.resources: a namespace of tens of thousands of objects would otherwise make
// the Migration larger than the API server stores (1.5 MiB by default), and every checkpoint a
// rewrite of all of it. What a person needs to read by name is what went wrong, so failures
// and objects left alone with a reason keep their place in the list; successful copies fill
// what room is left.

// recordResources counts entries and lists them while there is room, up to limit entries.
func recordResources(st *volsyncv1alpha1.MigrationStatus, entries []volsyncv1alpha1.MigrationResourceInfo, limit int) {
	for _, e := range entries {
		addCount(st, e.Group, e.Kind, e.Status, 1)
		listResource(st, e, limit)
	}
}

// listResource lists e if there is room, or if e needs reading and a plain success can make
// room for it; otherwise it is only counted as not listed.
func listResource(st *volsyncv1alpha1.MigrationStatus, e volsyncv1alpha1.MigrationResourceInfo, limit int) {
	if len(st.Resources) < limit {
		st.Resources = append(st.Resources, e)
		return
	}
	if !noteworthy(e) {
		st.ResourcesNotListed++
		return
	}
	for i := len(st.Resources) - 1; i >= 0; i-- {
		if !noteworthy(st.Resources[i]) {
			st.Resources = append(st.Resources[:i], st.Resources[i+1:]...)
			st.Resources = append(st.Resources, e)
			st.ResourcesNotListed++ // the success pushed out
			return
		}
	}
	st.ResourcesNotListed++ // the list is all failures already
}

// noteworthy says whether an entry tells more than its count: a failure, or a reason.
func noteworthy(e volsyncv1alpha1.MigrationResourceInfo) bool {
	return e.Status != volsyncv1alpha1.RunStatusSuccessful || e.Reason != ""
}

// replaceResource records e in place of an earlier entry of the same object, when the list
// still holds one (the purge runs again after a retry), moving its count; otherwise as new.
func replaceResource(st *volsyncv1alpha1.MigrationStatus, e volsyncv1alpha1.MigrationResourceInfo, limit int) {
	for i, r := range st.Resources {
		if r.Group == e.Group && r.Kind == e.Kind && r.Namespace == e.Namespace && r.Name == e.Name {
			addCount(st, r.Group, r.Kind, r.Status, -1)
			addCount(st, e.Group, e.Kind, e.Status, 1)
			st.Resources[i] = e
			return
		}
	}
	recordResources(st, []volsyncv1alpha1.MigrationResourceInfo{e}, limit)
}

// addCount adds n to the count of group/kind with status, dropping a count that reaches zero.
func addCount(st *volsyncv1alpha1.MigrationStatus, group, kind string, status volsyncv1alpha1.RunStatus, n int64) {
	for i := range st.ResourceCounts {
		c := &st.ResourceCounts[i]
		if c.Group == group && c.Kind == kind && c.Status == status {
			c.Count += n
			if c.Count <= 0 {
				st.ResourceCounts = append(st.ResourceCounts[:i], st.ResourceCounts[i+1:]...)
			}
			return
		}
	}
	if n > 0 {
		st.ResourceCounts = append(st.ResourceCounts, volsyncv1alpha1.MigrationResourceCount{Group: group, Kind: kind, Status: status, Count: n})
	}
}

// resourceCounts are the counts of st. A status written before the counts existed (by an older
// volsyncd, mid-run) has only its full list, which counts itself.
func resourceCounts(st *volsyncv1alpha1.MigrationStatus) []volsyncv1alpha1.MigrationResourceCount {
	if len(st.ResourceCounts) > 0 || len(st.Resources) == 0 {
		return st.ResourceCounts
	}
	derived := &volsyncv1alpha1.MigrationStatus{}
	for _, r := range st.Resources {
		addCount(derived, r.Group, r.Kind, r.Status, 1)
	}
	return derived.ResourceCounts
}

// kindRecorded says whether an earlier pass of the run recorded objects of group/kind.
func kindRecorded(st *volsyncv1alpha1.MigrationStatus, group, kind string) bool {
	for _, c := range resourceCounts(st) {
		if c.Group == group && c.Kind == kind {
			return true
		}
	}
	return false
}

// resourceTotals are how many objects were considered and how many were copied.
func resourceTotals(st *volsyncv1alpha1.MigrationStatus) (total, migrated int64) {
	for _, c := range resourceCounts(st) {
		total += c.Count
		if c.Status == volsyncv1alpha1.RunStatusSuccessful {
			migrated += c.Count
		}
	}
	return total, migrated
}
