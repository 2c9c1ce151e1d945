package connector

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/rafiki-go/rafiki/connector/ilp"
)

// prepareBytesMax bounds a request: a Prepare with the most data an ILP
// packet may carry, its address and envelope.
const prepareBytesMax = 1 << 16

// ServeHTTP is ILP-over-HTTP, as Rafiki's connector listens: a POST from a
// peer with `Authorization: Bearer <its incoming token>` (401 otherwise)
// and `Content-Type: application/octet-stream` (400 otherwise), its body an
// OER Prepare; the answer, 200, is the Fulfill or Reject. A packet that
// does not decode is rejected F01.
func (c *Connector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	from, ok := c.peers.ByIncomingToken(token)
	if !ok {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if r.Header.Get("Content-Type") != ContentType {
		http.Error(w, "Expected Content-Type of "+ContentType, http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, prepareBytesMax))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			c.reply(w, ilp.Reject{Code: ilp.CodeInvalidPacket, TriggeredBy: c.cfg.ILPAddress, Message: "packet too large"})
			return
		}
		http.Error(w, "could not read the packet", http.StatusBadRequest)
		return
	}
	prepare, err := ilp.DecodePrepare(body)
	if err != nil {
		c.reply(w, ilp.Reject{Code: ilp.CodeInvalidPacket, TriggeredBy: c.cfg.ILPAddress, Message: err.Error()})
		return
	}
	c.reply(w, c.Handle(r.Context(), from, prepare))
}

func (c *Connector) reply(w http.ResponseWriter, p ilp.Packet) {
	var body []byte
	var err error
	switch p := p.(type) {
	case ilp.Fulfill:
		body, err = ilp.EncodeFulfill(p)
	case ilp.Reject:
		body, err = ilp.EncodeReject(p)
	}
	if err != nil || body == nil {
		c.log.Error("reply not encoded", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ContentType)
	_, _ = w.Write(body)
}
