package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// ObjectAddress is an object as the relationship verbs name it on the command line:
// [context/]namespace/name. An empty Context is the kubeconfig's current one (or --context).
type ObjectAddress struct {
	Context, Namespace, Name string
}

// String is the address as it was written.
func (a ObjectAddress) String() string {
	if a.Context == "" {
		return a.Namespace + "/" + a.Name
	}
	return a.Context + "/" + a.Namespace + "/" + a.Name
}

// ParseObjectAddress reads the value of flag (for messages) as [context/]namespace/name.
func ParseObjectAddress(flag, value string) (ObjectAddress, error) {
	hint := fmt.Sprintf("write it as namespace/name, or context/namespace/name for another kubeconfig context, such as --%s kind/source/datavol", flag)
	parts := strings.Split(value, "/")
	var a ObjectAddress
	switch len(parts) {
	case 2:
		a = ObjectAddress{Namespace: parts[0], Name: parts[1]}
	case 3:
		a = ObjectAddress{Context: parts[0], Namespace: parts[1], Name: parts[2]}
		if a.Context == "" {
			return a, Hint(fmt.Errorf("--%s %q has an empty context", flag, value), hint)
		}
	default:
		return a, Hint(fmt.Errorf("--%s %q is not [context/]namespace/name", flag, value), hint)
	}
	if len(validation.IsDNS1123Label(a.Namespace)) > 0 {
		return a, Hint(fmt.Errorf("--%s %q: %q is not a namespace name", flag, value, a.Namespace), hint)
	}
	if len(validation.IsDNS1123Subdomain(a.Name)) > 0 {
		return a, Hint(fmt.Errorf("--%s %q: %q is not an object name", flag, value, a.Name), hint)
	}
	return a, nil
}

// RelationshipType is what a relationship file holds, VolSync's plugin's "type" key.
type RelationshipType string

// The relationship types, each the verb that manages it.
const (
	ReplicationRelationship RelationshipType = "replication"
	MigrationRelationship   RelationshipType = "migration"
)

// RelationshipVersion is the data.version volsyncctl writes and reads: that of VolSync's plugin
// files of both types since it added rsync-tls.
const RelationshipVersion = 2

// relationshipName is what a relationship may be called: its file name, without the extension.
var relationshipName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// DefaultRelationshipDir is where relationship files live when --config-dir is not given:
// ~/.volsync, as in VolSync's plugin.
func DefaultRelationshipDir() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ".volsync"
	}
	return filepath.Join(home, ".volsync")
}

// Relationship is one relationship file: the objects a `replication -r NAME` or
// `migration -r NAME` manages, and how to make them. The file's layout is that of VolSync's
// plugin: type, id and data (version, isrsynctls, then the sides).
type Relationship struct {
	// Path is the file, Name the relationship's name (the file's base name).
	Path, Name string
	Type       RelationshipType
	// ID marks, in RelationshipLabel, the objects the relationship created.
	ID string
	// Replication is the data of a replication relationship, Migration that of a migration one.
	Replication *ReplicationRelationshipData
	Migration   *MigrationRelationshipData
}

// ReplicationRelationshipData is what a replication relationship records: each side as set by
// set-source and set-destination, nil until then.
type ReplicationRelationshipData struct {
	Version     int                         `json:"version"`
	IsRsyncTLS  bool                        `json:"isrsynctls"`
	Source      *ReplicationSourceSide      `json:"source,omitempty"`
	Destination *ReplicationDestinationSide `json:"destination,omitempty"`
}

// ReplicationSourceSide is the source of a replication relationship: the PVC to replicate and
// the ReplicationSource (and its copy of the ssh keys, of the same name) that sends it.
type ReplicationSourceSide struct {
	// Cluster is the kubeconfig context, "" for the current one (VolSync's key name).
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	PVCName   string `json:"pvcname"`
	RSName    string `json:"rsname"`
	// VolumeOptions are the ReplicationSource's; Trigger is its last schedule or manual trigger.
	VolumeOptions volsyncv1alpha1.ReplicationSourceVolumeOptions `json:"replicationsourcevolumeoptions"`
	Trigger       volsyncv1alpha1.ReplicationTriggerSpec         `json:"trigger"`
}

// ReplicationDestinationSide is the destination of a replication relationship.
type ReplicationDestinationSide struct {
	Cluster       string                                              `json:"cluster"`
	Namespace     string                                              `json:"namespace"`
	RDName        string                                              `json:"rdname"`
	VolumeOptions volsyncv1alpha1.ReplicationDestinationVolumeOptions `json:"replicationdestinationvolumeoptions"`
	ServiceType   *corev1.ServiceType                                 `json:"servicetype,omitempty"`
}

