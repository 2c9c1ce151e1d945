// Package sender is the sending side of STREAM (interledger RFC 29): a
// connection to a receiver's credentials, a rate probe with unfulfillable
// packets that learns the exchange rate and the path's max packet amount,
// and payments of a fixed source or delivery amount split into packets, as
// Rafiki's sender (@interledger/pay) behaves.
package sender

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rafiki-go/rafiki/connector/ilp"
	"github.com/rafiki-go/rafiki/connector/stream"
)

// SendFunc sends a Prepare to the next hop and answers its Fulfill or
// Reject; an error is a Prepare that got no answer.
type SendFunc func(ctx context.Context, p ilp.Prepare) (ilp.Packet, error)

// Sender holds how packets are sent; its zero fields take the defaults.
type Sender struct {
	Send SendFunc
	// PacketExpiry is how long each Prepare lives; 20 s when zero.
	PacketExpiry time.Duration
	// InFlightMax bounds the Prepares awaiting their answer; 20 when zero.
	InFlightMax int
	// RetriesMax bounds the temporary failures in a row (T errors, R01, a
	// Prepare without an answer) before a payment or probe ends; 10 when
	// zero.
	RetriesMax int
	// RetryDelay is the pause after the first temporary failure, doubled
	// after each next one up to RetryDelayMax; 20 ms and 2 s when zero.
	RetryDelay    time.Duration
	RetryDelayMax time.Duration
	// ProbeTimeout bounds a rate probe; 10 s when zero.
	ProbeTimeout time.Duration
}

const (
	packetExpiryDefault  = 20 * time.Second
	inFlightMaxDefault   = 20
	retriesMaxDefault    = 10
	retryDelayDefault    = 20 * time.Millisecond
	retryDelayMaxDefault = 2 * time.Second
	probeTimeoutDefault  = 10 * time.Second
)

func (s Sender) withDefaults() Sender {
	if s.PacketExpiry <= 0 {
		s.PacketExpiry = packetExpiryDefault
	}
	if s.InFlightMax <= 0 {
		s.InFlightMax = inFlightMaxDefault
	}
	if s.RetriesMax <= 0 {
		s.RetriesMax = retriesMaxDefault
	}
	if s.RetryDelay <= 0 {
		s.RetryDelay = retryDelayDefault
	}
	if s.RetryDelayMax <= 0 {
		s.RetryDelayMax = retryDelayMaxDefault
	}
	if s.ProbeTimeout <= 0 {
		s.ProbeTimeout = probeTimeoutDefault
	}
	return s
}

// retryDelay is the pause after failures temporary failures in a row.
func (s Sender) retryDelay(failures int) time.Duration {
	d := s.RetryDelay
	for i := 1; i < failures && d < s.RetryDelayMax; i++ {
		d *= 2
	}
	return min(d, s.RetryDelayMax)
}

// streamID is the one stream a payment sends on: the first a client opens.
const streamID = 1

// DataBytesMax bounds a payment's application data, so that with the STREAM
// packet's header, its other frames and its encryption it fits a Prepare.
const DataBytesMax = ilp.DataBytesMax - 256

// Errors a connection, probe or payment ends with; RejectError tells which
// packet ended it.
var (
	ErrEstablishment     = errors.New("stream sender: the receiver did not answer the connection")
	ErrUnknownAsset      = errors.New("stream sender: the receiver did not tell its asset")
	ErrAssetConflict     = errors.New("stream sender: the receiver changed its asset")
	ErrClosed            = errors.New("stream sender: the receiver closed the connection")
	ErrRateProbe         = errors.New("stream sender: the rate probe found no rate and max packet amount")
	ErrInsufficientRate  = errors.New("stream sender: the exchange rate is below the minimum")
	ErrProtocolViolation = errors.New("stream sender: the receiver broke the protocol")
	ErrReceiveMax        = errors.New("stream sender: the receiver takes less than the payment delivers")
	ErrRetries           = errors.New("stream sender: too many temporary failures in a row")
	ErrMaxPacketAmount   = errors.New("stream sender: the path's max packet amount is zero")
)

// RejectError is a Reject that ended a probe or payment.
type RejectError struct {
	Code        string
	Message     string
	TriggeredBy string
}

func (e *RejectError) Error() string {
	return fmt.Sprintf("stream sender: %s reject from %q: %q", e.Code, e.TriggeredBy, e.Message)
}

func rejectError(rj ilp.Reject) *RejectError {
	return &RejectError{Code: rj.Code, Message: rj.Message, TriggeredBy: rj.TriggeredBy}
}

