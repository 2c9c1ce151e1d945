package app

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/rafiki-go/rafiki/config"
	"github.com/rafiki-go/rafiki/handlers"
	"github.com/rafiki-go/rafiki/handlers/incomingpayment"
	"github.com/rafiki-go/rafiki/handlers/outgoingpayment"
	"github.com/rafiki-go/rafiki/handlers/peer"
	"github.com/rafiki-go/rafiki/handlers/tenant"
	"github.com/rafiki-go/rafiki/httpsig"
	"github.com/rafiki-go/rafiki/secrets"
)

// KeysStream keeps the wrapped data keys of event secrets; unlike
// EventsStream it allows deletes, which shred a key.
const KeysStream = "EVENT_KEYS"

// DevKeyFile is where a process on the embedded NATS store keeps its
// EVENT_SECRETS_KEY when the variable is unset, beside the store it
// protects.
const DevKeyFile = "event-secrets.key"

// EventSecretsKey is the master key of event secrets: EVENT_SECRETS_KEY, or,
// when it is unset and the process uses the embedded NATS store (no
// NATS_URL), the key in DATA_DIR, made on first use. Processes on a shared
// NATS_URL open each other's secrets, so they must be given one key.
func EventSecretsKey(cfg config.Config) ([]byte, error) {
	if cfg.EventSecretsKey != nil {
		return cfg.EventSecretsKey, nil
	}
	if cfg.NATSURL != "" {
		return nil, errors.New("EVENT_SECRETS_KEY must be set: every process on NATS_URL opens the secrets the others " +
			"sealed, so all share one key (openssl rand -base64 32)")
	}
	return DevEventSecretsKey(cfg.DataDir)
}

// DevEventSecretsKey reads the key kept in dataDir, making it the first
// time: 32 random bytes, base64, in a file only its owner may read.
func DevEventSecretsKey(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, DevKeyFile)
	key, err := readKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("event secrets key: %w", err)
	}
	key = make([]byte, secrets.KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("event secrets key: %w", err)
	}
	// Written under another name and linked into place, so that the key
	// file, once there, is whole, and of two processes making one at once
	// both use the one that won.
	tmp, err := os.CreateTemp(dataDir, DevKeyFile+".*")
	if err != nil {
		return nil, fmt.Errorf("event secrets key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("event secrets key %s: %w", tmp.Name(), err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("event secrets key %s: %w", path, err)
	}
	return readKeyFile(path)
}

func readKeyFile(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("event secrets key: %w", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("event secrets key %s: mode %v lets others read it; chmod 600 it", path, info.Mode().Perm())
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("event secrets key: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(text)))
	if err != nil || len(key) != secrets.KeySize {
		return nil, fmt.Errorf("event secrets key %s: want %d bytes, base64-encoded", path, secrets.KeySize)
	}
	return key, nil
}

// Shred drops the data key of a deleted tenant or peer, or of a finished
// payment, so that the secrets its events carry can never be read again: a
// tenant's or peer's secrets, the data a payment carried to or from the
// other wallet (dataToTransmit, a partial payment's dataFromSender). The
// tenants' and peers' read models forget them when they are next rebuilt
// (`rafiki replay`); a payment's data is sealed wherever it is kept (the
// webhooks read model included), and a webhook sent after the shredding
// carries it empty. A live aggregate is refused: its secrets are in use, and
// it could get no new ones.
func (d *Deps) Shred(ctx context.Context, aggregateType, id string) error {
	var subject string
	var err error
	switch aggregateType {
	case tenant.AggregateType:
		subject, err = tenant.Subject(id)
	case peer.AggregateType, incomingpayment.AggregateType, outgoingpayment.AggregateType:
		var tenantID string
		var ok bool
		if tenantID, ok, err = handlers.Locate(ctx, d.Store, aggregateType, id); ok {
			subject, err = handlers.Subject(tenantID, aggregateType, id)
		}
	default:
		return fmt.Errorf("shred: %q has no secrets (tenant, peer, incoming_payment or outgoing_payment)", aggregateType)
	}
	if err != nil {
		return err
	}
	var found, done bool
	var live string
	if subject != "" {
		switch aggregateType {
		case tenant.AggregateType:
			var s tenant.State
			s, _, err = handlers.Load(ctx, d.Store, subject, tenant.Evolve)
			found, done, live = s.Exists, s.DeletedAt != nil, "is not deleted; delete it first"
		case peer.AggregateType:
			var s peer.State
			s, _, err = handlers.Load(ctx, d.Store, subject, peer.Evolve)
			found, done, live = s.Exists, s.DeletedAt != nil, "is not deleted; delete it first"
		case incomingpayment.AggregateType:
			var s incomingpayment.State
			s, _, err = handlers.Load(ctx, d.Store, subject, incomingpayment.Evolve)
			found, done = s.Exists, s.State == incomingpayment.StateCompleted || s.State == incomingpayment.StateExpired
			live = "is still open: it can receive money until it completes or expires"
		case outgoingpayment.AggregateType:
			var s outgoingpayment.State
			s, _, err = handlers.Load(ctx, d.Store, subject, outgoingpayment.Evolve)
			found, done, live = s.Exists, s.Finished(), "is not finished: it may still send its data"
		}
		if err != nil {
			return err
		}
	}
	if !found {
		return fmt.Errorf("shred: no %s %s", aggregateType, id)
	}
	if !done {
		return fmt.Errorf("shred: %s %s %s", aggregateType, id, live)
	}
	return d.Keys.Shred(ctx, aggregateType, id)
}

// ClientKey is the key the backend signs its requests to other wallets
// with: PRIVATE_KEY_FILE's, or one made for this process when it is unset,
// as Rafiki makes one. A made key dies with the process, and every process
// of an instance publishes its key under the same KEY_ID, so an instance
// of more than one backend process needs the file.
func ClientKey(cfg config.Config, log *slog.Logger) (ed25519.PrivateKey, error) {
	if cfg.PrivateKeyFile == "" {
		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("client key: %w", err)
		}
		log.Info("PRIVATE_KEY_FILE is not set: signing requests to other wallets with a key made for this process", "keyId", cfg.KeyID)
		return key, nil
	}
	data, err := os.ReadFile(cfg.PrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("PRIVATE_KEY_FILE: %w", err)
	}
	key, err := httpsig.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("PRIVATE_KEY_FILE %s: %w", cfg.PrivateKeyFile, err)
	}
	return key, nil
}