// MigrationRelationshipData is what a migration relationship records: the PVC data is copied into
// and the ReplicationDestination that receives it.
type MigrationRelationshipData struct {
	Version     int                       `json:"version"`
	IsRsyncTLS  bool                      `json:"isrsynctls"`
	Destination *MigrationDestinationSide `json:"destination,omitempty"`
}

// MigrationDestinationSide is the receiving end of a migration relationship.
type MigrationDestinationSide struct {
	Cluster     string                         `json:"cluster"`
	Namespace   string                         `json:"namespace"`
	PVCName     string                         `json:"pvcname"`
	RDName      string                         `json:"rdname"`
	ServiceType *corev1.ServiceType            `json:"servicetype,omitempty"`
	CopyMethod  volsyncv1alpha1.CopyMethodType `json:"copymethod"`
}

// relationshipFile is the file as stored.
type relationshipFile struct {
	Type RelationshipType `json:"type"`
	ID   string           `json:"id"`
	Data json.RawMessage  `json:"data,omitempty"`
}

// relationshipPath checks the name and returns the file of that relationship in dir.
func relationshipPath(dir, name string, typ RelationshipType) (string, error) {
	if !relationshipName.MatchString(name) {
		return "", Hint(fmt.Errorf("relationship name %q is not a plain file name", name),
			fmt.Sprintf("use letters, digits, '.', '_' and '-', such as 'volsyncctl %s -r example create'", typ))
	}
	return filepath.Join(dir, name+".yaml"), nil
}

// NewRelationship makes a new, unsaved relationship of typ named name in dir, with a new id. It
// fails when a file of that name exists, whatever it holds.
func NewRelationship(dir, name string, typ RelationshipType) (*Relationship, error) {
	path, err := relationshipPath(dir, name, typ)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err == nil {
		return nil, Hint(fmt.Errorf("relationship %q already exists (%s)", name, path),
			fmt.Sprintf("pick another name, or remove it first with 'volsyncctl %s -r %s delete'", typ, name))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, Hint(fmt.Errorf("relationship %q: %w", name, err), "check --config-dir")
	}
	r := &Relationship{Path: path, Name: name, Type: typ, ID: string(uuid.NewUUID())}
	switch typ {
	case ReplicationRelationship:
		r.Replication = &ReplicationRelationshipData{Version: RelationshipVersion}
	case MigrationRelationship:
		r.Migration = &MigrationRelationshipData{Version: RelationshipVersion}
	}
	return r, nil
}

// LoadRelationship reads the relationship name of typ from dir. A missing file, a file of the
// other type, of another version, or of rsync-tls is an error that says what to do.
func LoadRelationship(dir, name string, typ RelationshipType) (*Relationship, error) {
	path, err := relationshipPath(dir, name, typ)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Hint(fmt.Errorf("relationship %q not found: there is no %s", name, path),
			fmt.Sprintf("create it with 'volsyncctl %s -r %s create', or pass the --config-dir it was created in", typ, name))
	} else if err != nil {
		return nil, Hint(fmt.Errorf("relationship %q: %w", name, err), "check --config-dir")
	}
	return parseRelationship(path, name, typ, data)
}

func parseRelationship(path, name string, typ RelationshipType, data []byte) (*Relationship, error) {
	broken := func(err error) error {
		return Hint(fmt.Errorf("relationship file %s: %w", path, err),
			fmt.Sprintf("fix the file, or remove it and create the relationship again with 'volsyncctl %s -r %s create'", typ, name))
	}
	var f relationshipFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, broken(fmt.Errorf("not YAML: %w", err))
	}
	if f.Type != typ {
		if f.Type == ReplicationRelationship || f.Type == MigrationRelationship {
			return nil, Hint(fmt.Errorf("relationship %q is a %s relationship, not a %s one", name, f.Type, typ),
				fmt.Sprintf("manage it with 'volsyncctl %s -r %s ...'", f.Type, name))
		}
		return nil, broken(fmt.Errorf("type %q is neither replication nor migration", f.Type))
	}
	if len(validation.IsValidLabelValue(f.ID)) > 0 || f.ID == "" {
		return nil, broken(fmt.Errorf("id %q is not a relationship id", f.ID))
	}
	var head struct {
		Version    int  `json:"version"`
		IsRsyncTLS bool `json:"isrsynctls"`
	}
	if err := json.Unmarshal(orEmpty(f.Data), &head); err != nil {
		return nil, broken(fmt.Errorf("data: %w", err))
	}
	if head.Version != RelationshipVersion {
		return nil, Hint(fmt.Errorf("relationship file %s has data.version %d; this volsyncctl reads version %d", path, head.Version, RelationshipVersion),
			fmt.Sprintf("delete the relationship with the tool that wrote it, then create it again with 'volsyncctl %s -r %s create'", typ, name))
	}
	if head.IsRsyncTLS {
		return nil, Hint(fmt.Errorf("relationship %q uses rsync-tls, which volsyncctl relationships do not support", name),
			fmt.Sprintf("manage it with the tool that created it, or delete it and create it again with 'volsyncctl %s -r %s create'", typ, name))
	}
	r := &Relationship{Path: path, Name: name, Type: typ, ID: f.ID}
	var err error
	switch typ {
	case ReplicationRelationship:
		r.Replication = &ReplicationRelationshipData{}
		err = json.Unmarshal(f.Data, r.Replication)
	case MigrationRelationship:
		r.Migration = &MigrationRelationshipData{}
		err = json.Unmarshal(f.Data, r.Migration)
	}
	if err != nil {
		return nil, broken(fmt.Errorf("data: %w", err))
	}
	return r, nil
}

