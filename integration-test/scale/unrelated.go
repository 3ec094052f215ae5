package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// unrelatedResult is volsyncd's memory before and after the cluster gained Secrets and PVCs that
// are not volsync's.
type unrelatedResult struct {
	secrets, pvcs int
	took          time.Duration
	rssBefore     int64
	rssAfter      int64
}

func (u unrelatedResult) growth() int64 { return u.rssAfter - u.rssBefore }

// unrelated adds cfg.unrelated Secrets and as many PVCs that volsync has nothing to do with, as a
// busy cluster has, and samples volsyncd's resident memory before and after. volsyncd caches
// those kinds only with its own label (cachepolicy), so it should not even receive them. Both
// samples are the most over a settle window, so a garbage collection in one of them does not
// decide the figure.
func (b *bench) unrelated(ctx context.Context) (unrelatedResult, error) {
	res := unrelatedResult{secrets: b.cfg.unrelated, pvcs: b.cfg.unrelated}
	if res.secrets == 0 {
		return res, nil
	}
	var err error
	if res.rssBefore, err = b.rssOver(ctx, 30*time.Second); err != nil {
		return res, err
	}
	// A Secret the size of a small TLS key pair: what volsyncd would hold if it cached them.
	value := []byte(strings.Repeat("x", 2048))
	var setup, objs []client.Object
	for _, ns := range namespaces("unrelated", res.secrets) {
		setup = append(setup, namespace(ns))
	}
	for i := range res.secrets {
		ns, name := namespaceOf("unrelated", i), fmt.Sprintf("other-%05d", i)
		objs = append(objs,
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "other"}},
				Data: map[string][]byte{"tls.key": value}},
			pvc(ns, name))
	}
	progress("unrelated: creating %d Secrets and %d PVCs that are not volsync's", res.secrets, res.pvcs)
	start := time.Now()
	if err := createAll(ctx, b.c, 1, setup); err != nil {
		return res, err
	}
	if err := createAll(ctx, b.c, b.cfg.workers, objs); err != nil {
		return res, err
	}
	res.took = time.Since(start)
	if res.rssAfter, err = b.rssOver(ctx, 30*time.Second); err != nil {
		return res, err
	}
	progress("unrelated: created in %s; volsyncd RSS %s before, %s after", res.took.Round(time.Second), mib(res.rssBefore), mib(res.rssAfter))
	return res, nil
}

// rssOver is volsyncd's most resident memory over window, sampled every second.
func (b *bench) rssOver(ctx context.Context, window time.Duration) (int64, error) {
	pid := b.proc.cmd.Process.Pid
	var most int64
	end := time.Now().Add(window)
	for {
		if err := b.proc.exited(); err != nil {
			return 0, err
		}
		u, err := sample(pid)
		if err != nil {
			return 0, err
		}
		most = max(most, u.rss)
		if !time.Now().Before(end) {
			return most, nil
		}
		if err := sleep(ctx, time.Second); err != nil {
			return 0, err
		}
	}
}
