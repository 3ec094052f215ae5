package convert

import (
	"encoding/json"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// pairOptions are the ClusterPair options volsync reads; Stork's others configure its storage
// driver's own replication.
var pairOptions = map[string]bool{"volumeServiceType": true, "volumeCopyMethod": true}

// clusterPair rewrites Stork's inline kubeconfig (spec.config, which storkctl generate clusterpair
// writes) into a Secret beside the pair, named <pair>-kubeconfig, and points
// spec.kubeconfigSecretRef at it: volsync keeps credentials in Secrets, never in a custom
// resource anyone who may read it can read. Stork's storage options are dropped with a warning.
func clusterPair(u *unstructured.Unstructured, name string) (*unstructured.Unstructured, []Warning) {
	var warnings []Warning
	if options, ok, _ := unstructured.NestedStringMap(u.Object, "spec", "options"); ok {
		keys := make([]string, 0, len(options))
		for k := range options {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if pairOptions[k] {
				continue
			}
			warnings = append(warnings, Warning{Object: name, Field: "spec.options." + k,
				Why: "Stork's option for its storage driver; volsync moves the data itself (the options it reads are volumeServiceType and volumeCopyMethod)"})
			delete(options, k)
		}
		if len(options) == 0 {
			unstructured.RemoveNestedField(u.Object, "spec", "options")
		} else {
			_ = unstructured.SetNestedStringMap(u.Object, options, "spec", "options")
		}
	}
	config, hasConfig, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "config")
	if _, hasRef, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "kubeconfigSecretRef"); hasRef || !hasConfig {
		if !hasRef {
			warnings = append(warnings, Warning{Object: name,
				Why: "has neither spec.config nor spec.kubeconfigSecretRef: create the pair with 'volsyncctl generate clusterpair' instead"})
		}
		return nil, warnings
	}
	unstructured.RemoveNestedField(u.Object, "spec", "config")
	kubeconfig, err := kubeconfigOf(config)
	if err != nil {
		warnings = append(warnings, Warning{Object: name, Field: "spec.config",
			Why: fmt.Sprintf("it is not a kubeconfig volsync can read (%v); create the pair with 'volsyncctl generate clusterpair' instead", err)})
		return nil, warnings
	}
	secretName := u.GetName() + "-kubeconfig"
	_ = unstructured.SetNestedField(u.Object, map[string]any{"name": secretName, "key": volsyncv1alpha1.DefaultKubeconfigKey},
		"spec", "kubeconfigSecretRef")
	secret := &corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{volsyncv1alpha1.DefaultKubeconfigKey: kubeconfig}}
	secret.APIVersion, secret.Kind = "v1", "Secret"
	secret.Name, secret.Namespace = secretName, u.GetNamespace()
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(secret)
	if err != nil {
		warnings = append(warnings, Warning{Object: name, Field: "spec.config", Why: err.Error()})
		return nil, warnings
	}
	s := &unstructured.Unstructured{Object: obj}
	unstructured.RemoveNestedField(s.Object, "metadata", "creationTimestamp")
	return s, warnings
}

// kubeconfigOf writes config as a kubeconfig file. Stork stores client-go's internal Config type
// (clusters, contexts and users as maps by name); a config written in the file's own layout (lists
// of named entries) is read as a file.
func kubeconfigOf(config any) ([]byte, error) {
	m, ok := config.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("spec.config is a %T, not an object", config)
	}
	if _, isList := m["clusters"].([]any); isList {
		file := map[string]any{"apiVersion": "v1", "kind": "Config"}
		for k, v := range m {
			file[k] = v
		}
		raw, err := json.Marshal(file)
		if err != nil {
			return nil, err
		}
		c, err := clientcmd.Load(raw)
		if err != nil {
			return nil, err
		}
		return writeConfig(c)
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	c := clientcmdapi.NewConfig()
	if err := json.Unmarshal(raw, c); err != nil {
		return nil, err
	}
	return writeConfig(c)
}

func writeConfig(c *clientcmdapi.Config) ([]byte, error) {
	if len(c.Clusters) == 0 {
		return nil, fmt.Errorf("it names no cluster")
	}
	if c.CurrentContext == "" && len(c.Contexts) == 1 {
		for name := range c.Contexts {
			c.CurrentContext = name
		}
	}
	if _, ok := c.Contexts[c.CurrentContext]; !ok {
		return nil, fmt.Errorf("its current-context %q is not one of its contexts", c.CurrentContext)
	}
	for _, cl := range c.Clusters {
		cl.LocationOfOrigin = ""
	}
	for _, a := range c.AuthInfos {
		a.LocationOfOrigin = ""
	}
	for _, x := range c.Contexts {
		x.LocationOfOrigin = ""
	}
	return clientcmd.Write(*c)
}
