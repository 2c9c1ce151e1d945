package stream

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"

	"github.com/rafiki-go/rafiki/connector/ilp"
)

// receiptVersion and receiptBytes are a STREAM receipt's (interledger RFC
// 39): version, nonce, stream id, total received, HMAC.
const (
	receiptVersion = 1
	receiptBytes   = 1 + receiptNonceLength + 1 + 8 + sha256.Size
)

// Asset is what a receiver tells a new sender it receives in.
type Asset struct {
	Code  string
	Scale uint8
}

// Incoming is a Prepare a receiver may take: authentic, fulfillable and
// carrying at least what its sender asked to deliver. The caller moves the
// money, then answers with Accept, or declines.
type Incoming struct {
	Tag Tag
	// ConnectionID names the sender's connection (hex SHA-256 of the
	// destination), for keeping its total received.
	ConnectionID string
	Amount       uint64
	// Data are the Prepare's StreamData frames, for the receiver's
	// application.
	Data        []StreamData
	reply       reply
	fulfillment [sha256.Size]byte
}

// reply builds what goes back to the sender, encrypted: a STREAM packet of
// the ILP reply's type, the Prepare's sequence, the amount received.
type reply struct {
	keys     *Keys
	address  string
	sequence uint64
	received uint64
	frames   []Frame
}

func (r reply) data(t PacketType) []byte {
	if r.keys == nil {
		return nil
	}
	data, err := r.keys.Seal(Packet{Version: Version, Type: t, Sequence: r.sequence, PrepareAmount: r.received, Frames: r.frames})
	if err != nil {
		return nil
	}
	return data
}

func (r reply) reject(code string) ilp.Reject {
	return ilp.Reject{Code: code, TriggeredBy: r.address, Data: r.data(TypeReject)}
}

// Accept fulfills the Prepare, with a receipt of totalReceived when the
// sender asked for receipts.
func (in Incoming) Accept(totalReceived uint64) ilp.Fulfill {
	r := in.reply
	if in.Tag.Receipt != nil {
		r.frames = append(r.frames, StreamReceipt{StreamID: 1, Receipt: receipt(in.Tag.Receipt, 1, totalReceived)})
	}
	return ilp.Fulfill{Fulfillment: in.fulfillment, Data: r.data(TypeFulfill)}
}

// AppData is what the sender's application sent with the Prepare: the
// data on stream 1, as senders put it there, else on the first stream that
// carries any; nil for none.
func (in Incoming) AppData() []byte {
	for _, f := range in.Data {
		if f.StreamID == 1 && len(f.Data) > 0 {
			return f.Data
		}
	}
	for _, f := range in.Data {
		if len(f.Data) > 0 {
			return f.Data
		}
	}
	return nil
}

// TemporaryDecline rejects the Prepare T00: the sender may try again.
func (in Incoming) TemporaryDecline() ilp.Reject { return in.reply.reject(ilp.CodeInternalError) }

// FinalDecline rejects the Prepare F99 and closes the connection; appData,
// when set, tells the sender's application why, on stream 1.
func (in Incoming) FinalDecline(appData []byte) ilp.Reject {
	r := in.reply
	r.frames = append(r.frames[:len(r.frames):len(r.frames)], ConnectionClose{Code: NoError})
	if len(appData) > 0 {
		r.frames = append(r.frames, StreamData{StreamID: 1, Data: appData})
	}
	return r.reject(ilp.CodeFinalApplicationError)
}

// receipt is RFC 39's: the receipt's fields, then their HMAC-SHA256 under
// the secret the sender gave.
func receipt(setup *ReceiptSetup, streamID uint8, totalReceived uint64) []byte {
	b := make([]byte, 0, receiptBytes)
	b = append(b, receiptVersion)
	b = append(b, setup.Nonce[:]...)
	b = append(b, streamID)
	b = binary.BigEndian.AppendUint64(b, totalReceived)
	sum := mac(setup.Secret[:], b)
	return append(b, sum[:]...)
}

// Receive reads a Prepare sent to credentials made under base, as Rafiki's
// STREAM receiver does. It answers the Incoming to take, or the reply to
// send at once: F02 for an address not under base, F06 for one this
// receiver did not make or data it cannot decrypt, F00 for a STREAM packet
// that is not a Prepare's, F99 with a ConnectionClose when the sender
// closes, F05 for a Prepare that cannot be fulfilled (a sender probing
// rates), a Fulfill for a zero amount, F04 for less than the sender asked
// to deliver. asset, when set, is told to a sender that opens a connection.
func (c *Credentials) Receive(base string, p ilp.Prepare, asset *Asset) (Incoming, ilp.Packet) {
	tag, secret, err := c.Open(base, p.Destination)
	if err != nil {
		r := reply{address: base}
		if len(p.Destination) <= len(base) || p.Destination[:len(base)+1] != base+"." {
			return Incoming{}, r.reject(ilp.CodeUnreachable)
		}
		return Incoming{}, r.reject(ilp.CodeUnexpectedPayment)
	}
	conn, err := newConnection(base, p.Destination, tag, secret)
	if err != nil {
		return Incoming{}, reply{address: base}.reject(ilp.CodeUnexpectedPayment)
	}
	return conn.Receive(p, asset)
}

// Receive is Credentials.Receive for a Prepare to a destination found
// already (Find), so that it is not opened again.
func (conn *Connection) Receive(p ilp.Prepare, asset *Asset) (Incoming, ilp.Packet) {
	r := reply{address: conn.Base}
	keys := conn.keys
	request, err := keys.Open(p.Data, TypePrepare)
	switch {
	case errors.Is(err, ErrWrongPacketType):
		return Incoming{}, r.reject(ilp.CodeBadRequest)
	case err != nil:
		return Incoming{}, r.reject(ilp.CodeUnexpectedPayment)
	}
	r.keys, r.sequence, r.received = keys, request.Sequence, p.Amount
	var data []StreamData
	for _, f := range request.Frames {
		switch f := f.(type) {
		case ConnectionClose:
			r.frames = append(r.frames, ConnectionClose{Code: NoError})
			return Incoming{}, r.reject(ilp.CodeFinalApplicationError)
		case ConnectionNewAddress:
			if asset != nil {
				r.frames = append(r.frames, ConnectionAssetDetails{SourceAssetCode: asset.Code, SourceAssetScale: asset.Scale})
			}
		case StreamData:
			data = append(data, f)
		}
	}
	fulfillment := keys.Fulfillment(p.Data)
	if Condition(fulfillment) != p.ExecutionCondition {
		return Incoming{}, r.reject(ilp.CodeWrongCondition)
	}
	if p.Amount == 0 {
		return Incoming{}, ilp.Fulfill{Fulfillment: fulfillment, Data: r.data(TypeFulfill)}
	}
	if p.Amount < request.PrepareAmount {
		return Incoming{}, r.reject(ilp.CodeInsufficientDestinationAmount)
	}
	return Incoming{Tag: conn.Tag, ConnectionID: conn.id, Amount: p.Amount, Data: data,
		reply: r, fulfillment: fulfillment}, nil
}
