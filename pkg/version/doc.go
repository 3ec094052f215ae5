// Package version holds the build's version, stamped by the linker (see the Makefile's LDFLAGS), so
// that volsyncd and volsyncctl report the same thing in logs, metrics and `volsyncctl version`.
package version
