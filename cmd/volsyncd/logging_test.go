package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestNewLogger(t *testing.T) {
	for _, tc := range []struct {
		name, level, format string
		wantErr             string
		wantInfo, wantDebug bool
	}{
		{"info in json hides debug lines", "info", "json", "", true, false},
		{"debug shows V(1) lines", "debug", "text", "", true, true},
		{"warn hides info lines", "warn", "json", "", false, false},
		{"an unknown level names the accepted ones", "loud", "json", "debug, info, warn, error", false, false},
		{"an unknown format names the accepted ones", "info", "xml", "json, text", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			log, err := newLogger(&b, tc.level, tc.format)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("newLogger error = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			log.Info("info line", "key", "value")
			log.V(1).Info("debug line")
			if got := strings.Contains(b.String(), "info line"); got != tc.wantInfo {
				t.Errorf("info line written = %v, want %v:\n%s", got, tc.wantInfo, b.String())
			}
			if got := strings.Contains(b.String(), "debug line"); got != tc.wantDebug {
				t.Errorf("debug line written = %v, want %v:\n%s", got, tc.wantDebug, b.String())
			}
			if tc.format == "json" && tc.wantInfo {
				var m map[string]any
				first := strings.SplitN(b.String(), "\n", 2)[0]
				if err := json.Unmarshal([]byte(first), &m); err != nil || m["key"] != "value" {
					t.Errorf("json line %q: %v, fields %v", first, err, m)
				}
			}
		})
	}
}
