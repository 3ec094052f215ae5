package schedule

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

const (
	// maxNameLength is the longest DNS subdomain name, the limit on object names.
	maxNameLength = 253
	// childTimeLayout is the scheduled time in a child's name (seed: ...-daily-2019-02-14-221651).
	childTimeLayout = "2006-01-02-150405"
	// ownerHashLength is how many hex digits of the owner's hash replace what truncation cut off.
	ownerHashLength = 10
)

// ChildName is the name of the dated child an owner creates for one trigger:
// "<owner>-<type>-<YYYY-MM-DD-HHMMSS>", with the type in lower case and the scheduled time in UTC.
// Deriving it from the scheduled time (not from when the controller got round to it) is what makes
// creation idempotent: after a crash or a retry the second create gets AlreadyExists instead of
// making a duplicate.
//
// owner must be a valid object name. When the result would exceed the 253 characters of a DNS
// subdomain name, the owner part is cut short and followed by a hash of the full owner name, so
// two long owners that share a prefix still get different children.
func ChildName(owner string, t Type, scheduled time.Time) string {
	suffix := "-" + strings.ToLower(string(t)) + "-" + scheduled.UTC().Format(childTimeLayout)
	if len(owner)+len(suffix) <= maxNameLength {
		return owner + suffix
	}
	sum := sha256.Sum256([]byte(owner))
	hash := hex.EncodeToString(sum[:])[:ownerHashLength]
	keep := max(maxNameLength-len(suffix)-len(hash)-1, 0)
	// A cut that ends in '-' or '.' would leave "x.-hash", which is not a valid name.
	prefix := strings.TrimRight(owner[:min(keep, len(owner))], "-.")
	if prefix == "" {
		return hash + suffix
	}
	return prefix + "-" + hash + suffix
}
