package copier

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func TestNamespaceMappingDestination(t *testing.T) {
	m := NamespaceMapping{"app": "app-dr", "same": "same", "blank": ""}
	tests := []struct {
		name    string
		ns      string
		want    string
		renamed bool
	}{
		{"a mapped namespace gets its new name", "app", "app-dr", true},
		{"a namespace the mapping does not list keeps its name", "web", "web", false},
		{"a namespace mapped to itself keeps its name", "same", "same", false},
		{"an empty entry is no entry", "blank", "blank", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := m.Destination(tt.ns); got != tt.want {
				t.Errorf("Destination(%q) = %q, want %q", tt.ns, got, tt.want)
			}
			if got := m.Renamed(tt.ns); got != tt.renamed {
				t.Errorf("Renamed(%q) = %v, want %v", tt.ns, got, tt.renamed)
			}
		})
	}
	if got := NamespaceMapping(nil).Destination("app"); got != "app" {
		t.Errorf("no mapping gave %q for app", got)
	}
}

func TestCheckNamespaceMapping(t *testing.T) {
	tests := []struct {
		name       string
		namespaces []string
		mapping    NamespaceMapping
		wantErr    string // "" for none
	}{
		{"no mapping is fine", []string{"app"}, nil, ""},
		{"a namespace mapped to a new name is fine", []string{"app", "web"}, NamespaceMapping{"app": "app-dr"}, ""},
		{"two namespaces that swap names are fine", []string{"blue", "green"}, NamespaceMapping{"blue": "green", "green": "blue"}, ""},
		{"a namespace mapped to itself is fine", []string{"app"}, NamespaceMapping{"app": "app"}, ""},
		{"a namespace listed twice is still one namespace", []string{"app", "app"}, NamespaceMapping{"app": "app-dr"}, ""},
		{"a key that is not one of the namespaces is refused", []string{"app"}, NamespaceMapping{"db": "db-dr"},
			`namespace "db" is mapped but not migrated`},
		{"a value that is not a namespace name is refused", []string{"app"}, NamespaceMapping{"app": "App_DR"},
			`namespace "app" is mapped to "App_DR", which is not a namespace name`},
		{"two namespaces mapped to one are refused", []string{"app", "db"}, NamespaceMapping{"app": "dr", "db": "dr"},
			`namespaces "app" and "db" would both be migrated into namespace "dr"`},
		{"a namespace mapped onto one that keeps its name is refused", []string{"app", "db"}, NamespaceMapping{"app": "db"},
			`namespaces "app" and "db" would both be migrated into namespace "db"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckNamespaceMapping(tt.namespaces, tt.mapping)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error = %v, want one saying %q", err, tt.wantErr)
			}
		})
	}
}

func TestSelfOverwrites(t *testing.T) {
	src := map[string]types.UID{"app": "uid-app", "web": "uid-web"}
	tests := []struct {
		name        string
		namespaces  []string
		mapping     NamespaceMapping
		destination map[string]types.UID
		want        []SelfOverwrite
	}{
		{"another cluster's namespace of the same name is not the source's",
			[]string{"app"}, nil, map[string]types.UID{"app": "uid-elsewhere"}, nil},
		{"a destination without the namespace overwrites nothing",
			[]string{"app"}, nil, map[string]types.UID{}, nil},
		{"the same namespace of the same cluster is an overwrite",
			[]string{"app"}, nil, map[string]types.UID{"app": "uid-app"},
			[]SelfOverwrite{{Source: "app", Destination: "app"}}},
		{"a namespace mapped to itself on the same cluster is an overwrite",
			[]string{"app"}, NamespaceMapping{"app": "app"}, map[string]types.UID{"app": "uid-app"},
			[]SelfOverwrite{{Source: "app", Destination: "app"}}},
		{"a namespace mapped to a new name on the same cluster is fine",
			[]string{"app"}, NamespaceMapping{"app": "app-dr"}, map[string]types.UID{"app-dr": "uid-app-dr"}, nil},
		{"a namespace mapped onto another source namespace on the same cluster is an overwrite",
			[]string{"app", "web"}, NamespaceMapping{"app": "web", "web": "app"},
			map[string]types.UID{"web": "uid-web", "app": "uid-app"},
			[]SelfOverwrite{{Source: "app", Destination: "web"}, {Source: "web", Destination: "app"}}},
		{"a namespace listed twice is reported once",
			[]string{"app", "app"}, nil, map[string]types.UID{"app": "uid-app"},
			[]SelfOverwrite{{Source: "app", Destination: "app"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SelfOverwrites(tt.namespaces, tt.mapping, src, tt.destination)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SelfOverwrites = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSelfOverwriteSaysWhatToDo(t *testing.T) {
	same := SelfOverwrite{Source: "app", Destination: "app"}.Error()
	for _, want := range []string{`namespace "app"`, "source and destination are the same namespace of the same cluster", "spec.namespaceMapping"} {
		if !strings.Contains(same, want) {
			t.Errorf("%q does not say %q", same, want)
		}
	}
	other := SelfOverwrite{Source: "app", Destination: "web"}.Error()
	if !strings.Contains(other, `namespace "app" would be migrated into namespace "web", which this migration also migrates from`) {
		t.Errorf("%q does not say which namespaces", other)
	}
}
