package main

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/volsync/volsync/pkg/mover/rclone"
	"github.com/volsync/volsync/pkg/mover/restic"
	"github.com/volsync/volsync/pkg/mover/rsync"
	"github.com/volsync/volsync/pkg/mover/rsynctls"
	"github.com/volsync/volsync/pkg/mover/syncthing"
	"github.com/volsync/volsync/pkg/version"
)

// moverImageSetting is how one mover's image is chosen, under VolSync's names: a flag, then a
// RELATED_IMAGE_ variable (what OLM sets from a bundle's relatedImages), then --mover-image.
type moverImageSetting struct {
	mover string
	flag  string
	env   string
}

var moverImageSettings = []moverImageSetting{
	{rsync.MoverName, "rsync-container-image", "RELATED_IMAGE_RSYNC_CONTAINER"},
	{rsynctls.MoverName, "rsync-tls-container-image", "RELATED_IMAGE_RSYNC_TLS_CONTAINER"},
	{rclone.MoverName, "rclone-container-image", "RELATED_IMAGE_RCLONE_CONTAINER"},
	{restic.MoverName, "restic-container-image", "RELATED_IMAGE_RESTIC_CONTAINER"},
	{syncthing.MoverName, "syncthing-container-image", "RELATED_IMAGE_SYNCTHING_CONTAINER"},
}

// defaultMoverImage is the mover image of the same build as volsyncd: images are tagged with the
// build's version (see the Makefile and integration-test/cluster/images.sh), never "latest".
func defaultMoverImage() string {
	return "volsync-mover:" + imageTag(version.Version)
}

// imageTag makes a version a valid image tag: letters, digits, '_', '.' and '-', at most 128,
// not starting with '.' or '-'.
func imageTag(v string) string {
	var b strings.Builder
	for _, r := range v {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteRune('-')
		}
	}
	t := strings.TrimLeft(b.String(), ".-")
	if len(t) > 128 {
		t = t[:128]
	}
	if t == "" {
		return "dev"
	}
	return t
}

// addMoverImageFlags adds each mover's image flag; their values land in into, by mover.
func addMoverImageFlags(fs *pflag.FlagSet, into map[string]*string) {
	for _, s := range moverImageSettings {
		v := new(string)
		into[s.mover] = v
		help := fmt.Sprintf("container image of the %s mover; default $%s, else --mover-image", s.mover, s.env)
		fs.StringVar(v, s.flag, "", help)
	}
}

// moverImages resolves each mover's image: its flag when given, else its RELATED_IMAGE_ variable
// when set, else moverImage. Empty values count as not given.
func moverImages(flagValues map[string]*string, getenv func(string) string, moverImage string) map[string]string {
	out := map[string]string{}
	for _, s := range moverImageSettings {
		image := moverImage
		if v := strings.TrimSpace(getenv(s.env)); v != "" {
			image = v
		}
		if p := flagValues[s.mover]; p != nil && strings.TrimSpace(*p) != "" {
			image = strings.TrimSpace(*p)
		}
		out[s.mover] = image
	}
	return out
}

// parsePullSecrets reads --mover-image-pull-secrets as VolSync does: names separated by commas,
// empty entries skipped; each name once, in order.
func parsePullSecrets(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	return out
}
