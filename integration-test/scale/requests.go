package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/client-go/rest"
)

// requestKey is one series of the API server's apiserver_request_total, less the labels the bench
// does not split by (response code, scope, version, dry run).
type requestKey struct {
	Verb, Group, Resource, Subresource string
}

func (k requestKey) String() string {
	s := k.Resource
	if k.Group != "" {
		s += "." + k.Group
	}
	if k.Subresource != "" {
		s += "/" + k.Subresource
	}
	return k.Verb + " " + s
}

// requestCounts are API requests per series.
type requestCounts map[requestKey]float64

// writeVerbs are the verbs that change something stored.
var writeVerbs = map[string]bool{"POST": true, "PUT": true, "PATCH": true, "DELETE": true, "DELETECOLLECTION": true, "APPLY": true}

// isLeaderElection says whether a series is leader election's: Lease renewals (volsyncd's every
// two seconds, and the API server's own identity lease every ten) and the Event that announces a
// new leader, which controller-runtime records in the core group (volsyncd's own Events go through
// events.k8s.io). Their number does not depend on the objects, so they are counted apart.
func isLeaderElection(k requestKey) bool {
	return k.Resource == "leases" || (k.Resource == "events" && k.Group == "")
}

// parseMetrics reads the Prometheus text format.
func parseMetrics(r io.Reader) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(r)
}

// label is a metric's label value, "" when absent.
func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// value is a counter's or gauge's value.
func value(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return m.GetGauge().GetValue()
}

// requestsFrom extracts apiserver_request_total from the API server's metrics. Requests for paths
// that are not resources (/metrics, /healthz, discovery) are left out: the bench makes some itself.
func requestsFrom(text []byte) (requestCounts, error) {
	families, err := parseMetrics(bytes.NewReader(text))
	if err != nil {
		return nil, err
	}
	out := requestCounts{}
	f := families["apiserver_request_total"]
	if f == nil {
		return nil, fmt.Errorf("the API server's metrics have no apiserver_request_total")
	}
	for _, m := range f.GetMetric() {
		k := requestKey{Verb: label(m, "verb"), Group: label(m, "group"), Resource: label(m, "resource"), Subresource: label(m, "subresource")}
		if k.Resource == "" {
			continue
		}
		out[k] += value(m)
	}
	return out, nil
}

// scrapeRequests reads apiserver_request_total from the API server.
func scrapeRequests(ctx context.Context, rc rest.Interface) (requestCounts, error) {
	body, err := rc.Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the API server's /metrics: %w", err)
	}
	return requestsFrom(body)
}

// since is c minus an earlier reading.
func (c requestCounts) since(earlier requestCounts) requestCounts {
	out := requestCounts{}
	for k, v := range c {
		if d := v - earlier[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// sum adds up the series keep accepts.
func (c requestCounts) sum(keep func(requestKey) bool) float64 {
	total := 0.0
	for k, v := range c {
		if keep(k) {
			total += v
		}
	}
	return total
}

func isWrite(k requestKey) bool               { return writeVerbs[k.Verb] }
func isRead(k requestKey) bool                { return !writeVerbs[k.Verb] }
func isObjectWrite(k requestKey) bool         { return isWrite(k) && !isLeaderElection(k) }
func isLeaderElectionWrite(k requestKey) bool { return isWrite(k) && isLeaderElection(k) }
func isObjectRequest(k requestKey) bool       { return !isLeaderElection(k) }

// byVerb sums the series keep accepts per verb, as "GET 12, LIST 3", busiest first; "none" when
// there are none.
func (c requestCounts) byVerb(keep func(requestKey) bool, scale float64) string {
	verbs := map[string]float64{}
	for k, v := range c {
		if keep(k) {
			verbs[k.Verb] += v
		}
	}
	return joinCounts(verbs, scale)
}

// bySeries is like byVerb per verb and resource.
func (c requestCounts) bySeries(keep func(requestKey) bool, scale float64) string {
	series := map[string]float64{}
	for k, v := range c {
		if keep(k) {
			series[k.String()] += v
		}
	}
	return joinCounts(series, scale)
}

func joinCounts(counts map[string]float64, scale float64) string {
	keys := slices.Collect(maps.Keys(counts))
	slices.SortFunc(keys, func(a, b string) int {
		if counts[a] != counts[b] {
			if counts[a] > counts[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %s", k, number(counts[k]*scale)))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// number prints a count or a rate: whole numbers as such, small rates with one or two decimals.
func number(v float64) string {
	switch {
	case v == float64(int64(v)):
		return fmt.Sprintf("%d", int64(v))
	case v >= 10:
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
