package projections_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/events"
	"github.com/rafiki-go/rafiki/migrations"
	"github.com/rafiki-go/rafiki/projections"
	"github.com/rafiki-go/rafiki/testkit"
)

// insertions are the events that insert rows keyed by their aggregate's
// id (or, for a fee, the fee's id; for a grant's spend, its payment's).
var insertions = map[string]bool{
	events.TenantCreated{}.EventType(): true, events.AssetCreated{}.EventType(): true, events.FeeSet{}.EventType(): true,
	events.WalletAddressCreated{}.EventType(): true, events.WalletAddressKeyAdded{}.EventType(): true,
	events.PeerCreated{}.EventType(): true, events.IncomingPaymentCreated{}.EventType(): true, events.QuoteCreated{}.EventType(): true,
	events.OutgoingPaymentCreated{}.EventType(): true, events.OutgoingPaymentGrantSpent{}.EventType(): true,
}

// withDuplicates is the history with some of its insertions stored a second
// time, byte for byte, at a later sequence (a free one in a gap), as a
// command retried after the stream's duplicate window stores it. It returns
// the stream and how many duplicates it holds.
func (h *history) withDuplicates() ([][]byte, []uint64, int) {
	type dup struct {
		data []byte
		seq  uint64
	}
	after := map[int]dup{} // by the index it follows
	for i, data := range h.data {
		env, err := events.Unmarshal(data, h.seqs[i])
		if err != nil {
			panic(err)
		}
		if !insertions[env.Type] || !h.chance(30) {
			continue
		}
		// Some later gap no other duplicate took, soon after or anywhere
		// later, after many changes.
		within := len(h.data) - i
		if h.chance(50) {
			within = min(within, 50)
		}
		for range 20 {
			j := i + 1 + h.rng.IntN(within)
			if j >= len(h.data)-1 || h.seqs[j]+1 == h.seqs[j+1] {
				continue
			}
			if _, taken := after[j]; !taken {
				after[j] = dup{data, h.seqs[j] + 1}
				break
			}
		}
	}
	var data [][]byte
	var seqs []uint64
	for i := range h.data {
		data, seqs = append(data, h.data[i]), append(seqs, h.seqs[i])
		if d, ok := after[i]; ok {
			data, seqs = append(data, d.data), append(seqs, d.seq)
		}
	}
	return data, seqs, len(after)
}

// TestEventStoredTwiceChangesNothing builds every projection from a
// generated history, once as it is and then with some of its insertions
// (creations, fees) stored a second time later in the stream, after the
// aggregate changed: as the runner applies it, in small batches
// (statements) and large ones (folded within the batch, the aggregate's
// first creation in an earlier batch), and as a replay folds it, with its
// rows held until the end or copied in chunks (a chunk that repeats a
// creation copied earlier fails, and the replay builds again carefully).
// Nothing is set aside and every table holds the same rows.
func TestEventStoredTwiceChangesNothing(t *testing.T) {
	dbURL := testkit.NewDatabase(t)
	if err := migrations.Up(dbURL); err != nil {
		t.Fatal(err)
	}
	pool := testkit.Pool(t, dbURL)
	ctx := context.Background()
	keys := testkit.Keyring(t, testkit.StartNATS(t, false).JS)
	for _, p := range app.Projections(keys) {
		t.Run(p.Name(), func(t *testing.T) {
			h := newHistory(int64(len(p.Name()))+200, keys)
			h.more = 2000 // long lives: a copy of a creation comes after many changes
			histories[p.Name()](h)
			data, seqs, dups := h.withDuplicates()
			if dups < 10 {
				t.Fatalf("%d duplicates: the test proves little", dups)
			}
			want := "twice_" + p.Name() + "_once"
			if err := projections.BuildLive(ctx, pool, statementsOnly{p}, want, 10, h.data, h.seqs); err != nil {
				t.Fatal(err)
			}
			counts := tableCounts(t, pool, want)
			for _, c := range []struct {
				name           string
				live           bool
				rowsMax, batch int
			}{
				{"runner_small", true, 0, 10}, {"runner_large", true, 0, 200},
				{"replay", false, 1 << 30, 500}, {"replay_chunks", false, 40, 100},
			} {
				got := fmt.Sprintf("twice_%s_%s", p.Name(), c.name)
				var err error
				if c.live {
					err = projections.BuildLive(ctx, pool, p, got, c.batch, data, seqs)
				} else {
					var aside []uint64
					aside, err = projections.BuildSettingAside(ctx, pool, p, got, c.rowsMax, c.batch, false, data, seqs)
					if projections.CannotApply(err) {
						got += "_careful"
						aside, err = projections.BuildSettingAside(ctx, pool, p, got, c.rowsMax, c.batch, true, data, seqs)
					}
					if err == nil && len(aside) > 0 {
						err = fmt.Errorf("set aside %v", aside)
					}
				}
				if err != nil {
					t.Fatalf("%s: %v", got, err)
				}
				sameTables(t, pool, want, got, counts)
			}
		})
	}
}
