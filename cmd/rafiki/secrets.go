package main

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/handlers/incomingpayment"
	"github.com/rafiki-go/rafiki/handlers/outgoingpayment"
	"github.com/rafiki-go/rafiki/handlers/peer"
	"github.com/rafiki-go/rafiki/handlers/tenant"
)

const secretsUsage = "usage: rafiki secrets shred tenant|peer|incoming_payment|outgoing_payment <id> | rafiki secrets rewrap"

// shreddable are the aggregates with secrets, and whether a read model holds
// them opened (and is rebuilt after a shredding).
var shreddable = map[string]bool{tenant.AggregateType: true, peer.AggregateType: true,
	incomingpayment.AggregateType: false, outgoingpayment.AggregateType: false}

// secretsCommand shreds a deleted tenant's or peer's secrets, then rebuilds
// its read model without them, or a finished payment's data; or rewraps
// every data key with the current EVENT_SECRETS_KEY after a rotation.
func secretsCommand(args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	switch {
	case len(args) == 3 && args[0] == "shred":
		rebuild, ok := shreddable[args[1]]
		if !ok {
			break
		}
		deps, err := openForTool(ctx, app.ToolNeeds{Events: true, Postgres: true})
		if err != nil {
			return err
		}
		defer deps.Close()
		if err := deps.Shred(ctx, args[1], args[2]); err != nil {
			return err
		}
		fmt.Printf("shredded the secrets of %s %s\n", args[1], args[2])
		if !rebuild {
			return nil
		}
		return replayOn(ctx, deps, args[1]+"s")
	case len(args) == 1 && args[0] == "rewrap":
		deps, err := openForTool(ctx, app.ToolNeeds{Events: true})
		if err != nil {
			return err
		}
		defer deps.Close()
		n, err := deps.Keys.Rewrap(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("rewrapped %d data keys with the current EVENT_SECRETS_KEY\n", n)
		return nil
	}
	return fmt.Errorf("%s", secretsUsage)
}
