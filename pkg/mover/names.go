package mover

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// maxLabelValue is the longest label value; a Job's name becomes its pods' job-name label, so
// names of objects movers create keep to it.
const maxLabelValue = 63

// ObjectName is the name of an object a mover creates for an owner: "volsync-<what>-<owner>". When
// that would exceed 63 characters, the owner part is cut and followed by a hash of the whole name,
// so two long owners never share objects.
func ObjectName(what, owner string) string {
	name := VolSyncPrefix + what + "-" + owner
	if len(name) <= maxLabelValue {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	hash := hex.EncodeToString(sum[:])[:8]
	return strings.TrimRight(name[:maxLabelValue-len(hash)-1], "-.") + "-" + hash
}
