package remote

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

// accessCheckParallelism bounds the access reviews in flight at once: enough that a check of
// eighty permissions over a slow link takes a few round trips, few enough not to burst the
// destination.
const accessCheckParallelism = 8

// Permission is one thing a migration does on the destination.
type Permission struct {
	// Verb such as get, list, create, patch or delete.
	Verb string
	// Resource, with its group, such as deployments.apps.
	Resource schema.GroupResource
	// Namespace it is done in; "" for all namespaces, or for a cluster-scoped resource.
	Namespace string
}

// String reads as "create deployments.apps in namespace shop".
func (p Permission) String() string {
	where := " in all namespaces"
	if p.Namespace != "" {
		where = " in namespace " + p.Namespace
	}
	if p.Resource.Resource == "namespaces" {
		where = ""
	}
	return p.Verb + " " + p.Resource.String() + where
}

// Destination is a destination cluster that answered.
type Destination struct {
	// Config reaches it as the kubeconfig's user.
	Config *rest.Config
	// ServerVersion is its API server's version, such as v1.36.3.
	ServerVersion string
}

// Connect reads the pair's kubeconfig, asks the destination for its version and checks that its
// user may do every one of perms. The whole check is bounded by DefaultTimeout. When the server
// answered but the check failed, the Destination is returned with the error, so the caller can
// still say which server refused.
func Connect(ctx context.Context, r client.Reader, pair *volsyncv1alpha1.ClusterPair, perms []Permission) (*Destination, error) {
	cfg, err := Config(ctx, r, pair)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	defer cancel()
	v, err := ServerVersion(ctx, cfg)
	if err != nil {
		return nil, err
	}
	dest := &Destination{Config: cfg, ServerVersion: v}
	if err := CheckAccess(ctx, cfg, perms); err != nil {
		return dest, err
	}
	return dest, nil
}

// ServerVersion asks the destination's API server for its version: the cheapest request that
// proves the address, the certificate and the credentials all work (anonymous requests for
// /version are usually allowed, so a refusal here means the credentials themselves are wrong).
func ServerVersion(ctx context.Context, cfg *rest.Config) (string, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", newError(volsyncv1alpha1.ReasonInvalidKubeconfig, "the kubeconfig cannot be used: %v", err)
	}
	body, err := cs.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Raw()
	if err != nil {
		return "", Classify(err, cfg.Host, "reading the server version")
	}
	var info version.Info
	if err := json.Unmarshal(body, &info); err != nil {
		return "", newError(volsyncv1alpha1.ReasonUnreachable,
			"%s answered /version with something that is not a Kubernetes version (%v): is the server address in the kubeconfig a Kubernetes API server?", cfg.Host, err)
	}
	return info.GitVersion, nil
}

// CheckAccess asks the destination, as the kubeconfig's user, whether it may do each of perms
// (SelfSubjectAccessReview, which every authenticated user may create). A refusal is a Forbidden
// *Error that lists every missing permission and names the user, so one look says what to grant.
func CheckAccess(ctx context.Context, cfg *rest.Config, perms []Permission) error {
	if len(perms) == 0 {
		return nil
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return newError(volsyncv1alpha1.ReasonInvalidKubeconfig, "the kubeconfig cannot be used: %v", err)
	}
	var (
		mu      sync.Mutex
		denied  []Permission
		firstEr error
		wg      sync.WaitGroup
		slots   = make(chan struct{}, accessCheckParallelism)
	)
	for _, p := range perms {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Verb: p.Verb, Group: p.Resource.Group, Resource: p.Resource.Resource, Namespace: p.Namespace,
				},
			}}
			got, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				if firstEr == nil {
					firstEr = Classify(err, cfg.Host, "checking permissions")
				}
			case !got.Status.Allowed:
				denied = append(denied, p)
			}
		}()
	}
	wg.Wait()
	if firstEr != nil {
		return firstEr
	}
	if len(denied) == 0 {
		return nil
	}
	who := "the kubeconfig's user"
	if name := userName(ctx, cs); name != "" {
		who = fmt.Sprintf("user %q", name)
	}
	return newError(volsyncv1alpha1.ReasonForbidden,
		"on the destination %s, %s may not %s: grant these there (a ClusterRole with these rules, or cluster-admin, bound to the user) or use a kubeconfig of a user who has them",
		cfg.Host, who, describePermissions(denied))
}

// describePermissions lists permissions compactly, for a person who has to grant them: the
// resources that lack the same verbs in the same place go together, as in
// "create/patch configmaps, secrets in namespace shop; create/patch namespaces".
func describePermissions(perms []Permission) string {
	type place struct{ resource, namespace string }
	verbs := map[place][]string{}
	for _, p := range perms {
		k := place{p.Resource.String(), p.Namespace}
		if p.Resource.Resource == "namespaces" {
			k.namespace = ""
		}
		if !slices.Contains(verbs[k], p.Verb) {
			verbs[k] = append(verbs[k], p.Verb)
		}
	}
	type group struct{ verbs, namespace string }
	resources := map[group][]string{}
	for k, v := range verbs {
		sort.Strings(v)
		g := group{strings.Join(v, "/"), k.namespace}
		if k.resource == "namespaces" {
			g.namespace = "-" // cluster-scoped: said without a place
		}
		resources[g] = append(resources[g], k.resource)
	}
	groups := make([]group, 0, len(resources))
	for g := range resources {
		groups = append(groups, g)
	}
	// Cluster-scoped first, then all namespaces, then namespace by namespace.
	rank := func(g group) string {
		switch g.namespace {
		case "-":
			return "0"
		case "":
			return "1"
		}
		return "2" + g.namespace
	}
	sort.Slice(groups, func(i, j int) bool {
		if ri, rj := rank(groups[i]), rank(groups[j]); ri != rj {
			return ri < rj
		}
		return groups[i].verbs < groups[j].verbs
	})
	parts := make([]string, 0, len(groups))
	for _, g := range groups {
		rs := resources[g]
		sort.Strings(rs)
		where := ""
		switch g.namespace {
		case "-":
		case "":
			where = " in all namespaces"
		default:
			where = " in namespace " + g.namespace
		}
		parts = append(parts, g.verbs+" "+strings.Join(rs, ", ")+where)
	}
	return strings.Join(parts, "; ")
}

// userName is who the destination takes the kubeconfig's user for, or "" when it will not say.
func userName(ctx context.Context, cs kubernetes.Interface) string {
	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return ""
	}
	return review.Status.UserInfo.Username
}
