package server

import (
	"bytes"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"

	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/internal/cborjson"
)

const (
	mediaJSON = "application/json"
	mediaCBOR = "application/cbor"
)

// wantsCBOR reports whether an Accept header prefers application/cbor to
// application/json (by q-value, then by order); JSON is the default.
func wantsCBOR(accept string) bool {
	if accept == "" || !strings.Contains(accept, "cbor") {
		return false
	}
	bestQ, best := -1.0, ""
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || (mt != mediaCBOR && mt != mediaJSON) {
			continue
		}
		q := 1.0
		if qs, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(qs, 64); err == nil {
				q = v
			}
		}
		if q > bestQ && q > 0 {
			bestQ, best = q, mt
		}
	}
	return best == mediaCBOR
}

// isCBORBody reports whether the request body is CBOR; anything else is
// read as JSON.
func isCBORBody(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == mediaCBOR
}

// readBody reads the request body, refusing one larger than limit with
// 413 VALUE_TOO_LARGE before or while reading it.
func readBody(r *request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errorf(http.StatusRequestEntityTooLarge, codeValueTooLarge, "request body of %d bytes is larger than %d", r.ContentLength, limit)
	}
	// The underlying writer: it closes the connection after the answer.
	body := http.MaxBytesReader(r.w.ResponseWriter, r.Body, limit)
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	if _, err := buf.ReadFrom(body); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// readValue reads an actor write's body as the value's CBOR: as is for
// application/cbor, converted from JSON otherwise.
func (s *Server) readValue(r *request) (cbor.RawMessage, error) {
	body, err := readBody(r, s.opts.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	if isCBORBody(r.Request) {
		return body, nil
	}
	v, err := cborjson.FromJSON(body)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, codeInvalidValue, "invalid JSON value: %v", err)
	}
	return v, nil
}

// enc writes a response body in JSON or CBOR with one set of calls:
// objects (CBOR maps with text keys) and arrays of known length, scalars,
// and stored values (embedded as CBOR items, or converted to JSON).
type enc struct {
	cbor  bool
	b     []byte
	stack []encFrame
	err   error
	// The text of the last second a timestamp fell in: a watch's events
	// come in time order, so most share it and only their fraction is
	// formatted.
	tsSec  int64
	tsText []byte // "2006-01-02T15:04:05", empty when none yet
}

type encFrame struct {
	array bool
	n     int
}

func newEnc(cbor bool) *enc { return &enc{cbor: cbor, b: make([]byte, 0, 256)} }

// elem separates array elements in JSON.
func (e *enc) elem() {
	if e.cbor || len(e.stack) == 0 {
		return
	}
	top := &e.stack[len(e.stack)-1]
	if top.array {
		if top.n > 0 {
			e.b = append(e.b, ',')
		}
		top.n++
	}
}

func (e *enc) object(n int) *enc {
	e.elem()
	if e.cbor {
		e.b = appendHead(e.b, 5, uint64(n))
	} else {
		e.b = append(e.b, '{')
	}
	e.stack = append(e.stack, encFrame{})
	return e
}

func (e *enc) array(n int) *enc {
	e.elem()
	if e.cbor {
		e.b = appendHead(e.b, 4, uint64(n))
	} else {
		e.b = append(e.b, '[')
	}
	e.stack = append(e.stack, encFrame{array: true})
	return e
}

func (e *enc) end() *enc {
	top := e.stack[len(e.stack)-1]
	e.stack = e.stack[:len(e.stack)-1]
	if !e.cbor {
		if top.array {
			e.b = append(e.b, ']')
		} else {
			e.b = append(e.b, '}')
		}
	}
	return e
}

func (e *enc) key(k string) *enc {
	if e.cbor {
		e.b = appendHead(e.b, 3, uint64(len(k)))
		e.b = append(e.b, k...)
		return e
	}
	top := &e.stack[len(e.stack)-1]
	if top.n > 0 {
		e.b = append(e.b, ',')
	}
	top.n++
	e.b = appendJSONString(e.b, k)
	e.b = append(e.b, ':')
	return e
}

func (e *enc) str(v string) *enc {
	e.elem()
	if e.cbor {
		if !utf8.ValidString(v) { // a message quoting bad input
			v = strings.ToValidUTF8(v, "\uFFFD")
		}
		e.b = appendHead(e.b, 3, uint64(len(v)))
		e.b = append(e.b, v...)
	} else {
		e.b = appendJSONString(e.b, v)
	}
	return e
}

func (e *enc) uint(v uint64) *enc {
	e.elem()
	if e.cbor {
		e.b = appendHead(e.b, 0, v)
	} else {
		e.b = strconv.AppendUint(e.b, v, 10)
	}
	return e
}

func (e *enc) int(v int) *enc {
	if v >= 0 {
		return e.uint(uint64(v))
	}
	e.elem()
	if e.cbor {
		e.b = appendHead(e.b, 1, uint64(-(v + 1)))
	} else {
		e.b = strconv.AppendInt(e.b, int64(v), 10)
	}
	return e
}

func (e *enc) bool(v bool) *enc {
	e.elem()
	switch {
	case e.cbor && v:
		e.b = append(e.b, 0xf5)
	case e.cbor:
		e.b = append(e.b, 0xf4)
	case v:
		e.b = append(e.b, "true"...)
	default:
		e.b = append(e.b, "false"...)
	}
	return e
}

