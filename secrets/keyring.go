// Package secrets keeps the secrets events carry (tenants' API and identity
// provider secrets, peers' auth tokens, the data outgoing payments carry to
// their receivers and that partial payments bring to incoming payments) out
// of the event log in plain text.
//
// Envelope encryption: each aggregate that has secrets gets a data key of
// its own, a random AES-256 key; its secrets are sealed with AES-256-GCM
// under it, with the aggregate, the event type and the field as associated
// data, so that a sealed value cannot be moved to another aggregate, event
// or field. The data key is kept wrapped (AES-256-GCM) by the master key
// (EVENT_SECRETS_KEY) on a stream of its own, EVENT_KEYS, which allows
// deletes; the event log denies them. Dropping an aggregate's data key
// (Shred) leaves its secrets in the log unreadable for good: crypto-shredding.
package secrets

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// KeySize is the size of the master key and of every data key: AES-256.
const KeySize = 32

// sealedPrefix starts every sealed secret: the format and its version.
const sealedPrefix = "enc:v1:"

// SubjectPrefix starts the subjects of EVENT_KEYS:
// event_keys.<aggregate type>.<aggregate id>, one per aggregate.
const SubjectPrefix = "event_keys."

// ErrShredded is the error of sealing a secret for an aggregate whose data
// key was shredded: its secrets are gone, and it gets no new ones.
var ErrShredded = errors.New("the aggregate's secrets were shredded")

// ErrKeyMissing is the error of opening a secret whose data key is neither
// in EVENT_KEYS nor shredded: the stream lost it (a restore without it).
var ErrKeyMissing = errors.New("data key missing from the key stream")

// ErrKeyUnreadable marks a secret that could not be opened because its data
// key could not be read (the key stream did not answer, the key is missing,
// or no configured master key opens it): nothing is wrong with the event,
// and opening it again may succeed once the store or the configuration is
// put right.
var ErrKeyUnreadable = errors.New("data key unreadable")

// Keys held unwrapped in memory: few enough to bound the memory, long
// enough that a replay reads each key once, short enough that a process
// forgets a shredded key soon after.
const (
	cacheKeysMax = 4096
	cacheTTL     = 10 * time.Second
)

// keysListedMax bounds how many data keys Rewrap goes through.
const keysListedMax = 10_000_000

// Keyring seals and opens event secrets. It is safe for concurrent use.
type Keyring struct {
	js      jetstream.JetStream
	stream  string
	masters []master // the current one first

	mu    sync.Mutex
	cache map[string]cachedKey
}

type master struct {
	id   string
	aead cipher.AEAD
}

type cachedKey struct {
	aead cipher.AEAD
	at   time.Time
}

// record is what EVENT_KEYS holds for an aggregate: its wrapped data key,
// or, once shredded, when and which message held the key.
type record struct {
	Master      string     `json:"master,omitempty"`
	Key         []byte     `json:"key,omitempty"`
	ShreddedAt  *time.Time `json:"shreddedAt,omitempty"`
	KeySequence uint64     `json:"keySequence,omitempty"`
}

// New makes a keyring on stream (EVENT_KEYS). masterKey wraps new data
// keys; previous, when given, are master keys data keys may still be
// wrapped with (the keys before a rotation), read until Rewrap is done.
func New(js jetstream.JetStream, stream string, masterKey []byte, previous ...[]byte) (*Keyring, error) {
	k := &Keyring{js: js, stream: stream, cache: map[string]cachedKey{}}
	for _, key := range append([][]byte{masterKey}, previous...) {
		m, err := newMaster(key)
		if err != nil {
			return nil, err
		}
		k.masters = append(k.masters, m)
	}
	return k, nil
}

func newMaster(key []byte) (master, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return master{}, fmt.Errorf("event secrets master key: %w", err)
	}
	return master{id: MasterKeyID(key), aead: aead}, nil
}

// MasterKeyID names a master key without revealing it, so that a data key
// records which master key wraps it.
func MasterKeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("rafiki event secrets master key\x00"), key...))
	return hex.EncodeToString(sum[:8])
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("want a %d-byte key, have %d bytes", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Subject is where an aggregate's data key is kept.
func Subject(aggregateType, aggregateID string) (string, error) {
	for _, token := range []string{aggregateType, aggregateID} {
		if token == "" || strings.ContainsAny(token, ".*> \t\r\n") {
			return "", fmt.Errorf("data key of %s/%s: not a subject token: %q", aggregateType, aggregateID, token)
		}
	}
	return SubjectPrefix + aggregateType + "." + aggregateID, nil
}

func seal(aead cipher.AEAD, plaintext, associated []byte) ([]byte, error) {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	return aead.Seal(nonce, nonce, plaintext, associated), nil
}

func open(aead cipher.AEAD, sealed, associated []byte) ([]byte, error) {
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("sealed value too short")
	}
	n := aead.NonceSize()
	return aead.Open(nil, sealed[:n], sealed[n:], associated)
}

