package stream

// The frames of RFC 29 §5.3. Each is a type byte and a var-octet-string of
// contents; the decoder ignores bytes after the fields it knows inside a
// frame's contents, as the reference decoder does, so a later version may
// append fields.

import (
	"fmt"

	"github.com/rafiki-go/rafiki/connector/ilp/oer"
)

// FrameType identifies a frame.
type FrameType uint8

// Frame types, RFC 29 §5.3.
const (
	TypeConnectionClose           FrameType = 0x01
	TypeConnectionNewAddress      FrameType = 0x02
	TypeConnectionMaxData         FrameType = 0x03
	TypeConnectionDataBlocked     FrameType = 0x04
	TypeConnectionMaxStreamID     FrameType = 0x05
	TypeConnectionStreamIDBlocked FrameType = 0x06
	TypeConnectionAssetDetails    FrameType = 0x07
	TypeStreamClose               FrameType = 0x10
	TypeStreamMoney               FrameType = 0x11
	TypeStreamMaxMoney            FrameType = 0x12
	TypeStreamMoneyBlocked        FrameType = 0x13
	TypeStreamData                FrameType = 0x14
	TypeStreamMaxData             FrameType = 0x15
	TypeStreamDataBlocked         FrameType = 0x16
	TypeStreamReceipt             FrameType = 0x17
)

var frameTypeNames = map[FrameType]string{
	TypeConnectionClose:           "ConnectionClose",
	TypeConnectionNewAddress:      "ConnectionNewAddress",
	TypeConnectionMaxData:         "ConnectionMaxData",
	TypeConnectionDataBlocked:     "ConnectionDataBlocked",
	TypeConnectionMaxStreamID:     "ConnectionMaxStreamId",
	TypeConnectionStreamIDBlocked: "ConnectionStreamIdBlocked",
	TypeConnectionAssetDetails:    "ConnectionAssetDetails",
	TypeStreamClose:               "StreamClose",
	TypeStreamMoney:               "StreamMoney",
	TypeStreamMaxMoney:            "StreamMaxMoney",
	TypeStreamMoneyBlocked:        "StreamMoneyBlocked",
	TypeStreamData:                "StreamData",
	TypeStreamMaxData:             "StreamMaxData",
	TypeStreamDataBlocked:         "StreamDataBlocked",
	TypeStreamReceipt:             "StreamReceipt",
}

// String is the frame's name in RFC 29 and the reference implementation.
func (t FrameType) String() string {
	if name, ok := frameTypeNames[t]; ok {
		return name
	}
	return fmt.Sprintf("FrameType(%d)", uint8(t))
}

// ErrorCode says why a stream or connection closed.
type ErrorCode uint8

// Error codes, RFC 29 §5.4.
const (
	NoError           ErrorCode = 0x01
	InternalError     ErrorCode = 0x02
	EndpointBusy      ErrorCode = 0x03
	FlowControlError  ErrorCode = 0x04
	StreamIDError     ErrorCode = 0x05
	StreamStateError  ErrorCode = 0x06
	FrameFormatError  ErrorCode = 0x07
	ProtocolViolation ErrorCode = 0x08
	ApplicationError  ErrorCode = 0x09
)

// ErrorCodes is the table of RFC 29 §5.4.
var ErrorCodes = []struct {
	Code        ErrorCode
	Name        string
	Description string
}{
	{NoError, "NoError", "the stream or connection closed normally"},
	{InternalError, "InternalError", "the endpoint encountered an unexpected error"},
	{EndpointBusy, "EndpointBusy", "the endpoint is temporarily overloaded and unable to process the packet"},
	{FlowControlError, "FlowControlError", "the other endpoint exceeded the flow control limits advertised"},
	{StreamIDError, "StreamIdError", "the other endpoint opened more streams than allowed"},
	{StreamStateError, "StreamStateError", "the other endpoint sent frames for a stream that is already closed"},
	{FrameFormatError, "FrameFormatError", "the other endpoint sent a frame with invalid syntax"},
	{ProtocolViolation, "ProtocolViolation", "the other endpoint sent invalid data or otherwise violated the protocol"},
	{ApplicationError, "ApplicationError", "the application closed the stream or connection with an error"},
}

// String is the code's name in RFC 29; codes outside the table are kept as
// received, since a peer may send one.
func (c ErrorCode) String() string {
	for _, row := range ErrorCodes {
		if row.Code == c {
			return row.Name
		}
	}
	return fmt.Sprintf("ErrorCode(%d)", uint8(c))
}

// Frame is one of the frame types below.
type Frame interface {
	Type() FrameType
	appendContents(b []byte) []byte
}

// ConnectionClose closes the connection, normally or with an error.
type ConnectionClose struct {
	Code    ErrorCode
	Message string
}

// ConnectionNewAddress gives the sender's ILP address.
type ConnectionNewAddress struct {
	SourceAccount string
}

// ConnectionMaxData is the total bytes the endpoint accepts on the connection.
type ConnectionMaxData struct {
	MaxOffset uint64
}

