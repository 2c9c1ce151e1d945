package main

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"

	"github.com/rafiki-go/rafiki/app"
	"github.com/rafiki-go/rafiki/handlers/peer"
	"github.com/rafiki-go/rafiki/handlers/tenant"
)

const secretsUsage = "usage: rafiki secrets shred tenant|peer <id> | rafiki secrets rewrap"

// secretsCommand shreds a deleted aggregate's secrets, then rebuilds its
// read model without them; or rewraps every data key with the current
// EVENT_SECRETS_KEY after a rotation.
func secretsCommand(args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	switch {
	case len(args) == 3 && args[0] == "shred" && (args[1] == tenant.AggregateType || args[1] == peer.AggregateType):
		deps, err := openForTool(ctx, app.ToolNeeds{Events: true, Postgres: true})
		if err != nil {
			return err
		}
		defer deps.Close()
		if err := deps.Shred(ctx, args[1], args[2]); err != nil {
			return err
		}
		fmt.Printf("shredded the secrets of %s %s\n", args[1], args[2])
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
