package connector

import (
	"errors"
	"io"
	"math"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/rafiki-go/rafiki/connector/ilp"
)

// prepareBytesMax bounds a request: a Prepare with the most data an ILP
// packet may carry, its address and envelope.
const prepareBytesMax = 1 << 16

// ServeHTTP is ILP-over-HTTP, as Rafiki's connector listens: a POST from a
// peer with `Authorization: Bearer <its incoming token>` (the scheme in any
// case, as HTTP's schemes are; 401 otherwise) and `Content-Type:
// application/octet-stream` (parameters aside; 400 otherwise), its body an
// OER Prepare; the answer, 200, is the Fulfill or Reject. A packet that
// does not decode is rejected F01.
func (c *Connector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	from, ok := c.peers.ByIncomingToken(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != ContentType && !octetStream(ct) {
		http.Error(w, "Expected Content-Type of "+ContentType, http.StatusBadRequest)
		return
	}
	buf := buffers.Get().(*[]byte)
	body, err := readAll(http.MaxBytesReader(w, r.Body, prepareBytesMax), *buf, math.MaxInt)
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
	release(buf, body)
	if err != nil {
		c.reply(w, ilp.Reject{Code: ilp.CodeInvalidPacket, TriggeredBy: c.cfg.ILPAddress, Message: err.Error()})
		return
	}
	c.reply(w, c.Handle(r.Context(), from, prepare))
}

// octetStream tells whether a Content-Type with parameters is
// application/octet-stream; the exact value, which peers send, is told
// apart without parsing.
func octetStream(contentType string) bool {
	media, _, err := mime.ParseMediaType(contentType)
	return err == nil && media == ContentType
}

func (c *Connector) reply(w http.ResponseWriter, p ilp.Packet) {
	buf := buffers.Get().(*[]byte)
	var body []byte
	var err error
	switch p := p.(type) {
	case ilp.Fulfill:
		body, err = ilp.AppendFulfill((*buf)[:0], p)
	case ilp.Reject:
		body, err = ilp.AppendReject((*buf)[:0], p)
	}
	if err != nil || len(body) == 0 {
		c.log.Error("reply not encoded", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header()["Content-Type"] = contentTypeHeader
	_, _ = w.Write(body)
	release(buf, body)
}

// contentTypeHeader is the Content-Type header's value, set without
// allocating it again for every answer; nothing changes it.
var contentTypeHeader = []string{ContentType}

// buffers hold packets while they are read or written: a request's body
// until it is decoded (decoding copies what it keeps), an answer until it
// is written, a peer's answer until it is decoded.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// bufferBytesMax is the largest buffer kept for reuse: the rare large
// packet does not pin its memory.
const bufferBytesMax = 1 << 14

// release gives buf back to the pool, holding used, the slice last grown
// from it; nothing may use used afterwards.
func release(buf *[]byte, used []byte) {
	if cap(used) > bufferBytesMax {
		return
	}
	*buf = used[:0]
	buffers.Put(buf)
}

// readAll is io.ReadAll of at most max bytes (io.LimitReader), into buf
// from its start.
func readAll(r io.Reader, buf []byte, max int) ([]byte, error) {
	buf = buf[:0]
	for len(buf) < max {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), max)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}