// ConnectionDataBlocked is the total bytes the endpoint wants to send.
type ConnectionDataBlocked struct {
	MaxOffset uint64
}

// ConnectionMaxStreamID is the highest stream id the endpoint accepts.
type ConnectionMaxStreamID struct {
	MaxStreamID uint64
}

// ConnectionStreamIDBlocked is the highest stream id the endpoint wants to open.
type ConnectionStreamIDBlocked struct {
	MaxStreamID uint64
}

// ConnectionAssetDetails is the sender's asset.
type ConnectionAssetDetails struct {
	SourceAssetCode  string
	SourceAssetScale uint8
}

// StreamClose closes a stream, normally or with an error.
type StreamClose struct {
	StreamID uint64
	Code     ErrorCode
	Message  string
}

// StreamMoney gives a stream its share of the Prepare's amount.
type StreamMoney struct {
	StreamID uint64
	Shares   uint64
}

// StreamMaxMoney is what the endpoint accepts on a stream, in its units.
type StreamMaxMoney struct {
	StreamID      uint64
	ReceiveMax    uint64
	TotalReceived uint64
}

// StreamMoneyBlocked is what the endpoint wants to send on a stream.
type StreamMoneyBlocked struct {
	StreamID  uint64
	SendMax   uint64
	TotalSent uint64
}

// StreamData carries application bytes at an offset of a stream. A decoded
// Data aliases the buffer it was decoded from.
type StreamData struct {
	StreamID uint64
	Offset   uint64
	Data     []byte
}

// StreamMaxData is the total bytes the endpoint accepts on a stream.
type StreamMaxData struct {
	StreamID  uint64
	MaxOffset uint64
}

// StreamDataBlocked is the total bytes the endpoint wants to send on a stream.
type StreamDataBlocked struct {
	StreamID  uint64
	MaxOffset uint64
}

// StreamReceipt carries a receipt (RFC 39) for a stream. A decoded Receipt
// aliases the buffer it was decoded from.
type StreamReceipt struct {
	StreamID uint64
	Receipt  []byte
}

func (ConnectionClose) Type() FrameType           { return TypeConnectionClose }
func (ConnectionNewAddress) Type() FrameType      { return TypeConnectionNewAddress }
func (ConnectionMaxData) Type() FrameType         { return TypeConnectionMaxData }
func (ConnectionDataBlocked) Type() FrameType     { return TypeConnectionDataBlocked }
func (ConnectionMaxStreamID) Type() FrameType     { return TypeConnectionMaxStreamID }
func (ConnectionStreamIDBlocked) Type() FrameType { return TypeConnectionStreamIDBlocked }
func (ConnectionAssetDetails) Type() FrameType    { return TypeConnectionAssetDetails }
func (StreamClose) Type() FrameType               { return TypeStreamClose }
func (StreamMoney) Type() FrameType               { return TypeStreamMoney }
func (StreamMaxMoney) Type() FrameType            { return TypeStreamMaxMoney }
func (StreamMoneyBlocked) Type() FrameType        { return TypeStreamMoneyBlocked }
func (StreamData) Type() FrameType                { return TypeStreamData }
func (StreamMaxData) Type() FrameType             { return TypeStreamMaxData }
func (StreamDataBlocked) Type() FrameType         { return TypeStreamDataBlocked }
func (StreamReceipt) Type() FrameType             { return TypeStreamReceipt }

func (f ConnectionClose) appendContents(b []byte) []byte {
	return oer.AppendVarString(append(b, byte(f.Code)), f.Message)
}

func (f ConnectionNewAddress) appendContents(b []byte) []byte {
	return oer.AppendVarString(b, f.SourceAccount)
}

func (f ConnectionMaxData) appendContents(b []byte) []byte { return oer.AppendVarUint(b, f.MaxOffset) }

func (f ConnectionDataBlocked) appendContents(b []byte) []byte {
	return oer.AppendVarUint(b, f.MaxOffset)
}

func (f ConnectionMaxStreamID) appendContents(b []byte) []byte {
	return oer.AppendVarUint(b, f.MaxStreamID)
}

func (f ConnectionStreamIDBlocked) appendContents(b []byte) []byte {
	return oer.AppendVarUint(b, f.MaxStreamID)
}

func (f ConnectionAssetDetails) appendContents(b []byte) []byte {
	return append(oer.AppendVarString(b, f.SourceAssetCode), f.SourceAssetScale)
}

func (f StreamClose) appendContents(b []byte) []byte {
	return oer.AppendVarString(append(oer.AppendVarUint(b, f.StreamID), byte(f.Code)), f.Message)
}

func (f StreamMoney) appendContents(b []byte) []byte {
	return oer.AppendVarUint(oer.AppendVarUint(b, f.StreamID), f.Shares)
}

func (f StreamMaxMoney) appendContents(b []byte) []byte {
	return oer.AppendVarUint(oer.AppendVarUint(oer.AppendVarUint(b, f.StreamID), f.ReceiveMax), f.TotalReceived)
}

