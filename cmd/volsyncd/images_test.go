package main

import (
	"reflect"
	"testing"

	"github.com/volsync/volsync/pkg/version"
)

// parse runs volsyncd's command line parser over args and resolves the images with env.
func parse(t *testing.T, env map[string]string, args ...string) (flags, Options) {
	t.Helper()
	cmd := newRootCommand()
	cmd.RunE = nil
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	// newRootCommand's RunE closes over its flags; read them back through the flag set.
	f := flags{moverImageFlags: map[string]*string{}}
	fs := cmd.Flags()
	f.moverImage, _ = fs.GetString("mover-image")
	for _, s := range moverImageSettings {
		v, _ := fs.GetString(s.flag)
		f.moverImageFlags[s.mover] = &v
	}
	f.pullSecrets, _ = fs.GetString("mover-image-pull-secrets")
	f.pullSecretsNamespace, _ = fs.GetString("pull-secrets-namespace")
	getenv := func(k string) string { return env[k] }
	return f, Options{MoverImage: f.moverImage, MoverImages: moverImages(f.moverImageFlags, getenv, f.moverImage)}
}

func TestMoverImagesFlagThenEnvThenMoverImage(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want map[string]string
	}{
		{
			name: "without settings every mover runs the mover image of volsyncd's version",
			want: map[string]string{"rsync": "volsync-mover:" + version.Version, "rsync-tls": "volsync-mover:" + version.Version,
				"rclone": "volsync-mover:" + version.Version, "restic": "volsync-mover:" + version.Version},
		},
		{
			name: "--mover-image is every mover's",
			args: []string{"--mover-image=reg.example/mover:v1"},
			want: map[string]string{"rsync": "reg.example/mover:v1", "rsync-tls": "reg.example/mover:v1", "rclone": "reg.example/mover:v1", "restic": "reg.example/mover:v1"},
		},
		{
			name: "a RELATED_IMAGE_ variable overrides --mover-image for its mover only",
			env:  map[string]string{"RELATED_IMAGE_RESTIC_CONTAINER": "reg.example/restic:v2", "RELATED_IMAGE_RSYNC_TLS_CONTAINER": "reg.example/tls:v2"},
			args: []string{"--mover-image=reg.example/mover:v1"},
			want: map[string]string{"rsync": "reg.example/mover:v1", "rsync-tls": "reg.example/tls:v2", "rclone": "reg.example/mover:v1", "restic": "reg.example/restic:v2"},
		},
		{
			name: "a flag overrides its variable and --mover-image",
			env:  map[string]string{"RELATED_IMAGE_RSYNC_CONTAINER": "reg.example/rsync:env", "RELATED_IMAGE_RCLONE_CONTAINER": "reg.example/rclone:env"},
			args: []string{"--mover-image=reg.example/mover:v1", "--rsync-container-image=reg.example/rsync:flag"},
			want: map[string]string{"rsync": "reg.example/rsync:flag", "rsync-tls": "reg.example/mover:v1", "rclone": "reg.example/rclone:env", "restic": "reg.example/mover:v1"},
		},
		{
			name: "every flag of VolSync's is accepted, empty values count as not given",
			env:  map[string]string{"RELATED_IMAGE_RCLONE_CONTAINER": "  "},
			args: []string{"--rsync-container-image=a:1", "--rsync-tls-container-image=b:1", "--rclone-container-image=",
				"--restic-container-image=d:1", "--syncthing-container-image=e:1", "--mover-image=m:1"},
			want: map[string]string{"rsync": "a:1", "rsync-tls": "b:1", "rclone": "m:1", "restic": "d:1"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, o := parse(t, tc.env, tc.args...)
			got := map[string]string{}
			for m := range tc.want {
				got[m] = o.image(m)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("images %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMoverImagePullSecrets(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "volsync-system")
	f, _ := parse(t, nil, "--mover-image-pull-secrets=regcred, other,,regcred")
	if got, want := parsePullSecrets(f.pullSecrets), []string{"regcred", "other"}; !reflect.DeepEqual(got, want) {
		t.Errorf("pull secrets %v, want %v", got, want)
	}
	if f.pullSecretsNamespace != "volsync-system" {
		t.Errorf("pull secrets namespace %q, want volsyncd's own", f.pullSecretsNamespace)
	}
	f, _ = parse(t, nil, "--pull-secrets-namespace=registry-creds")
	if f.pullSecretsNamespace != "registry-creds" || parsePullSecrets(f.pullSecrets) != nil {
		t.Errorf("namespace %q, secrets %v", f.pullSecretsNamespace, parsePullSecrets(f.pullSecrets))
	}
}

func TestImageTag(t *testing.T) {
	for in, want := range map[string]string{
		"v0.3.1": "v0.3.1", "ddcb214-dirty": "ddcb214-dirty", "v1.0.0+build.5": "v1.0.0-build.5", "": "dev", "-x": "x",
	} {
		if got := imageTag(in); got != want {
			t.Errorf("imageTag(%q) = %q, want %q", in, got, want)
		}
	}
}
