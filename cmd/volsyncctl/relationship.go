package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/cli"
)

// The relationship verbs are those of VolSync's kubectl plugin: `replication -r NAME ...` and
// `migration -r NAME ...`. A relationship is a file in --config-dir that records what to create;
// the verbs create, update and delete only objects labeled with its id.

// relationshipPollInterval is how often the relationship verbs read the objects they wait for.
var relationshipPollInterval = 2 * time.Second

// relationshipFlags are the flags of a relationship group, shared by its verbs.
type relationshipFlags struct {
	name, dir string
}

// relationshipGroup is the parent command of one relationship type, with -r and --config-dir.
func (a *app) relationshipGroup(typ cli.RelationshipType, short, long, example string) (*cobra.Command, *relationshipFlags) {
	f := &relationshipFlags{}
	cmd := &cobra.Command{
		Use:     string(typ) + " -r NAME COMMAND",
		Short:   short,
		Long:    long,
		Example: example,
		Args:    cobra.ArbitraryArgs,
		RunE:    showHelpOrRejectArgs,
	}
	fs := cmd.PersistentFlags()
	fs.StringVarP(&f.name, "relationship", "r", "", "relationship name (required)")
	fs.StringVar(&f.dir, "config-dir", "", "directory for the relationship files (default ~/.volsync)")
	return cmd, f
}

// required fails when -r is not given: cobra's required-flag check would also refuse the group's
// own help. It also settles --config-dir, whose default depends on $HOME when the command runs.
func (f *relationshipFlags) required(cmd *cobra.Command) error {
	if f.dir == "" {
		f.dir = cli.DefaultRelationshipDir()
	}
	if f.name == "" {
		return cli.Hint(errors.New("--relationship (-r) is not set"),
			fmt.Sprintf("name the relationship, such as '%s -r example'", cmd.CommandPath()))
	}
	return nil
}

// load reads the relationship of typ that -r names.
func (f *relationshipFlags) load(cmd *cobra.Command, typ cli.RelationshipType) (*cli.Relationship, error) {
	if err := f.required(cmd); err != nil {
		return nil, err
	}
	return cli.LoadRelationship(f.dir, f.name, typ)
}

// relationshipSide is one cluster of a relationship: a kubeconfig context and its client.
type relationshipSide struct {
	// context is the kubeconfig context, "" for --context or the current one.
	context string
	host    string
	c       client.Client
}

// side connects to the cluster of a kubeconfig context ("" is --context, else the current one).
func (a *app) side(kubeContext string) (*relationshipSide, error) {
	opts := &a.opts
	if kubeContext != "" {
		opts = a.opts.WithContext(kubeContext)
	}
	cfg, err := opts.RESTConfig()
	if err != nil {
		return nil, err
	}
	c, err := cli.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	return &relationshipSide{context: opts.Context, host: cfg.Host, c: c}, nil
}

// where is "namespace/name", with " (context C)" when the side names its context, for messages.
func (s *relationshipSide) where(ns, name string) string {
	if s.context == "" {
		return ns + "/" + name
	}
	return fmt.Sprintf("%s/%s (context %s)", ns, name, s.context)
}

// kubectl is the kubectl command line that reaches the side, for hints.
func (s *relationshipSide) kubectl() string {
	if s.context == "" {
		return "kubectl"
	}
	return "kubectl --context " + s.context
}

// explain makes an API error of the side a message that says how to fix it.
func (s *relationshipSide) explain(err error) error { return cli.Explain(err, s.host) }

// relationshipMark is the label on what relationship rel created.
func relationshipMark(rel *cli.Relationship) ownerMark {
	return ownerMark{key: volsyncv1alpha1.RelationshipLabel, value: rel.ID, label: true}
}

