package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/rafiki-go/rafiki/adminclient"
	"github.com/rafiki-go/rafiki/config"
)

const gqlUsage = `usage: rafiki gql [-f file] [-v json] [query]

Sends a query or mutation to the backend's admin GraphQL API, signed as the
API expects, and prints the JSON answer. Exits 1 when the answer carries
errors or the API refuses the request.

  query      the query or mutation (or -f)
  -f file    read it from a file ("-" for standard input)
  -v json    its variables, a JSON object (or -v @file to read them from a file)
  -o name    the operation to run, when the document has several

Environment:
  GRAPHQL_URL        the admin API (default http://localhost:$ADMIN_PORT/graphql)
  TENANT_ID          the tenant to sign as (default OPERATOR_TENANT_ID)
  TENANT_API_SECRET  its API secret (default ADMIN_API_SECRET, the operator's)
`

// gqlCommand runs `rafiki gql`.
func gqlCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gql", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, gqlUsage) }
	file := fs.String("f", "", "")
	vars := fs.String("v", "", "")
	operation := fs.String("o", "", "")
	// Flags may come before or after the query.
	var positional []string
	for {
		if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			return nil
		} else if err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	query, err := gqlQuery(positional, *file, stdin)
	if err != nil {
		return err
	}
	variables, err := gqlVariables(*vars)
	if err != nil {
		return err
	}
	cfg, err := config.Load("backend")
	if err != nil {
		return err
	}
	client := adminclient.Client{URL: os.Getenv("GRAPHQL_URL"), TenantID: os.Getenv("TENANT_ID"), Secret: os.Getenv("TENANT_API_SECRET")}
	if client.URL == "" {
		client.URL = fmt.Sprintf("http://localhost:%d/graphql", cfg.AdminPort)
	}
	if client.TenantID == "" {
		client.TenantID = cfg.OperatorTenantID
	}
	if client.Secret == "" {
		client.Secret = cfg.AdminAPISecret
	}
	request := map[string]any{"query": query}
	if variables != nil {
		request["variables"] = variables
	}
	if *operation != "" {
		request["operationName"] = *operation
	}
	body, err := json.Marshal(request)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := client.Request(ctx, body, time.Now())
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", client.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered HTTP %d: %s", client.URL, resp.StatusCode, bytes.TrimSpace(raw))
	}
	var answer struct {
		Errors []json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil {
		return fmt.Errorf("the answer is not JSON: %s", raw)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, raw, "", "  "); err != nil {
		return err
	}
	pretty.WriteByte('\n')
	if _, err := stdout.Write(pretty.Bytes()); err != nil {
		return err
	}
	if len(answer.Errors) > 0 {
		return errors.New("the answer carries errors")
	}
	return nil
}

func gqlQuery(positional []string, file string, stdin io.Reader) (string, error) {
	switch {
	case file != "" && len(positional) > 0:
		return "", errors.New("give the query as an argument or with -f, not both")
	case len(positional) > 1:
		return "", fmt.Errorf("one query only (%d arguments): quote it", len(positional))
	case len(positional) == 1:
		return positional[0], nil
	case file == "-":
		b, err := io.ReadAll(stdin)
		return string(b), err
	case file != "":
		b, err := os.ReadFile(file)
		return string(b), err
	}
	return "", errors.New("no query: give one as an argument or with -f (rafiki gql -h)")
}

// gqlVariables reads -v: a JSON object, or @file holding one.
func gqlVariables(text string) (map[string]any, error) {
	if text == "" {
		return nil, nil
	}
	if text[0] == '@' {
		b, err := os.ReadFile(text[1:])
		if err != nil {
			return nil, err
		}
		text = string(b)
	}
	var vars map[string]any
	if err := json.Unmarshal([]byte(text), &vars); err != nil {
		return nil, fmt.Errorf("-v: the variables must be a JSON object: %w", err)
	}
	if vars == nil {
		return nil, errors.New("-v: the variables must be a JSON object, not null")
	}
	return vars, nil
}
