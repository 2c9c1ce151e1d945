package stream

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rafiki-go/rafiki/connector/ilp"
)

// sender is a STREAM sender's side of one connection, made from the
// credentials a receiver handed out.
type sender struct {
	address string
	keys    *Keys
}

func newSender(t *testing.T, c *Credentials, base string, tag Tag) sender {
	t.Helper()
	address, secret, err := c.Generate(base, tag)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := NewKeys(secret)
	if err != nil {
		t.Fatal(err)
	}
	return sender{address: address, keys: keys}
}

// prepare is an ILP Prepare carrying an encrypted STREAM Prepare;
// fulfillable says whether its condition is the one the receiver can meet.
func (s sender) prepare(t *testing.T, amount, atLeast uint64, fulfillable bool, frames ...Frame) ilp.Prepare {
	t.Helper()
	data, err := s.keys.Seal(Packet{Version: Version, Type: TypePrepare, Sequence: 7, PrepareAmount: atLeast, Frames: frames})
	if err != nil {
		t.Fatal(err)
	}
	condition := Condition(s.keys.Fulfillment(data))
	if !fulfillable {
		condition = sha256.Sum256([]byte("a probe"))
	}
	return ilp.Prepare{Amount: amount, ExpiresAt: time.Now().Add(time.Minute), ExecutionCondition: condition, Destination: s.address, Data: data}
}

// open reads the receiver's encrypted reply.
func (s sender) open(t *testing.T, data []byte, as PacketType) Packet {
	t.Helper()
	p, err := s.keys.Open(data, as)
	if err != nil {
		t.Fatalf("reply data: %v", err)
	}
	if p.Sequence != 7 {
		t.Fatalf("reply sequence %d, want the prepare's 7", p.Sequence)
	}
	return p
}