// lookupOwned reads obj, named in it, on the side. It reports whether it exists; one that rel did
// not create is an error that says what to do, and nothing is changed.
func lookupOwned(ctx context.Context, s *relationshipSide, rel *cli.Relationship, obj client.Object, kind string) (bool, error) {
	err := s.c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, s.explain(err)
	case relationshipMark(rel).owns(obj):
		return true, nil
	}
	whose := fmt.Sprintf("was not created by relationship %q", rel.Name)
	if other := relationshipMark(rel).other(obj); other != "" {
		whose = fmt.Sprintf("belongs to another relationship (%s=%s)", volsyncv1alpha1.RelationshipLabel, other)
	}
	return true, cli.Hint(fmt.Errorf("%s %s already exists and %s", kind, s.where(obj.GetNamespace(), obj.GetName()), whose),
		fmt.Sprintf("choose another name, or delete it with '%s -n %s delete %s %s'", s.kubectl(), obj.GetNamespace(), kind, obj.GetName()))
}

// writeRelationshipObject creates or updates obj (lookupOwned read it when exists) with rel's
// label and prints what it did.
func (a *app) writeRelationshipObject(ctx context.Context, s *relationshipSide, rel *cli.Relationship, obj client.Object, exists bool,
	set func(), kind string, undo *rollback) error {
	verb, err := writeOwned(ctx, s.c, obj, exists, set, relationshipMark(rel), undo.created)
	if err != nil {
		return s.explain(err)
	}
	fmt.Fprintf(a.out, "%s %s %s\n", kind, s.where(obj.GetNamespace(), obj.GetName()), verb)
	return nil
}

// deleteRelationshipObjects deletes, in namespace ns of the side, the objects of each kind that
// carry rel's label, and prints each. PVCs are never among the kinds.
func (a *app) deleteRelationshipObjects(ctx context.Context, s *relationshipSide, rel *cli.Relationship, ns string, kinds ...string) error {
	for _, kind := range kinds {
		var list client.ObjectList
		switch kind {
		case "replicationsource":
			list = &volsyncv1alpha1.ReplicationSourceList{}
		case "replicationdestination":
			list = &volsyncv1alpha1.ReplicationDestinationList{}
		case "secret":
			list = &corev1.SecretList{}
		default:
			return fmt.Errorf("deleting %s: not a kind a relationship creates", kind)
		}
		if err := s.c.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{volsyncv1alpha1.RelationshipLabel: rel.ID}); err != nil {
			return s.explain(err)
		}
		objs, err := metaItems(list)
		if err != nil {
			return err
		}
		for _, obj := range objs {
			err := s.c.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground))
			if err != nil && !apierrors.IsNotFound(err) {
				return s.explain(err)
			}
			fmt.Fprintf(a.out, "%s %s deleted\n", kind, s.where(obj.GetNamespace(), obj.GetName()))
		}
	}
	return nil
}

// metaItems are the items of a list of the kinds deleteRelationshipObjects knows.
func metaItems(list client.ObjectList) ([]client.Object, error) {
	var out []client.Object
	switch l := list.(type) {
	case *volsyncv1alpha1.ReplicationSourceList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case *volsyncv1alpha1.ReplicationDestinationList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case *corev1.SecretList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	default:
		return nil, fmt.Errorf("unexpected list %T", list)
	}
	return out, nil
}

// awaitEndpoint waits, up to timeout, for rd to publish its address and ssh keys, and explains a
// timeout.
func awaitEndpoint(ctx context.Context, s *relationshipSide, rd *volsyncv1alpha1.ReplicationDestination, timeout time.Duration) (volsyncv1alpha1.ReplicationDestinationRsyncStatus, error) {
	st, err := awaitRsyncEndpoint(ctx, s.c, rd, relationshipPollInterval, timeout, false)
	if errors.Is(err, errNotFinished) {
		return st, cli.Hint(fmt.Errorf("replicationdestination %s published no address and ssh keys within %s", s.where(rd.Namespace, rd.Name), timeout),
			fmt.Sprintf("check that volsyncd runs there and see '%s -n %s describe replicationdestination %s'; a LoadBalancer Service needs a load balancer controller",
				s.kubectl(), rd.Namespace, rd.Name))
	} else if err != nil {
		return st, s.explain(err)
	}
	return st, nil
}
