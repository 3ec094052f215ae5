package rclone

import (
	"os"
	"strings"

	"github.com/volsync/volsync/pkg/mover/entrypoint"
)

// settingsEnv are the variables of an rclone mover's environment that are its settings: those the
// controller sets (mover.go) and the entry point's own knobs. Any other variable's value is
// masked (the Job passes no Secret through the environment today, so this is only a safety net).
var settingsEnv = []string{
	"RCLONE_CONFIG", "RCLONE_CONFIG_SECTION", "RCLONE_DEST_PATH", "CUSTOM_CA",
	"DATA_DIR", "RCLONE_BIN", "RCLONE_TRANSFERS", "CONNECT_TIMEOUT", "TERMINATION_LOG",
}

// plainConfigKeys are the rclone.conf keys whose values are no secret: the backend's and the
// provider's names, words from rclone's own vocabulary that its messages use.
var plainConfigKeys = []string{"type", "provider"}

// learnSecrets gives the process's masker every value of the rclone config file at config (the
// rcloneConfig Secret's rclone.conf: keys, passwords, tokens, endpoints, whatever the keys are
// called, in every section) and of every variable of environ that is not a setting. A config that
// cannot be read is reported by parseEntryConfig.
func learnSecrets(environ []string, config string) {
	entrypoint.AddSecrets(entrypoint.SecretEnvValues(environ, settingsEnv...)...)
	if config == "" {
		return
	}
	if b, err := os.ReadFile(config); err == nil {
		entrypoint.AddSecrets(entrypoint.ConfigFileValues(string(b), plainConfigKeys...)...)
	}
}

// lookupEnv is getenv over environ: the last NAME=value wins, as in os.Getenv.
func lookupEnv(environ []string) func(string) string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return func(k string) string { return m[k] }
}
