package mover

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// maxLabelValue is the longest label value; a Job's name becomes its pods' job-name label, so
// names of objects movers create keep to it.
const maxLabelValue = 63

// maxObjectName is the longest name of an object that is not also a label value, such as a PVC.
const maxObjectName = 253

// PVCName is the name of a PVC a mover creates for an owner, VolSync's way:
// "volsync-<owner>-<what>" (VolSync's "volsync-<rd>-dst"), or "volsync-<what>-<owner>-<suffix>"
// with a suffix. A PVC's name is not a label value, so only past 253 characters is it cut and
// hashed, as ObjectName does at 63.
func PVCName(parts ...string) string {
	return shorten(VolSyncPrefix+strings.Join(parts, "-"), maxObjectName)
}

// LabelName is "volsync-<parts joined by dashes>", VolSync's way of naming an object such as
// "volsync-<rs>-data", cut and hashed past 63 characters like ObjectName: for objects whose names
// must be DNS labels (Services) or become label values (a Deployment's pods).
func LabelName(parts ...string) string {
	return shorten(VolSyncPrefix+strings.Join(parts, "-"), maxLabelValue)
}

// ObjectName is the name of an object a mover creates for an owner: "volsync-<what>-<owner>". When
// that would exceed 63 characters, the owner part is cut and followed by a hash of the whole name,
// so two long owners never share objects.
func ObjectName(what, owner string) string {
	return shorten(VolSyncPrefix+what+"-"+owner, maxLabelValue)
}

// shorten cuts name to limit characters, ending it with a hash of the whole name, so that two long
// names never become one.
func shorten(name string, limit int) string {
	if len(name) <= limit {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	hash := hex.EncodeToString(sum[:])[:8]
	return strings.TrimRight(name[:limit-len(hash)-1], "-.") + "-" + hash
}
