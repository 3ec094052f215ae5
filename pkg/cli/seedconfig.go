package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// cronPattern is what admission accepts as a schedule, checked here so that a bad one stops the
// workflow before it writes anything.
var cronPattern = regexp.MustCompile(volsyncv1alpha1.CronPattern)

// SeedConfigFile is the name of the replication workflow's options file (start-replication,
// set-replication, continue-replication, remove-replication).
const SeedConfigFile = "config.yaml"

// SeedKey is one option of the replication workflow: a key of config.yaml and a flag of the same
// name.
type SeedKey struct {
	Name  string
	Usage string
}

// SeedKeys are the options of the replication workflow, with the names of the Scribe plugin's
// config.yaml, so that a config written for it works unchanged.
var SeedKeys = []SeedKey{
	{"dest-address", "address the source connects to; default the destination's status.rsync.address"},
	{"dest-name", "name of the ReplicationDestination; default <dest-namespace>-destination"},
	{"dest-namespace", "namespace of the destination; default the namespace of dest-kube-context, else \"default\""},
	{"dest-kube-context", "kubeconfig context of the destination cluster; default the current context"},
	{"dest-kube-clustername", "kubeconfig cluster dest-kube-context must point at (picks the context when dest-kube-context is unset)"},
	{"dest-access-mode", "access mode of the destination volume: ReadWriteOnce, ReadOnlyMany or ReadWriteMany"},
	{"dest-capacity", "capacity of the destination volume; default that of source-pvc"},
	{"dest-cron-spec", "cron schedule of the destination; default none (always listening)"},
	{"dest-pvc", "existing PVC to write into; default one volsync provisions"},
	{"dest-service-type", "Service type the destination listens on: ClusterIP (default) or LoadBalancer"},
	{"dest-ssh-user", "ssh user on the destination; default root"},
	{"dest-storage-class-name", "storage class of the destination volume; default the cluster's default"},
	{"dest-volume-snapshot-class-name", "volume snapshot class of the destination; default the cluster's default"},
	{"dest-copy-method", "what the destination keeps of each sync: None (the volume itself) or Snapshot"},
	{"dest-port", "ssh port the source connects to; default the destination's status.rsync.port, else 22"},
	{"dest-provider", "external replication provider (not supported: the workflow uses rsync)"},
	{"dest-provider-params", "parameters of dest-provider (not supported)"},
	{"dest-path", "path on the destination volume to write into; default /"},
	{"source-name", "name of the ReplicationSource; default <source-namespace>-source"},
	{"source-namespace", "namespace of source-pvc; default the namespace of source-kube-context, else \"default\""},
	{"source-kube-context", "kubeconfig context of the source cluster; default the current context"},
	{"source-kube-clustername", "kubeconfig cluster source-kube-context must point at (picks the context when source-kube-context is unset)"},
	{"source-access-mode", "access mode of the source's point-in-time copy; default that of source-pvc"},
	{"source-capacity", "capacity of the source's point-in-time copy; default that of source-pvc"},
	{"source-cron-spec", "cron schedule of the source; default \"*/3 * * * *\""},
	{"source-pvc", "name of the existing PVC to replicate (required)"},
	{"source-service-type", "Service type of the source when it listens (unused: the source connects to the destination)"},
	{"source-ssh-user", "ssh user of the source (unused: the source connects to the destination)"},
	{"source-storage-class-name", "storage class of the source's point-in-time copy; default that of source-pvc"},
	{"source-volume-snapshot-class-name", "volume snapshot class of the source's point-in-time copy"},
	{"source-copy-method", "how the source copies source-pvc before each sync: None, Clone or Snapshot"},
	{"source-port", "port of the source when it listens (unused: the source connects to the destination)"},
	{"source-provider", "external replication provider (not supported: the workflow uses rsync)"},
	{"source-provider-params", "parameters of source-provider (not supported)"},
	{"ssh-keys-secret", "name of the ssh keys Secret copied into source-namespace; default the name the destination publishes"},
}

// DefaultSourceCronSpec is the source's schedule when source-cron-spec is not given, as in the
// Scribe plugin.
const DefaultSourceCronSpec = "*/3 * * * *"

