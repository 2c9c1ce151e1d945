// Command rafiki runs the services of rafiki-go and the tools to operate
// them. Every service reads its configuration from the environment, under
// Rafiki's variable names.
package main

import (
	"fmt"
	"os"

	"github.com/rafiki-go/rafiki/app"
)

const usage = `usage: rafiki <command> [arguments]

services:
  dev              every service in one process, with an embedded NATS JetStream
                   server (store under DATA_DIR, ./data by default)
  backend          Open Payments, the backend admin GraphQL API, the ILP connector
  auth             the GNAP authorization server and its admin API
  worker           projections and process managers; run as many as you like
  adminui          the admin web UI
  example-wallet   a reference wallet: receives the webhooks (SIGNATURE_SECRET),
                   funds outgoing payments, withdraws what finished payments
                   leave, serves rates; seeds demo accounts through GRAPHQL_URL
                   (dev runs it on EXAMPLE_WALLET_PORT; 0 leaves it out)

tools:
  migrate                     apply the Postgres migrations (DATABASE_URL and
                              AUTH_DATABASE_URL)
  streams apply               create or update the JetStream streams and consumers
                              as streams.yaml declares them, with NATS_STREAM_REPLICAS
                              replicas (unset: existing streams keep theirs)
  streams check               compare the server with streams.yaml; exit 1 if it differs
  replay <projection>         rebuild a read model from the first event, then swap it in
                              (grants in AUTH_DATABASE_URL, the others in DATABASE_URL)
  events <id> [--at <time>]   print the event history of an object, or its state at a time
  ledger check                verify that every ledger's balances sum to zero and that events
                              explain every deposit and withdrawal
  secrets shred tenant|peer|incoming_payment|outgoing_payment <id>
                              make a deleted tenant's or peer's secrets, or a finished
                              payment's data, unreadable for good (drops its data key);
                              a tenant's or peer's read model is rebuilt
  secrets rewrap              wrap every data key with EVENT_SECRETS_KEY (after a rotation)
  gql [-f file] [-v json] [query]
                              send a signed query or mutation to the admin API and
                              print the answer (TENANT_ID and TENANT_API_SECRET, the
                              operator's by default; rafiki gql -h)

Only dev and streams apply change the streams; backend and worker refuse to
start while the server differs from streams.yaml. The tools open only what
they read and do not migrate: events reads NATS, ledger check the ledger and
the events, replay both (on a database that rafiki migrate or a service
migrated).

Services and tools connect to NATS_URL; without it, dev embeds a server and the
tools use the one a running dev serves on EMBEDDED_NATS_PORT (4223), or the store
under DATA_DIR.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	args := os.Args[2:]
	switch os.Args[1] {
	case "dev":
		err = runServices("dev", true, app.Set{Backend: true, Auth: true, Worker: true, AdminUI: true, ExampleWallet: true})
	case "backend":
		err = runServices("backend", false, app.Set{Backend: true})
	case "auth":
		err = runServices("auth", false, app.Set{Auth: true})
	case "worker":
		err = runServices("worker", false, app.Set{Worker: true})
	case "adminui":
		err = runServices("adminui", false, app.Set{AdminUI: true})
	case "example-wallet":
		err = runServices("example-wallet", false, app.Set{ExampleWallet: true})
	case "migrate":
		err = migrate()
	case "streams":
		err = streamsCommand(args)
	case "replay":
		err = replay(args)
	case "events":
		err = eventsCommand(args)
	case "ledger":
		err = ledgerCommand(args)
	case "secrets":
		err = secretsCommand(args)
	case "gql":
		err = gqlCommand(args, os.Stdin, os.Stdout, os.Stderr)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "rafiki: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "rafiki %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