func TestReceive(t *testing.T) {
	c, err := NewCredentials(bytes.Repeat([]byte{3}, SecretLength))
	if err != nil {
		t.Fatal(err)
	}
	base := "test.rafiki"
	usd := &Asset{Code: "USD", Scale: 2}
	walletAddress := uuid.New()
	setup := &ReceiptSetup{Nonce: [16]byte{1}, Secret: [32]byte{2}}
	s := newSender(t, c, base, Tag{ID: walletAddress, Receipt: setup})
	money := []Frame{StreamMoney{StreamID: 1, Shares: 1}, StreamData{StreamID: 1, Offset: 0, Data: []byte("for you")}}

	t.Run("taken and accepted with a receipt", func(t *testing.T) {
		p := s.prepare(t, 100, 90, true, append([]Frame{ConnectionNewAddress{SourceAccount: "test.sender"}}, money...)...)
		in, now := c.Receive(base, p, usd)
		if now != nil {
			t.Fatalf("answered at once: %+v", now)
		}
		if in.Tag.ID != walletAddress || in.Amount != 100 || len(in.Data) != 1 || string(in.AppData()) != "for you" {
			t.Fatalf("incoming %+v", in)
		}
		id := sha256.Sum256([]byte(s.address))
		if in.ConnectionID != hex.EncodeToString(id[:]) {
			t.Fatalf("connection id %q", in.ConnectionID)
		}
		f := in.Accept(250)
		if sha256.Sum256(f.Fulfillment[:]) != p.ExecutionCondition {
			t.Fatal("the fulfillment does not meet the condition")
		}
		reply := s.open(t, f.Data, TypeFulfill)
		if reply.PrepareAmount != 100 {
			t.Fatalf("reply says %d received, want 100", reply.PrepareAmount)
		}
		var details *ConnectionAssetDetails
		var receiptFrame *StreamReceipt
		for _, fr := range reply.Frames {
			switch fr := fr.(type) {
			case ConnectionAssetDetails:
				details = &fr
			case StreamReceipt:
				receiptFrame = &fr
			}
		}
		if details == nil || details.SourceAssetCode != "USD" || details.SourceAssetScale != 2 {
			t.Fatalf("asset details %+v in %+v", details, reply.Frames)
		}
		if receiptFrame == nil || len(receiptFrame.Receipt) != receiptBytes {
			t.Fatalf("receipt %+v", receiptFrame)
		}
		r := receiptFrame.Receipt
		m := hmac.New(sha256.New, setup.Secret[:])
		m.Write(r[:receiptBytes-sha256.Size])
		if r[0] != 1 || !bytes.Equal(r[1:17], setup.Nonce[:]) || r[17] != 1 || binary.BigEndian.Uint64(r[18:26]) != 250 ||
			!hmac.Equal(m.Sum(nil), r[receiptBytes-sha256.Size:]) {
			t.Fatalf("receipt %x", r)
		}
	})

	t.Run("declined", func(t *testing.T) {
		in, _ := c.Receive(base, s.prepare(t, 100, 0, true, money...), nil)
		if rj := in.TemporaryDecline(); rj.Code != ilp.CodeInternalError || rj.TriggeredBy != base {
			t.Fatalf("temporary decline %+v", rj)
		}
		for _, tc := range []struct {
			name, appData string
		}{{"without a reason", ""}, {"with a reason", "no KYC data"}} {
			rj := in.FinalDecline([]byte(tc.appData))
			closed, told := false, ""
			for _, f := range s.open(t, rj.Data, TypeReject).Frames {
				switch f := f.(type) {
				case ConnectionClose:
					closed = true
				case StreamData:
					if f.StreamID == 1 && f.Offset == 0 {
						told = string(f.Data)
					}
				}
			}
			if rj.Code != ilp.CodeFinalApplicationError || !closed || told != tc.appData {
				t.Fatalf("final decline %s: %+v, closed %v, told %q", tc.name, rj, closed, told)
			}
		}
	})

	t.Run("application data", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			frames []Frame
			want   string
		}{
			{"none", []Frame{StreamMoney{StreamID: 1, Shares: 1}}, ""},
			{"stream 1 first", []Frame{StreamData{StreamID: 3, Data: []byte("three")}, StreamData{StreamID: 1, Data: []byte("one")}}, "one"},
			{"another stream", []Frame{StreamData{StreamID: 3, Data: []byte("three")}}, "three"},
			{"empty on stream 1", []Frame{StreamData{StreamID: 1}, StreamData{StreamID: 5, Data: []byte("five")}}, "five"},
		} {
			in, now := c.Receive(base, s.prepare(t, 100, 0, true, tc.frames...), nil)
			if now != nil || string(in.AppData()) != tc.want {
				t.Fatalf("%s: answered %+v, data %q, want %q", tc.name, now, in.AppData(), tc.want)
			}
		}
	})

	other := newSender(t, c, "test.other", Tag{ID: walletAddress})
	foreign, _ := NewCredentials(bytes.Repeat([]byte{4}, SecretLength))
	stranger := newSender(t, foreign, base, Tag{ID: walletAddress})
	wrongType := s.prepare(t, 100, 0, true, money...)
	wrongType.Data, _ = s.keys.Seal(Packet{Version: Version, Type: TypeFulfill, Sequence: 7})
	wrongType.ExecutionCondition = Condition(s.keys.Fulfillment(wrongType.Data))
	garbled := s.prepare(t, 100, 0, true, money...)
	garbled.Data = append([]byte{}, garbled.Data...)
	garbled.Data[len(garbled.Data)-1] ^= 1
	for _, c2 := range []struct {
		name      string
		p         ilp.Prepare
		code      string
		encrypted PacketType
	}{
		{"not under the receiver's address", other.prepare(t, 100, 0, true, money...), ilp.CodeUnreachable, 0},
		{"credentials of another receiver", stranger.prepare(t, 100, 0, true, money...), ilp.CodeUnexpectedPayment, 0},
		{"data not for this connection", garbled, ilp.CodeUnexpectedPayment, 0},
		{"a STREAM packet that is not a prepare's", wrongType, ilp.CodeBadRequest, 0},
		{"the sender closes", s.prepare(t, 100, 0, true, ConnectionClose{Code: NoError}), ilp.CodeFinalApplicationError, TypeReject},
		{"a probe", s.prepare(t, 100, 0, false, money...), ilp.CodeWrongCondition, TypeReject},
		{"less than asked to deliver", s.prepare(t, 80, 90, true, money...), ilp.CodeInsufficientDestinationAmount, TypeReject},
	} {
		t.Run(c2.name, func(t *testing.T) {
			_, now := c.Receive(base, c2.p, usd)
			rj, ok := now.(ilp.Reject)
			if !ok || rj.Code != c2.code || rj.TriggeredBy != base {
				t.Fatalf("answer %+v, want reject %s", now, c2.code)
			}
			if c2.encrypted != 0 {
				if got := s.open(t, rj.Data, c2.encrypted); got.PrepareAmount != c2.p.Amount {
					t.Fatalf("reject says %d received, want %d", got.PrepareAmount, c2.p.Amount)
				}
			} else if len(rj.Data) != 0 {
				t.Fatalf("a reject before the connection is known carries data %x", rj.Data)
			}
		})
	}

	t.Run("zero amount", func(t *testing.T) {
		p := s.prepare(t, 0, 0, true)
		_, now := c.Receive(base, p, usd)
		if f, ok := now.(ilp.Fulfill); !ok || sha256.Sum256(f.Fulfillment[:]) != p.ExecutionCondition {
			t.Fatalf("a zero-amount prepare: %+v", now)
		}
	})
}

func TestFind(t *testing.T) {
	c, _ := NewCredentials(bytes.Repeat([]byte{3}, SecretLength))
	foreign, _ := NewCredentials(bytes.Repeat([]byte{4}, SecretLength))
	id := uuid.New()
	for _, base := range []string{"test.rafiki", "test.rafiki.00000000-0000-4000-8000-0000000000aa", "g.tenant.own"} {
		address, secret, err := c.Generate(base, Tag{ID: id})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []string{address, address + ".connection-tail"} {
			conn, ok := c.Find(a)
			if !ok || conn.Base != base || conn.Tag.ID != id || !bytes.Equal(conn.secret, secret) {
				t.Fatalf("Find(%s) = %+v %v", a, conn, ok)
			}
			if again, _ := c.Find(a); again != conn {
				t.Fatalf("Find(%s) opened the destination again", a)
			}
		}
		other, _, _ := foreign.Generate(base, Tag{ID: id})
		if _, ok := c.Find(other); ok {
			t.Fatalf("another receiver's credentials were found: %s", other)
		}
	}
	for _, a := range []string{"test.rafiki", "test.bob.wallet", "g", ""} {
		if _, ok := c.Find(a); ok {
			t.Fatalf("Find(%q) found credentials", a)
		}
	}
}