// SeedConfigPaths are where the workflow looks for its options when --config is not given, in
// order: the current directory, then ~/.volsyncconfig, then the Scribe plugin's ~/.scribeconfig.
func SeedConfigPaths() []string {
	paths := []string{SeedConfigFile}
	if home, err := os.UserHomeDir(); err == nil {
		paths = append(paths, filepath.Join(home, ".volsyncconfig", SeedConfigFile), filepath.Join(home, ".scribeconfig", SeedConfigFile))
	}
	return paths
}

// ReadSeedConfig reads the options file: explicit (--config) when given, else the first of
// SeedConfigPaths that exists. It returns the values and the path it read ("" when there was
// none). Unknown keys and values that are not scalars are errors that name the file.
func ReadSeedConfig(explicit string) (map[string]string, string, error) {
	paths := SeedConfigPaths()
	if explicit != "" {
		paths = []string{explicit}
	}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) && explicit == "" {
			continue
		}
		if err != nil {
			return nil, "", Hint(fmt.Errorf("reading --config %s: %w", path, err), "check the --config path")
		}
		values, err := parseSeedConfig(data)
		if err != nil {
			return nil, "", Hint(fmt.Errorf("config file %s: %w", path, err), "fix the file: one key: value per line, keys as in 'volsyncctl start-replication --help'")
		}
		return values, path, nil
	}
	return map[string]string{}, "", nil
}

func parseSeedConfig(data []byte) (map[string]string, error) {
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("not YAML key: value pairs: %w", err)
	}
	known := map[string]bool{}
	for _, k := range SeedKeys {
		known[k.Name] = true
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	values := map[string]string{}
	for _, k := range keys {
		if !known[k] {
			msg := fmt.Sprintf("unknown key %q", k)
			if s := SuggestSeedKey(k); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			return nil, errors.New(msg)
		}
		switch v := raw[k].(type) {
		case nil:
			values[k] = ""
		case string:
			values[k] = strings.TrimSpace(v)
		case bool:
			values[k] = strconv.FormatBool(v)
		case float64:
			values[k] = strconv.FormatFloat(v, 'f', -1, 64)
		default:
			return nil, fmt.Errorf("key %q: the value must be a string or a number, not %T", k, v)
		}
	}
	return values, nil
}

