package systemtest

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/testkit"
)

// TestStreamReplicasChangeOnlyByApply sets a three-node cluster's streams
// up with three replicas (`rafiki streams apply`, NATS_STREAM_REPLICAS=3),
// then runs, from an environment without NATS_STREAM_REPLICAS as an
// operator's shell may be, `rafiki streams apply` and `check`, `migrate`,
// `backend`, `events`, `replay` and `ledger check`: every stream keeps its
// three replicas and every stream and consumer its configuration. A
// backend told NATS_STREAM_REPLICAS=1 refuses to start, naming the
// replicas.
func TestStreamReplicasChangeOnlyByApply(t *testing.T) {
	h := newHarness(t)
	nodes := h.NATSCluster()
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.URL())
	}
	r := h.NewRafiki(map[string]string{"NATS_URL": strings.Join(urls, ","), "NATS_STREAM_REPLICAS": "3"})
	r.ApplyStreams(t)
	delete(r.Env, "NATS_STREAM_REPLICAS")
	js := connectJetStream(t, strings.Join(urls, ","))
	before := testkit.DeclaredConfigs(t, js)
	for name, cfg := range before {
		if strings.HasPrefix(name, "stream ") && !strings.Contains(cfg, `"num_replicas":3`) {
			t.Fatalf("%s is not replicated three times: %s", name, cfg)
		}
	}

	out := r.ApplyStreams(t)
	if !strings.Contains(out, "0 created, 0 updated") || !strings.Contains(out, "existing streams keep theirs") {
		t.Fatalf("streams apply without NATS_STREAM_REPLICAS:\n%s", out)
	}
	for _, args := range [][]string{{"streams", "check"}, {"migrate"}} {
		if out, err := r.Run(time.Minute, args...); err != nil {
			t.Fatalf("rafiki %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	backend := r.Start("backend", nil, "backend")
	r.WaitReady(t, backend, 90*time.Second)
	if err := backend.Stop(syscall.SIGTERM, 20*time.Second); err != nil {
		t.Fatalf("backend after SIGTERM: %v", err)
	}
	// The backend seeded the operator tenant: its first event.
	for _, args := range [][]string{{"events", r.TenantID}, {"replay", "tenants"}, {"ledger", "check"}} {
		if out, err := r.Run(time.Minute, args...); err != nil {
			t.Fatalf("rafiki %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	after := testkit.DeclaredConfigs(t, js)
	for name, cfg := range before {
		if after[name] != cfg {
			t.Errorf("%s changed:\nbefore %s\nafter  %s", name, cfg, after[name])
		}
	}

	refused := r.Start("backend-r1", map[string]string{"NATS_STREAM_REPLICAS": "1"}, "backend")
	refused.WaitExit(t, 30*time.Second)
	if !strings.Contains(refused.Output(), "stream EVENTS: replicas declared 1, found 3") {
		t.Fatalf("a backend with NATS_STREAM_REPLICAS=1 on R3 streams:\n%s", refused.Output())
	}
}
