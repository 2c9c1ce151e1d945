package tigerbeetle_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rafiki-go/rafiki/ledger"
	"github.com/rafiki-go/rafiki/ledger/ledgertest"
	"github.com/rafiki-go/rafiki/ledger/tigerbeetle"
)

// connectTimeout bounds New: a cluster that does not answer fails the test
// instead of hanging it.
const connectTimeout = 10 * time.Second

// TestContract runs the ledger contract suite against a running cluster,
// named as Rafiki names it in its environment.
func TestContract(t *testing.T) {
	addresses := os.Getenv("TIGERBEETLE_REPLICA_ADDRESSES")
	if addresses == "" {
		t.Skip("TigerBeetle's server is not available on this machine; set TIGERBEETLE_REPLICA_ADDRESSES (and TIGERBEETLE_CLUSTER_ID) to run the ledger contract suite against it")
	}
	opts := tigerbeetle.Options{}
	for a := range strings.SplitSeq(addresses, ",") {
		opts.Addresses = append(opts.Addresses, strings.TrimSpace(a))
	}
	if s := os.Getenv("TIGERBEETLE_CLUSTER_ID"); s != "" {
		id, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("TIGERBEETLE_CLUSTER_ID=%q: %v", s, err)
		}
		opts.ClusterID = id
	}
	connect := func(t *testing.T) *tigerbeetle.Ledger {
		ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
		defer cancel()
		l, err := tigerbeetle.New(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(l.Close)
		return l
	}
	ledgertest.Run(t, func(t *testing.T) ledger.Ledger {
		return reopenable{Ledger: connect(t), connect: connect}
	})
}

// reopenable lets the suite's crash test restart the process: the store is
// the cluster, so a restarted process is a new client of it.
type reopenable struct {
	*tigerbeetle.Ledger
	connect func(t *testing.T) *tigerbeetle.Ledger
}

var _ ledgertest.Reopener = reopenable{}

func (r reopenable) Reopen(t *testing.T) ledger.Ledger { return r.connect(t) }