// ApplicationError is the receiver closing the connection with data for
// the sender's application on the payment's stream: why it declined the
// payment (Rafiki's receiver answers a payment's data it refuses so). It is
// an ErrClosed.
type ApplicationError struct {
	Code    stream.ErrorCode
	Message string
	Data    []byte
}

func (e *ApplicationError) Error() string {
	return fmt.Sprintf("%s: %s %q with data %q", ErrClosed, e.Code, e.Message, e.Data)
}

func (e *ApplicationError) Unwrap() error { return ErrClosed }

// Connection is a STREAM connection to one receiver's credentials. Its
// methods may be called from one goroutine at a time.
type Connection struct {
	s           Sender
	destination string
	keys        *stream.Keys

	mu        sync.Mutex
	sequence  uint64
	connected bool
	asset     *stream.Asset
}

// request is one Prepare to send: its amount, the least the receiver is to
// take (the STREAM packet's PrepareAmount), whether the receiver may
// fulfil it, its frames.
type request struct {
	amount         uint64
	minDestination uint64
	fulfillable    bool
	frames         []stream.Frame
	// data says the frames carry the payment's data.
	data bool
	// estimate is the most a payment's packet may deliver, held against
	// what is left to deliver while it is in flight.
	estimate uint64
	// rounding says the packet took the payment's one unit of rounding
	// (see nextPacket).
	rounding bool
}

// reply is what came back for a request. A Prepare without an answer is a
// T00 reject made here, as the reference sender does.
type reply struct {
	fulfilled bool
	reject    ilp.Reject
	// authentic says a STREAM packet of the receiver's came back: received
	// and frames are the receiver's.
	authentic bool
	received  uint64
	frames    []stream.Frame
}

// closedError is the error of a reply that closed the connection or the
// payment's stream, nil for one that did not: an ApplicationError when it
// carries data on the payment's stream, ErrClosed otherwise.
func (r reply) closedError() error {
	var code stream.ErrorCode
	var msg string
	var closed bool
	var data []byte
	for _, f := range r.frames {
		switch f := f.(type) {
		case stream.ConnectionClose:
			if !closed {
				code, msg, closed = f.Code, f.Message, true
			}
		case stream.StreamClose:
			if f.StreamID == streamID && !closed {
				code, msg, closed = f.Code, f.Message, true
			}
		case stream.StreamData:
			if f.StreamID == streamID {
				data = append(data, f.Data...)
			}
		}
	}
	switch {
	case !closed:
		return nil
	case len(data) > 0:
		return &ApplicationError{Code: code, Message: msg, Data: data}
	}
	return fmt.Errorf("%w: %s %q", ErrClosed, code, msg)
}

// temporary says the packet may be sent again: T errors, R01, no answer.
func (r reply) temporary() bool {
	if r.fulfilled {
		return false
	}
	code := r.reject.Code
	return (len(code) > 0 && code[0] == 'T') || code == ilp.CodeInsufficientSourceAmount
}

// Connect opens a connection to destination with the shared secret its
// receiver gave: a packet that tells the receiver of the connection and
// learns the receiver's asset, sent again on temporary failures.
func (s Sender) Connect(ctx context.Context, destination string, sharedSecret []byte) (*Connection, error) {
	if s.Send == nil {
		return nil, errors.New("stream sender: no SendFunc")
	}
	if err := ilp.ValidateAddress(destination); err != nil {
		return nil, fmt.Errorf("stream sender: destination: %w", err)
	}
	keys, err := stream.NewKeys(sharedSecret)
	if err != nil {
		return nil, fmt.Errorf("stream sender: shared secret: %w", err)
	}
	c := &Connection{s: s.withDefaults(), destination: destination, keys: keys}
	r, err := c.sendRetrying(ctx, request{frames: []stream.Frame{stream.ConnectionNewAddress{}}})
	if err != nil {
		return nil, err
	}
	if !r.authentic {
		if !r.fulfilled {
			return nil, fmt.Errorf("%w: %w", ErrEstablishment, rejectError(r.reject))
		}
		return nil, ErrEstablishment
	}
	if err := r.closedError(); err != nil {
		return nil, err
	}
	if _, ok := c.Asset(); !ok {
		return nil, ErrUnknownAsset
	}
	return c, nil
}

// Asset is the receiver's asset, as it told it.
func (c *Connection) Asset() (stream.Asset, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.asset == nil {
		return stream.Asset{}, false
	}
	return *c.asset, true
}

// Close tells the receiver the payment's stream and the connection are
// done, in one unfulfillable packet; any answer will do.
func (c *Connection) Close(ctx context.Context) error {
	_, err := c.sendRetrying(ctx, request{frames: []stream.Frame{
		stream.StreamClose{StreamID: streamID, Code: stream.NoError},
		stream.ConnectionClose{Code: stream.NoError},
	}})
	return err
}

