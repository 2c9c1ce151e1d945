package ilp

import (
	"fmt"
	"unicode/utf8"

	"github.com/rafiki-go/rafiki/connector/ilp/oer"
)

// Reject refuses a Prepare. TriggeredBy may be empty; Message is UTF-8.
type Reject struct {
	Code        string
	TriggeredBy string
	Message     string
	Data        []byte
}

// Type is TypeReject.
func (Reject) Type() Type { return TypeReject }

// EncodeReject returns r's canonical encoding.
func EncodeReject(rj Reject) ([]byte, error) { return AppendReject(nil, rj) }

// AppendReject appends r's canonical encoding to dst.
func AppendReject(dst []byte, rj Reject) ([]byte, error) {
	if err := checkReject(rj); err != nil {
		return dst, fmt.Errorf("encode ILP reject: %w", err)
	}
	n := codeBytes + oer.VarOctetStringSize(len(rj.TriggeredBy)) + oer.VarOctetStringSize(len(rj.Message)) + oer.VarOctetStringSize(len(rj.Data))
	b := append(appendEnvelope(dst, TypeReject, n), rj.Code...)
	b = oer.AppendVarString(b, rj.TriggeredBy)
	b = oer.AppendVarString(b, rj.Message)
	return oer.AppendVarOctetString(b, rj.Data), nil
}

func checkReject(rj Reject) error {
	if err := checkCode(rj.Code); err != nil {
		return err
	}
	if rj.TriggeredBy != "" {
		if err := ValidateAddress(rj.TriggeredBy); err != nil {
			return fmt.Errorf("triggeredBy: %w", err)
		}
	}
	if err := checkMessage(rj.Message); err != nil {
		return err
	}
	return checkData(rj.Data)
}

// checkCode accepts any three IA5 (ASCII) characters: the ASN.1 allows
// codes beyond RFC 27's table, and receivers treat unknown ones by class.
func checkCode(code string) error {
	if len(code) != codeBytes {
		return fmt.Errorf("code %q is not %d characters", code, codeBytes)
	}
	for i := 0; i < len(code); i++ {
		if code[i] >= utf8.RuneSelf {
			return fmt.Errorf("code %q is not ASCII", code)
		}
	}
	return nil
}

// checkMessage enforces UTF8String (SIZE (0..8191)), a size in characters.
func checkMessage(m string) error {
	if !utf8.ValidString(m) {
		return fmt.Errorf("message is not UTF-8")
	}
	if n := utf8.RuneCountInString(m); n > messageBytesMax {
		return fmt.Errorf("message of %d characters, more than %d", n, messageBytesMax)
	}
	return nil
}

// DecodeReject decodes a Reject. Data is a copy; nil when empty.
func DecodeReject(b []byte) (Reject, error) {
	rj, err := decodeReject(b)
	if err != nil {
		return Reject{}, fmt.Errorf("decode ILP reject: %w", err)
	}
	return rj, nil
}

func decodeReject(b []byte) (Reject, error) {
	var rj Reject
	r, err := openEnvelope(b, TypeReject)
	if err != nil {
		return rj, err
	}
	code, err := r.Fixed(codeBytes)
	if err != nil {
		return rj, fmt.Errorf("code: %w", err)
	}
	rj.Code = internCode(code)
	if err := checkCode(rj.Code); err != nil {
		return rj, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if rj.TriggeredBy, err = readAddress(&r, "triggeredBy", true); err != nil {
		return rj, err
	}
	message, err := r.VarOctetString(messageBytesMax * utf8.UTFMax)
	if err != nil {
		return rj, fmt.Errorf("message: %w", err)
	}
	rj.Message = string(message)
	if err := checkMessage(rj.Message); err != nil {
		return rj, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if rj.Data, err = readData(&r); err != nil {
		return rj, err
	}
	return rj, nil
}
