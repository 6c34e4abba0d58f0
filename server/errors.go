package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/internal/cborjson"
)

// Error codes of the API's error bodies.
const (
	codeInvalidKey       = "INVALID_KEY"
	codeInvalidValue     = "INVALID_VALUE"
	codeInvalidArgument  = "INVALID_ARGUMENT"
	codeUnauthorized     = "UNAUTHORIZED"
	codeForbidden        = "FORBIDDEN"
	codeNotFound         = "NOT_FOUND"
	codeMethodNotAllowed = "METHOD_NOT_ALLOWED"
	codeAlreadyExists    = "ALREADY_EXISTS"
	codeRestored         = "RESTORED"
	codeCompacted        = "COMPACTED"
	codeVersionMismatch  = "VERSION_MISMATCH"
	codeValueTooLarge    = "VALUE_TOO_LARGE"
	codeInternal         = "INTERNAL"
	codeNotImplemented   = "NOT_IMPLEMENTED"
	codeUnavailable      = "UNAVAILABLE"
	codeStoreFull        = "STORE_FULL"
)

// ErrUnavailable is for stores to wrap when they cannot serve a request
// now but may soon (a cluster node without a leader within the request's
// time): it is answered with 503 UNAVAILABLE and Retry-After.
var ErrUnavailable = errors.New("actorstore: unavailable")

// apiError is an error body: the code, the message and the error's
// fields. status is the HTTP status it is sent with.
type apiError struct {
	status    int
	Code      string  `json:"code" cbor:"code"`
	Message   string  `json:"message" cbor:"message"`
	Expected  *uint64 `json:"expected,omitempty" cbor:"expected,omitempty"`
	Actual    *uint64 `json:"actual,omitempty" cbor:"actual,omitempty"`
	Requested *uint64 `json:"requested,omitempty" cbor:"requested,omitempty"`
	Oldest    *uint64 `json:"oldest,omitempty" cbor:"oldest,omitempty"`
	Index     *int    `json:"index,omitempty" cbor:"index,omitempty"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// sentinelCodes maps the store's errors to codes and statuses.
var sentinelCodes = []struct {
	err    error
	status int
	code   string
}{
	{host.ErrInvalidKey, http.StatusBadRequest, codeInvalidKey},
	{host.ErrInvalidValue, http.StatusBadRequest, codeInvalidValue},
	{host.ErrInvalidArgument, http.StatusBadRequest, codeInvalidArgument},
	{host.ErrNotFound, http.StatusNotFound, codeNotFound},
	{host.ErrAlreadyExists, http.StatusConflict, codeAlreadyExists},
	{host.ErrRestored, http.StatusConflict, codeRestored},
	{host.ErrValueTooLarge, http.StatusRequestEntityTooLarge, codeValueTooLarge},
	{host.ErrStoreFull, http.StatusInsufficientStorage, codeStoreFull},
	{host.ErrClosed, http.StatusServiceUnavailable, codeUnavailable},
	{ErrUnavailable, http.StatusServiceUnavailable, codeUnavailable},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, codeUnavailable},
	{context.Canceled, http.StatusServiceUnavailable, codeUnavailable},
	{cborjson.ErrSyntax, http.StatusBadRequest, codeInvalidValue},
}

// errorOf maps any error a handler returns to its error body: the one
// place where errors become statuses.
func errorOf(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var be *host.BatchError
	if errors.As(err, &be) {
		e := errorOf(be.Err)
		c := *e
		c.Index = &be.Index
		c.Message = err.Error()
		return &c
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errorf(http.StatusRequestEntityTooLarge, codeValueTooLarge, "request body larger than %d bytes", mbe.Limit)
	}
	e := &apiError{Message: err.Error()}
	var vm *host.VersionMismatchError
	var ce *host.CompactedError
	switch {
	case errors.As(err, &vm):
		e.status, e.Code, e.Expected, e.Actual = http.StatusPreconditionFailed, codeVersionMismatch, &vm.Expected, &vm.Actual
		return e
	case errors.As(err, &ce):
		e.status, e.Code, e.Requested, e.Oldest = http.StatusGone, codeCompacted, &ce.Requested, &ce.Oldest
		return e
	}
	for _, sc := range sentinelCodes {
		if errors.Is(err, sc.err) {
			e.status, e.Code = sc.status, sc.code
			return e
		}
	}
	e.status, e.Code = http.StatusInternalServerError, codeInternal
	return e
}

// writeError sends err's body, unless the response has begun (then the
// connection is cut, so that the client sees a broken response rather
// than a complete one).
func (s *Server) writeError(r *request, err error) {
	if r.w.status != 0 {
		if !isCanceled(err) {
			s.log.Warn("response failed after it began", "route", r.route, "error", err.Error())
		}
		panic(http.ErrAbortHandler)
	}
	e := errorOf(err)
	h := r.w.Header()
	h.Del("Content-Disposition")
	if e.status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	_ = r.respond(e.status, r.enc().errorBody(e))
}

// closeCode is the WebSocket close code for an error a watcher ends
// with: 4000 + its HTTP status (4410 for COMPACTED), and the reason
// "CODE: message", cut to what a close frame holds.
func closeCode(err error) (int, string) {
	e := errorOf(err)
	reason := e.Code + ": " + e.Message
	if e.Code == codeCompacted && e.Requested != nil {
		reason = e.Code + ": requested " + strconv.FormatUint(*e.Requested, 10) + ", oldest " + strconv.FormatUint(*e.Oldest, 10)
	}
	if len(reason) > 123 {
		reason = strings.ToValidUTF8(reason[:120], "") + "..."
	}
	return 4000 + e.status, reason
}