func wrapContext(subject string) []byte { return []byte("rafiki data key\x00" + subject) }

func secretContext(aggregateType, aggregateID, eventType, field string) []byte {
	return []byte(aggregateType + "\x00" + aggregateID + "\x00" + eventType + "\x00" + field)
}

// last reads the subject's record from the stream's leader, so that a key
// another process has just created is found.
func (k *Keyring) last(ctx context.Context, subject string) (record, uint64, bool, error) {
	s, err := k.js.Stream(ctx, k.stream)
	if err != nil {
		return record{}, 0, false, fmt.Errorf("data key %s: stream %s: %w", subject, k.stream, err)
	}
	msg, err := s.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return record{}, 0, false, nil
	}
	if err != nil {
		return record{}, 0, false, fmt.Errorf("data key %s: %w", subject, err)
	}
	var r record
	if err := json.Unmarshal(msg.Data, &r); err != nil {
		return record{}, 0, false, fmt.Errorf("data key %s at %d: %w", subject, msg.Sequence, err)
	}
	return r, msg.Sequence, true, nil
}

// put appends a record expecting the subject's last message to be at
// sequence (0: none), so that of two writers racing one fails.
func (k *Keyring) put(ctx context.Context, subject string, r record, sequence uint64) (uint64, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return 0, fmt.Errorf("data key %s: %w", subject, err)
	}
	ack, err := k.js.Publish(ctx, subject, data,
		jetstream.WithExpectStream(k.stream), jetstream.WithExpectLastSequencePerSubject(sequence))
	if err != nil {
		return 0, fmt.Errorf("data key %s: %w", subject, err)
	}
	return ack.Sequence, nil
}

func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// unwrap opens a data key with the master key that wrapped it.
func (k *Keyring) unwrap(subject string, r record) (cipher.AEAD, error) {
	key, err := k.unwrapKey(subject, r)
	if err != nil {
		return nil, err
	}
	return newAEAD(key)
}

// dataKey finds the aggregate's data key; create makes one when there is
// none yet (sealing), and a cached key is taken only when not (opening):
// a secret is never sealed under a key shredded meanwhile.
func (k *Keyring) dataKey(ctx context.Context, subject string, create bool) (cipher.AEAD, error) {
	if !create {
		if aead, ok := k.cached(subject); ok {
			return aead, nil
		}
	}
	for range 2 {
		r, _, found, err := k.last(ctx, subject)
		if err != nil {
			return nil, err
		}
		switch {
		case found && r.ShreddedAt != nil:
			return nil, fmt.Errorf("data key %s: %w", subject, ErrShredded)
		case found:
			aead, err := k.unwrap(subject, r)
			if err != nil {
				return nil, err
			}
			k.remember(subject, aead)
			return aead, nil
		case !create:
			return nil, fmt.Errorf("data key %s: %w", subject, ErrKeyMissing)
		}
		key := make([]byte, KeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("data key %s: %w", subject, err)
		}
		wrapped, err := seal(k.masters[0].aead, key, wrapContext(subject))
		if err != nil {
			return nil, err
		}
		_, err = k.put(ctx, subject, record{Master: k.masters[0].id, Key: wrapped}, 0)
		if isWrongLastSequence(err) {
			continue // another process made it first: take theirs
		}
		if err != nil {
			return nil, err
		}
		aead, err := newAEAD(key)
		if err != nil {
			return nil, err
		}
		k.remember(subject, aead)
		return aead, nil
	}
	return nil, fmt.Errorf("data key %s: created and gone again", subject)
}

func (k *Keyring) cached(subject string) (cipher.AEAD, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	c, ok := k.cache[subject]
	if !ok || time.Since(c.at) > cacheTTL {
		return nil, false
	}
	return c.aead, true
}

func (k *Keyring) remember(subject string, aead cipher.AEAD) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.cache) >= cacheKeysMax {
		clear(k.cache)
	}
	k.cache[subject] = cachedKey{aead: aead, at: time.Now()}
}

