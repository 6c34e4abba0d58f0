package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/actorstore/actorstore/core"
	"github.com/actorstore/actorstore/host"
)

// Errors of the client itself; the store's errors are host's sentinels
// and types (host.ErrNotFound, *host.VersionMismatchError, ...), exactly
// as an embedded store returns them.
var (
	// ErrUnauthorized is returned when the server refused the request's
	// token (HTTP 401): Options.Token is missing or wrong.
	ErrUnauthorized = errors.New("actorstore: unauthorized")
	// ErrUnavailable is returned when the server answered 503 (a cluster
	// without a leader, a node shutting down) on every attempt the retry
	// policy allowed.
	ErrUnavailable = errors.New("actorstore: unavailable")
)

// Error is an error the server answered, or one the client found before
// sending (Status 0) where the server would have answered the same. It
// unwraps to the host sentinel or typed error of its code, so
// errors.Is(err, host.ErrNotFound) and errors.As(err, &vm) with vm a
// *host.VersionMismatchError work as on an embedded store.
type Error struct {
	// Status is the HTTP status, 0 for an error found before sending.
	Status int
	// Code is the contract's code, such as "NOT_FOUND".
	Code string
	// Message is the server's message, such as
	// "actorstore: not found: user/u1".
	Message string

	err error
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the host sentinel or typed error of the code.
func (e *Error) Unwrap() error { return e.err }

// codeSentinels maps contract codes to host's sentinels.
var codeSentinels = map[string]error{
	"INVALID_KEY": host.ErrInvalidKey, "ALREADY_EXISTS": host.ErrAlreadyExists, "NOT_FOUND": host.ErrNotFound,
	"VERSION_MISMATCH": host.ErrVersionMismatch, "COMPACTED": host.ErrCompacted,
	"INVALID_VALUE": host.ErrInvalidValue, "VALUE_TOO_LARGE": host.ErrValueTooLarge,
	"STORE_FULL": host.ErrStoreFull, "INVALID_ARGUMENT": host.ErrInvalidArgument, "CLOSED": host.ErrClosed,
	"INTERNAL": host.ErrInternal, "RESTORED": host.ErrRestored, "UNAUTHORIZED": ErrUnauthorized,
	"UNAVAILABLE": ErrUnavailable,
}

// CodeOf returns the contract code of err ("NOT_FOUND", ...), or "" when
// it has none.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	for c, s := range codeSentinels {
		if errors.Is(err, s) {
			return c
		}
	}
	return ""
}

// mapWireError turns an error body into the host's error values.
func mapWireError(status int, w *wireError) error {
	e := &Error{Status: status, Code: w.Code, Message: w.Message}
	if e.Message == "" {
		e.Message = "actorstore: " + strings.ToLower(strings.ReplaceAll(w.Code, "_", " "))
	}
	switch {
	case w.Code == "VERSION_MISMATCH" && w.Expected != nil && w.Actual != nil:
		e.err = &host.VersionMismatchError{Expected: *w.Expected, Actual: *w.Actual}
	case w.Code == "COMPACTED" && w.Requested != nil && w.Oldest != nil:
		e.err = &host.CompactedError{Requested: *w.Requested, Oldest: *w.Oldest}
	default:
		e.err = codeSentinels[w.Code]
		if e.err == nil {
			e.err = statusSentinel(status)
		}
	}
	if w.Index != nil {
		return &host.BatchError{Index: *w.Index, Err: e}
	}
	return e
}

// statusSentinel is the sentinel of a status whose body named no known
// code: only 401 and 503 stand for one. A bare 404 (no such route: a
// wrong server URL) is not an absent actor.
func statusSentinel(status int) error {
	switch status {
	case http.StatusUnauthorized:
		return ErrUnauthorized
	case http.StatusServiceUnavailable:
		return ErrUnavailable
	}
	return nil
}

// decodeError reads an error response: CBOR or JSON by its content type,
// or any other body as the message.
func decodeError(status int, contentType string, body []byte) error {
	var w wireError
	mt, _, _ := mime.ParseMediaType(contentType)
	var err error
	switch mt {
	case cborType:
		err = wireDec.Unmarshal(body, &w)
	case "application/json":
		err = json.Unmarshal(body, &w)
	default:
		err = errors.New("not an error document")
	}
	if err != nil || w.Code == "" {
		msg := strings.TrimSpace(string(body))
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		w = wireError{Code: codeOfStatus(status), Message: fmt.Sprintf("actorstore: HTTP %d %s: %s", status, http.StatusText(status), msg)}
	}
	return mapWireError(status, &w)
}

// codeOfStatus names the code a bare status stands for.
func codeOfStatus(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "UNAUTHORIZED"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	}
	return fmt.Sprintf("HTTP_%d", status)
}

// localError is an error the client finds before sending, worded as the
// store words it.
func localError(sentinel error, code, msg string) error {
	return &Error{Code: code, Message: "actorstore: " + msg, err: sentinel}
}

// coreError maps an error of the core's own checks (keys, values), which
// the client runs before sending where the server would answer the same.
func coreError(e *core.Error) error {
	if e == nil {
		return nil
	}
	code := e.Code.String()
	err := &Error{Code: code, Message: e.Error(), err: codeSentinels[code]}
	if e.Index >= 0 {
		return &host.BatchError{Index: e.Index, Err: err}
	}
	return err
}