// SuggestSeedKey is the known key closest to a misspelt one, or "".
func SuggestSeedKey(key string) string {
	best, bestDist := "", 4
	for _, k := range SeedKeys {
		if d := editDistance(key, k.Name); d < bestDist {
			best, bestDist = k.Name, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// SeedReplication is the replication workflow's options, checked. Namespaces and contexts that
// the options leave empty are filled in from the kubeconfig by the caller.
type SeedReplication struct {
	// Values are the options as given, after flags override the file.
	Values map[string]string
	// ConfigPath is the file read, "" when none.
	ConfigPath string

	SourceContext, SourceCluster, SourceNamespace, SourceName, SourcePVC string
	DestContext, DestCluster, DestNamespace, DestName, DestPVC           string

	SourceCopyMethod, DestCopyMethod       volsyncv1alpha1.CopyMethodType
	SourceAccessModes, DestAccessModes     []corev1.PersistentVolumeAccessMode
	SourceCapacity, DestCapacity           *resource.Quantity
	SourceStorageClass, DestStorageClass   *string
	SourceSnapshotClass, DestSnapshotClass *string
	SourceCronSpec, DestCronSpec           string
	SourceServiceType, DestServiceType     *corev1.ServiceType
	DestAddress                            string
	DestPort                               *int32
	DestSSHUser, DestPath                  *string
	SSHKeysSecret                          string
}

// NewSeedReplication checks the options: copy methods, access modes, capacities, ports, service
// types and names. Each error names the key and, when the value came from the file, the file.
func NewSeedReplication(values map[string]string, configPath string, fromFlag map[string]bool) (*SeedReplication, error) {
	s := &SeedReplication{Values: values, ConfigPath: configPath}
	bad := func(key, format string, args ...any) error {
		where := "--" + key
		if !fromFlag[key] && configPath != "" {
			where = key + " in " + configPath
		}
		return fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...))
	}
	v := func(key string) string { return values[key] }
	for _, key := range []string{"dest-provider", "dest-provider-params", "source-provider", "source-provider-params"} {
		if v(key) != "" {
			return nil, Hint(bad(key, "external providers are not supported"), "this workflow replicates with rsync; remove the key")
		}
	}
	s.SourceContext, s.SourceCluster = v("source-kube-context"), v("source-kube-clustername")
	s.DestContext, s.DestCluster = v("dest-kube-context"), v("dest-kube-clustername")
	s.SourceNamespace, s.DestNamespace = v("source-namespace"), v("dest-namespace")
	s.SourceName, s.DestName, s.SourcePVC, s.DestPVC = v("source-name"), v("dest-name"), v("source-pvc"), v("dest-pvc")
	s.SSHKeysSecret, s.DestAddress = v("ssh-keys-secret"), v("dest-address")
	for _, key := range []string{"source-namespace", "dest-namespace"} {
		if n := v(key); n != "" && len(validation.IsDNS1123Label(n)) > 0 {
			return nil, Hint(bad(key, "%q is not a namespace name", n), "use lower case letters, digits and '-'")
		}
	}
	for _, key := range []string{"source-name", "dest-name", "source-pvc", "dest-pvc", "ssh-keys-secret"} {
		if n := v(key); n != "" && len(validation.IsDNS1123Subdomain(n)) > 0 {
			return nil, Hint(bad(key, "%q is not an object name", n), "use lower case letters, digits, '-' and '.'")
		}
	}
	var err error
	if s.SourceCopyMethod, err = copyMethod(v("source-copy-method"), true); err != nil {
		return nil, Hint(bad("source-copy-method", "%v", err), "use None, Clone or Snapshot")
	}
	if s.DestCopyMethod, err = copyMethod(v("dest-copy-method"), false); err != nil {
		return nil, Hint(bad("dest-copy-method", "%v", err), "use None or Snapshot")
	}
	for _, side := range []struct {
		key   string
		modes *[]corev1.PersistentVolumeAccessMode
	}{{"source-access-mode", &s.SourceAccessModes}, {"dest-access-mode", &s.DestAccessModes}} {
		if v(side.key) == "" {
			continue
		}
		for _, m := range strings.Split(v(side.key), ",") {
			mode, ok := ParseAccessMode(m)
			if !ok {
				return nil, Hint(bad(side.key, "%q is not an access mode", m), "use ReadWriteOnce, ReadOnlyMany or ReadWriteMany")
			}
			*side.modes = append(*side.modes, mode)
		}
	}
	for _, side := range []struct {
		key string
		q   **resource.Quantity
	}{{"source-capacity", &s.SourceCapacity}, {"dest-capacity", &s.DestCapacity}} {
		if v(side.key) == "" {
			continue
		}
		q, err := resource.ParseQuantity(v(side.key))
		if err != nil || q.Sign() <= 0 {
			return nil, Hint(bad(side.key, "%q is not a size", v(side.key)), "use a quantity such as 2Gi")
		}
		*side.q = &q
	}
	optional := func(key string) *string {
		if v(key) == "" {
			return nil
		}
		x := v(key)
		return &x
	}
	s.SourceStorageClass, s.DestStorageClass = optional("source-storage-class-name"), optional("dest-storage-class-name")
	s.SourceSnapshotClass, s.DestSnapshotClass = optional("source-volume-snapshot-class-name"), optional("dest-volume-snapshot-class-name")
	s.DestSSHUser, s.DestPath = optional("dest-ssh-user"), optional("dest-path")
	s.SourceCronSpec, s.DestCronSpec = strings.TrimSpace(v("source-cron-spec")), strings.TrimSpace(v("dest-cron-spec"))
	if _, given := values["source-cron-spec"]; !given {
		s.SourceCronSpec = DefaultSourceCronSpec
	}
	for _, key := range []string{"source-cron-spec", "dest-cron-spec"} {
		if c := strings.TrimSpace(v(key)); c != "" && !cronPattern.MatchString(c) {
			return nil, Hint(bad(key, "%q is not a cron schedule", c), "use 5 fields such as \"*/3 * * * *\", or a descriptor such as @hourly")
		}
	}
	for _, side := range []struct {
		key string
		t   **corev1.ServiceType
	}{{"source-service-type", &s.SourceServiceType}, {"dest-service-type", &s.DestServiceType}} {
		if v(side.key) == "" {
			continue
		}
		t := corev1.ServiceType(v(side.key))
		if t != corev1.ServiceTypeClusterIP && t != corev1.ServiceTypeLoadBalancer {
			return nil, Hint(bad(side.key, "%q is not a service type", v(side.key)), "use ClusterIP or LoadBalancer")
		}
		*side.t = &t
	}
	if p := v("dest-port"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, Hint(bad("dest-port", "%q is not a port", p), "use a number from 1 to 65535")
		}
		port := int32(n)
		s.DestPort = &port
	}
	return s, nil
}

