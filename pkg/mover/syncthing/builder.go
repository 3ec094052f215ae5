package syncthing

import (
	"fmt"
	"net"
	"strconv"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
	"github.com/volsync/volsync/pkg/mover"
	"github.com/volsync/volsync/pkg/mover/job"
)

// MoverName is the mover's name in metrics and the mover command line.
const MoverName = "syncthing"

// Builder makes syncthing Movers. Register one with mover.Register at start-up.
type Builder struct {
	job.Settings
	// APIAddress is host:port of a source's Syncthing API; the API Service's cluster IP and
	// APIPort when nil. Tests that run Syncthing outside a cluster point it elsewhere.
	APIAddress func(rs *volsyncv1alpha1.ReplicationSource, api *corev1.Service) string
}

var _ mover.Builder = (*Builder)(nil)

// VersionInfo names the mover and its image.
func (b *Builder) VersionInfo() string { return b.Describe(MoverName) }

// FromSource builds the Mover of a source with a syncthing block.
func (b *Builder) FromSource(c client.Client, _ logr.Logger, recorder events.EventRecorder,
	source *volsyncv1alpha1.ReplicationSource, privileged bool) (mover.Mover, error) {
	if source.Spec.Syncthing == nil {
		return nil, nil
	}
	return &sourceMover{b: b, c: c, rec: recorder, rs: source, privileged: privileged}, nil
}

// FromDestination answers for no destination: Syncthing peers are all sources.
func (b *Builder) FromDestination(client.Client, logr.Logger, events.EventRecorder,
	*volsyncv1alpha1.ReplicationDestination, bool) (mover.Mover, error) {
	return nil, nil
}

// client is the API client of rs's Syncthing, trusting only the certificate in its Secret.
func (b *Builder) client(rs *volsyncv1alpha1.ReplicationSource, api *corev1.Service, secret map[string][]byte) (*Client, error) {
	var addr string
	if b.APIAddress != nil {
		addr = b.APIAddress(rs, api)
	} else {
		if api.Spec.ClusterIP == "" || api.Spec.ClusterIP == corev1.ClusterIPNone {
			return nil, fmt.Errorf("service %s has no cluster IP yet", api.Name)
		}
		addr = net.JoinHostPort(api.Spec.ClusterIP, strconv.Itoa(int(APIPort)))
	}
	return NewClient("https://"+addr, string(secret[SecretAPIKey]), secret[SecretCert], apiServerName(rs))
}