func (e *enc) null() *enc {
	e.elem()
	if e.cbor {
		e.b = append(e.b, 0xf6)
	} else {
		e.b = append(e.b, "null"...)
	}
	return e
}

// value writes a stored value: the CBOR item itself, or its JSON form.
// A value JSON cannot carry (which the store never holds) is an error.
func (e *enc) value(v []byte) *enc {
	e.elem()
	if e.cbor {
		e.b = append(e.b, v...)
		return e
	}
	b, err := cborjson.AppendJSON(e.b, v)
	if err != nil && e.err == nil {
		e.err = err
	}
	e.b = b
	return e
}

func (e *enc) optUint(v *uint64) *enc {
	if v == nil {
		return e.null()
	}
	return e.uint(*v)
}

func (e *enc) optValue(v []byte, present bool) *enc {
	if !present {
		return e.null()
	}
	return e.value(v)
}

// timestampLayout is RFC 3339 with nanoseconds, always nine digits.
const timestampLayout = "2006-01-02T15:04:05.000000000Z07:00"

func (e *enc) time(t time.Time) *enc {
	e.elem()
	u := t.UTC()
	if sec := u.Unix(); sec != e.tsSec || len(e.tsText) == 0 {
		e.tsSec, e.tsText = sec, u.AppendFormat(e.tsText[:0], timestampLayout[:19])
	}
	var buf [48]byte
	ts := append(append(buf[:0], e.tsText...), '.')
	ns := u.Nanosecond()
	for d := 100_000_000; d > 0; d /= 10 {
		ts = append(ts, byte('0'+ns/d%10))
	}
	ts = append(ts, 'Z')
	if e.cbor {
		e.b = appendHead(e.b, 3, uint64(len(ts)))
		e.b = append(e.b, ts...)
	} else {
		e.b = append(e.b, '"')
		e.b = append(e.b, ts...)
		e.b = append(e.b, '"')
	}
	return e
}

func (e *enc) actor(a *host.Actor) *enc {
	return e.object(4).key("type").str(a.Type).key("id").str(a.ID).
		key("version").uint(a.Version).key("value").value(a.Value).end()
}

func (e *enc) event(ev *host.ChangeEvent) *enc {
	return e.object(9).key("sequence").uint(ev.Sequence).key("operation").str(ev.Operation.String()).
		key("type").str(ev.ActorType).key("id").str(ev.ActorID).
		key("previousVersion").optUint(ev.PreviousVersion).
		key("previousValue").optValue(ev.PreviousValue, ev.PreviousVersion != nil).
		key("newVersion").optUint(ev.NewVersion).
		key("newValue").optValue(ev.NewValue, ev.NewVersion != nil).
		key("timestamp").time(ev.Timestamp).end()
}

func (e *enc) errorBody(ae *apiError) *enc {
	n := 2
	for _, p := range []*uint64{ae.Expected, ae.Actual, ae.Requested, ae.Oldest} {
		if p != nil {
			n++
		}
	}
	if ae.Index != nil {
		n++
	}
	e.object(n).key("code").str(ae.Code).key("message").str(ae.Message)
	for _, f := range []struct {
		k string
		v *uint64
	}{{"expected", ae.Expected}, {"actual", ae.Actual}, {"requested", ae.Requested}, {"oldest", ae.Oldest}} {
		if f.v != nil {
			e.key(f.k).uint(*f.v)
		}
	}
	if ae.Index != nil {
		e.key("index").int(*ae.Index)
	}
	return e.end()
}

// respond sends a body built by the encoder.
func (r *request) respond(status int, e *enc) error {
	if e.err != nil {
		return e.err
	}
	h := r.w.Header()
	if e.cbor {
		h.Set("Content-Type", mediaCBOR)
	} else {
		h.Set("Content-Type", mediaJSON)
		e.b = append(e.b, '\n')
	}
	h.Set("Content-Length", strconv.Itoa(len(e.b)))
	r.w.WriteHeader(status)
	// A write error means the client is gone: nothing to answer it with.
	_, _ = r.w.Write(e.b) // copied into the connection's buffer
	e.release()
	return nil
}

// encs keeps response encoders' buffers for reuse.
var encs = sync.Pool{New: func() any { return newEnc(false) }}

// enc returns an encoder for the request's answer; respond releases it.
func (r *request) enc() *enc {
	e := encs.Get().(*enc)
	e.cbor = r.cbor
	return e
}

func (e *enc) release() {
	if cap(e.b) > 64<<10 {
		return
	}
	e.b, e.stack, e.err = e.b[:0], e.stack[:0], nil
	encs.Put(e)
}

func appendHead(dst []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(dst, m|byte(n))
	case n <= 0xff:
		return append(dst, m|24, byte(n))
	case n <= 0xffff:
		return append(dst, m|25, byte(n>>8), byte(n))
	case n <= 0xffffffff:
		return append(dst, m|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, m|27, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// appendJSONString writes s as a JSON string; invalid UTF-8 becomes
// U+FFFD (keys are UTF-8; messages may quote bad input).
func appendJSONString(dst []byte, s string) []byte {
	return cborjson.AppendString(dst, s)
}