func (f StreamMoneyBlocked) appendContents(b []byte) []byte {
	return oer.AppendVarUint(oer.AppendVarUint(oer.AppendVarUint(b, f.StreamID), f.SendMax), f.TotalSent)
}

func (f StreamData) appendContents(b []byte) []byte {
	return oer.AppendVarOctetString(oer.AppendVarUint(oer.AppendVarUint(b, f.StreamID), f.Offset), f.Data)
}

func (f StreamMaxData) appendContents(b []byte) []byte {
	return oer.AppendVarUint(oer.AppendVarUint(b, f.StreamID), f.MaxOffset)
}

func (f StreamDataBlocked) appendContents(b []byte) []byte {
	return oer.AppendVarUint(oer.AppendVarUint(b, f.StreamID), f.MaxOffset)
}

func (f StreamReceipt) appendContents(b []byte) []byte {
	return oer.AppendVarOctetString(oer.AppendVarUint(b, f.StreamID), f.Receipt)
}

// readString reads a var-octet-string as a string; RFC 29 calls these
// UTF-8, but the bytes are kept as sent so that a peer's odd error message
// does not cost it the whole packet.
func readString(r *oer.Reader) (string, error) {
	b, err := r.VarOctetString(plaintextBytesMax)
	return string(b), err
}

// decodeFrame reads the contents of a frame of type t; ok is false for a
// type this version does not know, which the caller skips (RFC 29 §5.3).
func decodeFrame(t FrameType, contents []byte) (f Frame, ok bool, err error) {
	r := oer.NewReader(contents)
	switch t {
	case TypeConnectionClose:
		var v ConnectionClose
		var code uint8
		if code, err = r.Uint8(); err == nil {
			v.Code = ErrorCode(code)
			v.Message, err = readString(&r)
		}
		f = v
	case TypeConnectionNewAddress:
		var v ConnectionNewAddress
		v.SourceAccount, err = readString(&r)
		f = v
	case TypeConnectionMaxData:
		var v ConnectionMaxData
		v.MaxOffset, err = r.VarUintPadded()
		f = v
	case TypeConnectionDataBlocked:
		var v ConnectionDataBlocked
		v.MaxOffset, err = r.VarUintPadded()
		f = v
	case TypeConnectionMaxStreamID:
		var v ConnectionMaxStreamID
		v.MaxStreamID, err = r.VarUintPadded()
		f = v
	case TypeConnectionStreamIDBlocked:
		var v ConnectionStreamIDBlocked
		v.MaxStreamID, err = r.VarUintPadded()
		f = v
	case TypeConnectionAssetDetails:
		var v ConnectionAssetDetails
		if v.SourceAssetCode, err = readString(&r); err == nil {
			v.SourceAssetScale, err = r.Uint8()
		}
		f = v
	case TypeStreamClose:
		var v StreamClose
		var code uint8
		if v.StreamID, err = r.VarUintPadded(); err == nil {
			if code, err = r.Uint8(); err == nil {
				v.Code = ErrorCode(code)
				v.Message, err = readString(&r)
			}
		}
		f = v
	case TypeStreamMoney:
		var v StreamMoney
		if v.StreamID, err = r.VarUintPadded(); err == nil {
			v.Shares, err = r.VarUintPadded()
		}
		f = v
	case TypeStreamMaxMoney:
		var v StreamMaxMoney
		if v.StreamID, err = r.VarUintPadded(); err == nil {
			if v.ReceiveMax, err = r.VarUintSaturating(); err == nil {
				v.TotalReceived, err = r.VarUintPadded()
			}
		}
		f = v
	case TypeStreamMoneyBlocked:
		var v StreamMoneyBlocked
		if v.StreamID, err = r.VarUintPadded(); err == nil {
			if v.SendMax, err = r.VarUintSaturating(); err == nil {
				v.TotalSent, err = r.VarUintPadded()
			}
		}
		f = v
	case TypeStreamData:
		var v StreamData
		if v.StreamID, err = r.VarUintPadded(); err == nil {
			if v.Offset, err = r.VarUintPadded(); err == nil {
				v.Data, err = r.VarOctetString(plaintextBytesMax)
			}
		}
		f = v
	case TypeStreamMaxData:
		var v StreamMaxData
		if v.StreamID, err = r.VarUintPadded(); err == nil {
			v.MaxOffset, err = r.VarUintPadded()
		}
		f = v
	case TypeStreamDataBlocked:
		var v StreamDataBlocked
		if v.StreamID, err = r.VarUintPadded(); err == nil {
			v.MaxOffset, err = r.VarUintPadded()
		}
		f = v
	case TypeStreamReceipt:
		var v StreamReceipt
		if v.StreamID, err = r.VarUintPadded(); err == nil {
			v.Receipt, err = r.VarOctetString(plaintextBytesMax)
		}
		f = v
	default:
		return nil, false, nil
	}
	if err != nil {
		return nil, true, fmt.Errorf("%s frame: %w", t, err)
	}
	return f, true, nil
}
