package rsync

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
)

// IdentityEnv returns the environment that lets OpenSSH run unprivileged under the current user id
// with login names of our choosing, or nil when none is needed.
//
// OpenSSH looks the running user up in the user database: the client refuses to start under a
// user id without an entry ("No user exists for uid"), and an unprivileged sshd admits only the
// login name of the user that runs it. Movers run under arbitrary user ids (OpenShift picks one
// per namespace), and the source logs in as SSH_USER (default root). libnss_wrapper, preloaded,
// answers those look-ups from files in dir instead: each of logins maps to the current user id.
// Without libnss_wrapper installed, nil is returned and OpenSSH sees the real user database.
func IdentityEnv(dir string, logins ...string) ([]string, error) {
	lib := nssWrapperLibrary()
	if lib == "" {
		return nil, nil
	}
	uid, gid := os.Getuid(), os.Getgid()
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		logins = append(logins, u.Username)
	}
	if len(logins) == 0 {
		logins = []string{"volsync"}
	}
	var passwd, group string
	seen := map[string]bool{}
	for _, l := range logins {
		if l == "" || seen[l] {
			continue
		}
		seen[l] = true
		passwd += fmt.Sprintf("%s:x:%d:%d:volsync mover:%s:/bin/sh\n", l, uid, gid, dir)
	}
	group = fmt.Sprintf("volsync:x:%d:\n", gid)
	pw, gr := filepath.Join(dir, "passwd"), filepath.Join(dir, "group")
	if err := os.WriteFile(pw, []byte(passwd), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(gr, []byte(group), 0o644); err != nil {
		return nil, err
	}
	return []string{"LD_PRELOAD=" + lib, "NSS_WRAPPER_PASSWD=" + pw, "NSS_WRAPPER_GROUP=" + gr}, nil
}

// hasUserEntry reports whether the current user id has an entry in the user database.
func hasUserEntry() bool {
	_, err := user.LookupId(strconv.Itoa(os.Getuid()))
	return err == nil
}

func nssWrapperLibrary() string {
	for _, pattern := range []string{"/usr/lib/*/libnss_wrapper.so", "/usr/lib64/libnss_wrapper.so", "/usr/lib/libnss_wrapper.so"} {
		if m, _ := filepath.Glob(pattern); len(m) > 0 {
			return m[0]
		}
	}
	return ""
}
