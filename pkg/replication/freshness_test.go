package replication

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	volsyncscheme "github.com/volsync/volsync/pkg/apis/scheme"
	volsyncv1alpha1 "github.com/volsync/volsync/pkg/apis/volsync/v1alpha1"
)

func TestOwnWritesSendAReadToTheAPIServerOnlyUntilTheCacheShowsThem(t *testing.T) {
	key := types.NamespacedName{Namespace: "ns", Name: "rs"}
	tests := []struct {
		name    string
		written *string // nil: no write noted
		cached  string
		want    bool
	}{
		{"an object this controller has not written is read from the cache", nil, "100", true},
		{"a cache older than the last write is not used", ptr("120"), "100", false},
		{"a cache holding the last write is used", ptr("120"), "120", true},
		{"a cache newer than the last write is used", ptr("120"), "1000", true},
		{"a write of unknown outcome sends the next read to the API server", ptr(""), "1000", false},
		{"a version that is not an etcd revision cannot be compared, so the API server is asked", ptr("120"), "abc", false},
	}
	for _, tt := range tests {
		var w ownWrites
		if tt.written != nil {
			w.wrote(key, *tt.written)
		}
		if got := w.shownBy(key, tt.cached); got != tt.want {
			t.Errorf("%s: shownBy = %v, want %v", tt.name, got, tt.want)
		}
		if tt.want && len(w.rv) != 0 {
			t.Errorf("%s: the note outlived the cache catching up: %v", tt.name, w.rv)
		}
	}
}

func ptr(s string) *string { return &s }

// countingReader counts the reads that reach it.
type countingReader struct {
	client.Reader
	gets int
}

func (r *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	r.gets++
	return r.Reader.Get(ctx, key, obj, opts...)
}

func TestAPassReadsTheAPIServerOnlyAfterItsOwnWriteAndUntilTheCacheCatchesUp(t *testing.T) {
	scheme, err := volsyncscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key := types.NamespacedName{Namespace: "ns", Name: "rs"}
	rs := &volsyncv1alpha1.ReplicationSource{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	server := fake.NewClientBuilder().WithScheme(scheme).WithObjects(rs).WithStatusSubresource(rs).Build()
	// The cache is a copy of the server as it was before the pass's write.
	var snapshot volsyncv1alpha1.ReplicationSource
	if err := server.Get(ctx, key, &snapshot); err != nil {
		t.Fatal(err)
	}
	snapshot.ResourceVersion = "1" // etcd-like, older than anything the fake server hands out next
	cache := fake.NewClientBuilder().WithScheme(scheme).WithObjects(&snapshot).Build()
	live := &countingReader{Reader: server}
	var w ownWrites
	b := base{client: splitClient{Client: server, reader: cache}, writes: &w}

	seen := ""
	pass := func(ctx context.Context, b *base, rs *volsyncv1alpha1.ReplicationSource) (ctrl.Result, error) {
		seen = rs.Status.LastManualSync
		if rs.Status.LastManualSync == "done" {
			return ctrl.Result{}, nil
		}
		before := rs.DeepCopy()
		rs.Status.LastManualSync = "done"
		return b.writeStatus(ctx, before, rs, true, ctrl.Result{}, nil)
	}
	newRS := func() *volsyncv1alpha1.ReplicationSource { return &volsyncv1alpha1.ReplicationSource{} }
	steps := []struct {
		name      string
		wantReads int
		wantSeen  string
	}{
		{"the first pass uses the cache and writes", 0, ""},
		{"the next, with the cache behind the write, reads the object from the API server", 1, "done"},
	}
	for _, s := range steps {
		if _, err := reconcileObject(ctx, b, live, key, newRS, pass); err != nil {
			t.Fatal(err)
		}
		if live.gets != s.wantReads || seen != s.wantSeen {
			t.Fatalf("%s: %d reads from the API server, status seen %q; want %d, %q", s.name, live.gets, seen, s.wantReads, s.wantSeen)
		}
	}
	// The watch brings the write into the cache: from then on the cache is enough.
	var current volsyncv1alpha1.ReplicationSource
	if err := server.Get(ctx, key, &current); err != nil {
		t.Fatal(err)
	}
	b.client = splitClient{Client: server, reader: fake.NewClientBuilder().WithScheme(scheme).WithObjects(current.DeepCopy()).Build()}
	if _, err := reconcileObject(ctx, b, live, key, newRS, pass); err != nil {
		t.Fatal(err)
	}
	if live.gets != 1 || seen != "done" || len(w.rv) != 0 {
		t.Fatalf("once the cache caught up: %d reads, seen %q, notes %v; want no more reads and no note", live.gets, seen, w.rv)
	}
}

// splitClient reads from reader (the cache) and writes through Client (the API server).
type splitClient struct {
	client.Client
	reader client.Reader
}

func (c splitClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return c.reader.Get(ctx, key, obj, opts...)
}