// sendRetrying sends one request again after temporary failures, at most
// RetriesMax times, and answers the last reply.
func (c *Connection) sendRetrying(ctx context.Context, req request) (reply, error) {
	for failures := 0; ; failures++ {
		r, err := c.send(ctx, req)
		if err != nil {
			return reply{}, err
		}
		if !r.temporary() {
			return r, nil
		}
		if failures >= c.s.RetriesMax {
			return reply{}, fmt.Errorf("%w: %w", ErrRetries, rejectError(r.reject))
		}
		if err := sleep(ctx, c.s.retryDelay(failures+1)); err != nil {
			return reply{}, err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// send sends one Prepare and reads its answer. The error is ctx's, or a
// change of the receiver's asset; everything else is in the reply.
func (c *Connection) send(ctx context.Context, req request) (reply, error) {
	c.mu.Lock()
	c.sequence++
	seq := c.sequence
	frames := req.frames
	if !c.connected {
		frames = append([]stream.Frame{stream.ConnectionMaxStreamID{MaxStreamID: streamID}, stream.ConnectionMaxData{}}, frames...)
	}
	c.mu.Unlock()

	data, err := c.keys.Seal(stream.Packet{Version: stream.Version, Type: stream.TypePrepare, Sequence: seq,
		PrepareAmount: req.minDestination, Frames: frames})
	if err != nil {
		return reply{}, fmt.Errorf("stream sender: %w", err)
	}
	var fulfillment, condition [sha256.Size]byte
	if req.fulfillable {
		fulfillment = c.keys.Fulfillment(data)
		condition = stream.Condition(fulfillment)
	} else if _, err := rand.Read(condition[:]); err != nil {
		return reply{}, fmt.Errorf("stream sender: %w", err)
	}
	expiresAt := time.Now().Add(c.s.PacketExpiry)
	sendCtx, cancel := context.WithDeadline(ctx, expiresAt)
	answer, err := c.s.Send(sendCtx, ilp.Prepare{Amount: req.amount, ExpiresAt: expiresAt, ExecutionCondition: condition,
		Destination: c.destination, Data: data})
	cancel()
	if err != nil && ctx.Err() != nil {
		return reply{}, ctx.Err()
	}
	r := readReply(c.keys, seq, req.fulfillable, condition, answer, err)
	return r, c.learn(r)
}

// readReply reads the answer to the Prepare of sequence seq: a Fulfill
// that does not meet the condition is an F05, no answer a T00, and the
// receiver's STREAM packet is taken when it decrypts, has the Prepare's
// sequence, and does not claim a Reject that came back as a Fulfill.
func readReply(keys *stream.Keys, seq uint64, fulfillable bool, condition [sha256.Size]byte, answer ilp.Packet, sendErr error) reply {
	var r reply
	var data []byte
	switch p := answer.(type) {
	case ilp.Fulfill:
		sum := sha256.Sum256(p.Fulfillment[:])
		if !fulfillable || subtle.ConstantTimeCompare(sum[:], condition[:]) != 1 {
			r.reject = ilp.Reject{Code: ilp.CodeWrongCondition, Message: "fulfillment does not match the condition"}
			return r
		}
		r.fulfilled, data = true, p.Data
	case ilp.Reject:
		r.reject, data = p, p.Data
	default:
		if sendErr == nil {
			sendErr = fmt.Errorf("answered %T", answer)
		}
		r.reject = ilp.Reject{Code: ilp.CodeInternalError, Message: sendErr.Error()}
		return r
	}
	if len(data) == 0 {
		return r
	}
	plain, err := keys.Decrypt(nil, data)
	if err != nil {
		return r
	}
	p, err := stream.Decode(plain)
	if err != nil || p.Sequence != seq || (r.fulfilled && p.Type == stream.TypeReject) {
		return r
	}
	r.authentic, r.received, r.frames = true, p.PrepareAmount, p.Frames
	return r
}

// learn keeps what a reply tells of the connection: that the receiver
// answers, and its asset, which may not change.
func (c *Connection) learn(r reply) error {
	if !r.authentic {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.connected = true
	for _, f := range r.frames {
		d, ok := f.(stream.ConnectionAssetDetails)
		if !ok {
			continue
		}
		asset := stream.Asset{Code: d.SourceAssetCode, Scale: d.SourceAssetScale}
		if c.asset == nil {
			c.asset = &asset
		} else if *c.asset != asset {
			return fmt.Errorf("%w: from %s/%d to %s/%d", ErrAssetConflict, c.asset.Code, c.asset.Scale, asset.Code, asset.Scale)
		}
	}
	return nil
}