func copyMethod(v string, source bool) (volsyncv1alpha1.CopyMethodType, error) {
	for _, m := range []volsyncv1alpha1.CopyMethodType{volsyncv1alpha1.CopyMethodNone, volsyncv1alpha1.CopyMethodDirect,
		volsyncv1alpha1.CopyMethodClone, volsyncv1alpha1.CopyMethodSnapshot} {
		if strings.EqualFold(v, string(m)) {
			if m == volsyncv1alpha1.CopyMethodClone && !source {
				return "", fmt.Errorf("%q is not a copy method of a destination", v)
			}
			return m, nil
		}
	}
	if v == "" {
		return "", nil
	}
	return "", fmt.Errorf("%q is not a copy method", v)
}

// Required fails, in one line that names the first missing key, when one of keys has no value.
func (s *SeedReplication) Required(keys ...string) error {
	for _, k := range keys {
		if s.Values[k] == "" {
			where := "the config file " + s.ConfigPath
			if s.ConfigPath == "" {
				where = "./" + SeedConfigFile + " (none was found)"
			}
			return Hint(fmt.Errorf("the option %s is not set", k),
				fmt.Sprintf("add '%s: <value>' to %s, or pass --%s", k, where, k))
		}
	}
	return nil
}

// SeedSide is one side of a replication as the kubeconfig resolves it.
type SeedSide struct {
	// Options select the side's context.
	Options *GlobalOptions
	// Context is the context's name; Server the API server's address.
	Context, Server string
	// Namespace is the context's namespace, else "default".
	Namespace string
}

// ResolveSeedSide finds the context of one side: contextName when given (it must exist, and point
// at clusterName when that is given too), else the only context that points at clusterName,
// else the current context. prefix ("source" or "dest") names the keys in messages.
func (o *GlobalOptions) ResolveSeedSide(prefix, contextName, clusterName string) (*SeedSide, error) {
	raw, err := o.clientConfig().RawConfig()
	if err != nil {
		return nil, o.explainConfigError(err)
	}
	if len(raw.Contexts) == 0 {
		return nil, Hint(errors.New("no kubeconfig found"), "pass --kubeconfig, set KUBECONFIG, or create ~/.kube/config")
	}
	list := "list them with 'kubectl config get-contexts'"
	name := contextName
	switch {
	case name != "":
		if _, ok := raw.Contexts[name]; !ok {
			return nil, Hint(fmt.Errorf("%s-kube-context %q is not a context of the kubeconfig", prefix, name),
				"set it to one of the contexts: "+list)
		}
	case clusterName != "":
		var found []string
		for n, c := range raw.Contexts {
			if c.Cluster == clusterName {
				found = append(found, n)
			}
		}
		sort.Strings(found)
		switch len(found) {
		case 0:
			return nil, Hint(fmt.Errorf("%s-kube-clustername %q is not a cluster of the kubeconfig's contexts", prefix, clusterName),
				"check the name with 'kubectl config get-clusters'")
		case 1:
			name = found[0]
		default:
			return nil, Hint(fmt.Errorf("%s-kube-clustername %q is the cluster of several contexts: %s", prefix, clusterName, strings.Join(found, ", ")),
				fmt.Sprintf("set %s-kube-context to one of them", prefix))
		}
	default:
		name = raw.CurrentContext
		if _, ok := raw.Contexts[name]; !ok {
			return nil, Hint(fmt.Errorf("%s-kube-context is not set and the kubeconfig has no current context", prefix),
				fmt.Sprintf("set %s-kube-context: %s", prefix, list))
		}
	}
	ctx := raw.Contexts[name]
	if clusterName != "" && ctx.Cluster != clusterName {
		return nil, Hint(fmt.Errorf("%s-kube-context %q points at cluster %q, not %s-kube-clustername %q", prefix, name, ctx.Cluster, prefix, clusterName),
			"fix one of the two keys: 'kubectl config get-contexts' shows each context's cluster")
	}
	side := &SeedSide{Options: o.WithContext(name), Context: name, Namespace: ctx.Namespace}
	if side.Namespace == "" {
		side.Namespace = DefaultNamespace
	}
	if cl := raw.Clusters[ctx.Cluster]; cl != nil {
		side.Server = cl.Server
	}
	return side, nil
}