func orEmpty(data json.RawMessage) []byte {
	if len(data) == 0 {
		return []byte("{}")
	}
	return data
}

// Save writes the relationship's file, creating its directory. The file is replaced whole (a
// new file renamed over the old one), so an interrupted save leaves the previous file intact.
func (r *Relationship) Save() error {
	var data any = r.Replication
	if r.Type == MigrationRelationship {
		data = r.Migration
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	out, err := yaml.Marshal(relationshipFile{Type: r.Type, ID: r.ID, Data: raw})
	if err != nil {
		return err
	}
	dir := filepath.Dir(r.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Hint(fmt.Errorf("saving relationship %q: %w", r.Name, err), "check --config-dir")
	}
	tmp, err := os.CreateTemp(dir, "."+r.Name+".yaml-")
	if err != nil {
		return Hint(fmt.Errorf("saving relationship %q: %w", r.Name, err), "check --config-dir")
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(out); err != nil {
		tmp.Close()
		return fmt.Errorf("saving relationship %q: %w", r.Name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving relationship %q: %w", r.Name, err)
	}
	if err := os.Rename(tmp.Name(), r.Path); err != nil {
		return fmt.Errorf("saving relationship %q: %w", r.Name, err)
	}
	return nil
}

// Remove deletes the relationship's file; one already gone is no error.
func (r *Relationship) Remove() error {
	if err := os.Remove(r.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing relationship file %s: %w", r.Path, err)
	}
	return nil
}

// ParseAccessMode reads one PVC access mode, as Kubernetes spells it.
func ParseAccessMode(v string) (corev1.PersistentVolumeAccessMode, bool) {
	switch m := corev1.PersistentVolumeAccessMode(strings.TrimSpace(v)); m {
	case corev1.ReadWriteOnce, corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOncePod:
		return m, true
	}
	return "", false
}

// ParseAccessModes reads the value of flag (a list), failing on the first unknown mode.
func ParseAccessModes(flag string, values []string) ([]corev1.PersistentVolumeAccessMode, error) {
	var modes []corev1.PersistentVolumeAccessMode
	for _, v := range values {
		m, ok := ParseAccessMode(v)
		if !ok {
			return nil, Hint(fmt.Errorf("--%s: %q is not an access mode", flag, v), "use ReadWriteOnce, ReadOnlyMany, ReadWriteMany or ReadWriteOncePod")
		}
		modes = append(modes, m)
	}
	return modes, nil
}

// ParseCopyMethod reads the value of flag: None, Direct, Snapshot, and for a source also Clone, in
// any case.
func ParseCopyMethod(flag, v string, source bool) (volsyncv1alpha1.CopyMethodType, error) {
	m, err := copyMethod(v, source)
	if err == nil && m == "" {
		err = errors.New("the copy method is empty")
	}
	if err != nil {
		use := "use None, Direct or Snapshot"
		if source {
			use = "use Clone, Snapshot, None or Direct"
		}
		return "", Hint(fmt.Errorf("--%s: %w", flag, err), use)
	}
	return m, nil
}

// ParseCapacity reads the value of flag as a positive size; "" is nil.
func ParseCapacity(flag, v string) (*resource.Quantity, error) {
	if v == "" {
		return nil, nil
	}
	q, err := resource.ParseQuantity(v)
	if err != nil || q.Sign() <= 0 {
		return nil, Hint(fmt.Errorf("--%s %q is not a size", flag, v), "use a quantity such as 10Gi")
	}
	return &q, nil
}

// ParseServiceType reads the value of flag: ClusterIP or LoadBalancer, what a destination may
// listen on.
func ParseServiceType(flag, v string) (corev1.ServiceType, error) {
	t := corev1.ServiceType(v)
	if t != corev1.ServiceTypeClusterIP && t != corev1.ServiceTypeLoadBalancer {
		return "", Hint(fmt.Errorf("--%s %q is not a service type", flag, v), "use ClusterIP or LoadBalancer")
	}
	return t, nil
}

// ValidCronSpec says whether admission takes s as a schedule.
func ValidCronSpec(s string) bool { return cronPattern.MatchString(s) }