func (k *Keyring) forget(subject string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.cache, subject)
}

// Shred drops an aggregate's data key: its secrets in the event log can
// never be opened again, and it gets no new ones. The stream keeps a record
// that the key was shredded, so that opening its secrets is told apart from
// a key that was lost. The key's message is erased (overwritten on disk),
// not only deleted. Shredding again finishes an interrupted shred.
func (k *Keyring) Shred(ctx context.Context, aggregateType, aggregateID string) error {
	subject, err := Subject(aggregateType, aggregateID)
	if err != nil {
		return err
	}
	defer k.forget(subject)
	for range 2 {
		r, seq, found, err := k.last(ctx, subject)
		if err != nil {
			return err
		}
		keySeq := seq
		if found && r.ShreddedAt != nil {
			keySeq = r.KeySequence
		} else {
			now := time.Now().UTC()
			_, err = k.put(ctx, subject, record{ShreddedAt: &now, KeySequence: keySeq}, seq)
			if isWrongLastSequence(err) {
				continue // a key was made meanwhile: shred that one
			}
			if err != nil {
				return err
			}
		}
		if keySeq == 0 {
			return nil
		}
		return k.erase(ctx, subject, keySeq)
	}
	return fmt.Errorf("data key %s: changed while being shredded", subject)
}

func (k *Keyring) erase(ctx context.Context, subject string, sequence uint64) error {
	s, err := k.js.Stream(ctx, k.stream)
	if err != nil {
		return fmt.Errorf("data key %s: stream %s: %w", subject, k.stream, err)
	}
	// The server reports deleting a message that is gone as a failure of
	// its own kind; asking first tells a finished erase from a failed one.
	if _, err := s.GetMsg(ctx, sequence); errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err := s.SecureDeleteMsg(ctx, sequence); err != nil {
		return fmt.Errorf("data key %s: erase message %d: %w", subject, sequence, err)
	}
	return nil
}

// Rewrap wraps every data key not wrapped by the current master key with
// it, erasing the message that held the old wrapping: after a rotation, the
// previous master key is then needed by nothing. It returns how many keys it
// rewrapped.
func (k *Keyring) Rewrap(ctx context.Context) (int, error) {
	s, err := k.js.Stream(ctx, k.stream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", k.stream, err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(SubjectPrefix+">"))
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", k.stream, err)
	}
	if len(info.State.Subjects) > keysListedMax {
		return 0, fmt.Errorf("stream %s: more than %d data keys", k.stream, keysListedMax)
	}
	rewrapped := 0
	for subject := range info.State.Subjects {
		r, seq, found, err := k.last(ctx, subject)
		if err != nil {
			return rewrapped, err
		}
		if !found || r.ShreddedAt != nil || r.Master == k.masters[0].id {
			continue
		}
		aead, err := k.unwrapKey(subject, r)
		if err != nil {
			return rewrapped, err
		}
		wrapped, err := seal(k.masters[0].aead, aead, wrapContext(subject))
		if err != nil {
			return rewrapped, err
		}
		if _, err := k.put(ctx, subject, record{Master: k.masters[0].id, Key: wrapped}, seq); err != nil {
			return rewrapped, err
		}
		if err := k.erase(ctx, subject, seq); err != nil {
			return rewrapped, err
		}
		rewrapped++
	}
	return rewrapped, nil
}

// unwrapKey opens a data key's bytes with the master key that wrapped it.
func (k *Keyring) unwrapKey(subject string, r record) ([]byte, error) {
	for _, m := range k.masters {
		if m.id == r.Master {
			key, err := open(m.aead, r.Key, wrapContext(subject))
			if err != nil {
				return nil, fmt.Errorf("data key %s: does not open with master key %s: %w", subject, m.id, err)
			}
			return key, nil
		}
	}
	return nil, fmt.Errorf("data key %s is wrapped by master key %s, which is not among the configured ones "+
		"(EVENT_SECRETS_KEY, EVENT_SECRETS_KEY_PREVIOUS)", subject, r.Master)
}

// encodeSealed and decodeSealed give a sealed secret its text form.
func encodeSealed(sealed []byte) string {
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(sealed)
}

func decodeSealed(text string) ([]byte, error) {
	rest, ok := strings.CutPrefix(text, sealedPrefix)
	if !ok {
		return nil, errors.New("not a sealed secret")
	}
	return base64.RawStdEncoding.DecodeString(rest)
}
