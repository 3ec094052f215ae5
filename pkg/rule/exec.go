package rule

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
)

// Executor runs a command in a container and waits for it.
type Executor interface {
	// Exec runs command in the container of pod ns/name ("" for its only one) and returns its
	// stdout and stderr together, and its exit code. err is for a command that could not be
	// run at all (no such container, the exec refused); a command that ran and failed has a
	// non-zero code and a nil err.
	Exec(ctx context.Context, ns, name, container string, command []string) (output string, code int, err error)
}

// PodExecutor runs commands through the pods/exec subresource of the API server it is given,
// over WebSocket, falling back to SPDY for an API server (or proxy) that cannot upgrade to
// WebSocket, as kubectl exec does.
type PodExecutor struct {
	Config *rest.Config

	once   sync.Once
	client rest.Interface
	err    error
}

// Exec implements Executor.
func (e *PodExecutor) Exec(ctx context.Context, ns, name, container string, command []string) (string, int, error) {
	e.once.Do(func() {
		cs, err := kubernetes.NewForConfig(e.Config)
		if err != nil {
			e.err = fmt.Errorf("making a client for pods/exec: %w", err)
			return
		}
		e.client = cs.CoreV1().RESTClient()
	})
	if e.err != nil {
		return "", 0, e.err
	}
	req := e.client.Post().Resource("pods").Namespace(ns).Name(name).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: command, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	spdy, err := remotecommand.NewSPDYExecutor(e.Config, "POST", req.URL())
	if err != nil {
		return "", 0, fmt.Errorf("exec in pod %s/%s: %w", ns, name, err)
	}
	ws, err := remotecommand.NewWebSocketExecutor(e.Config, "GET", req.URL().String())
	if err != nil {
		return "", 0, fmt.Errorf("exec in pod %s/%s: %w", ns, name, err)
	}
	exec, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return "", 0, fmt.Errorf("exec in pod %s/%s: %w", ns, name, err)
	}
	var out lockedBuffer
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &out})
	var exit utilexec.ExitError
	if errors.As(err, &exit) && exit.Exited() {
		return out.String(), exit.ExitStatus(), nil
	}
	if err != nil {
		return out.String(), 0, fmt.Errorf("exec in pod %s/%s: %w", ns, name, err)
	}
	return out.String(), 0, nil
}

// lockedBuffer takes stdout and stderr, which arrive on two streams at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

var _ io.Writer = (*lockedBuffer)(nil)

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
