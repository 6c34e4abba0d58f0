package client

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/actorstore/actorstore/core"
	"github.com/actorstore/actorstore/host"
)

// Answers holding stored values are read with the walker of this file,
// not with a CBOR decoder: decoders normalize what they read (fxamacker
// drops every self-described CBOR tag 55799 it meets), and a value must
// come back byte for byte as it was stored. The walker only finds where
// each item ends; the fields around the values are decoded as usual.

var errTruncated = errors.New("truncated CBOR")

// maxDepth bounds the nesting the walker follows: a stored value's, and
// the answer's own maps and arrays around it.
const maxDepth = core.MaxNesting + 8

// head reads an item's head at off: its major type, additional
// information, argument and where its content starts.
func head(b []byte, off int) (major, ai byte, arg uint64, next int, err error) {
	if off >= len(b) {
		return 0, 0, 0, 0, errTruncated
	}
	major, ai = b[off]>>5, b[off]&0x1f
	off++
	switch {
	case ai < 24:
		return major, ai, uint64(ai), off, nil
	case ai <= 27:
		n := 1 << (ai - 24)
		if len(b)-off < n {
			return 0, 0, 0, 0, errTruncated
		}
		var buf [8]byte
		copy(buf[8-n:], b[off:off+n])
		return major, ai, binary.BigEndian.Uint64(buf[:]), off + n, nil
	case ai == 31 && major >= 2 && major <= 5 || ai == 31 && major == 7:
		return major, ai, 0, off, nil
	}
	return 0, 0, 0, 0, fmt.Errorf("reserved additional information %d at byte %d", ai, off-1)
}

// skip returns where the item at off ends.
func skip(b []byte, off, depth int) (int, error) {
	if depth > maxDepth {
		return 0, errors.New("CBOR nested too deep")
	}
	major, ai, arg, off, err := head(b, off)
	if err != nil {
		return 0, err
	}
	indef := ai == 31
	switch major {
	case 0, 1:
		return off, nil
	case 7:
		if indef {
			return 0, errors.New("unexpected break")
		}
		return off, nil
	case 2, 3:
		if !indef {
			if uint64(len(b)-off) < arg {
				return 0, errTruncated
			}
			return off + int(arg), nil
		}
		for {
			if off < len(b) && b[off] == 0xff {
				return off + 1, nil
			}
			m, cai, n, next, err := head(b, off)
			if err != nil || m != major || cai == 31 || uint64(len(b)-next) < n {
				return 0, errors.New("bad chunk in an indefinite-length string")
			}
			off = next + int(n)
		}
	case 6:
		return skip(b, off, depth+1)
	}
	// Arrays and maps.
	per := uint64(1)
	if major == 5 {
		per = 2
	}
	if indef {
		for {
			if off < len(b) && b[off] == 0xff {
				return off + 1, nil
			}
			for range per {
				if off, err = skip(b, off, depth+1); err != nil {
					return 0, err
				}
			}
		}
	}
	if arg > uint64(len(b)) { // each item takes a byte at least
		return 0, errTruncated
	}
	for i := uint64(0); i < arg*per; i++ {
		if off, err = skip(b, off, depth+1); err != nil {
			return 0, err
		}
	}
	return off, nil
}

// container reads the head of an array (major 4) or map (5) and calls
// item for each item (each key and each value of a map), with its exact
// bytes.
func container(b []byte, want byte, item func(raw []byte) error) error {
	major, ai, n, off, err := head(b, 0)
	if err != nil {
		return err
	}
	if major != want {
		return fmt.Errorf("CBOR major type %d, want %d", major, want)
	}
	if want == 5 {
		n *= 2
	}
	for i := uint64(0); ai == 31 || i < n; i++ {
		if ai == 31 && off < len(b) && b[off] == 0xff {
			off++
			break
		}
		end, err := skip(b, off, 1)
		if err != nil {
			return err
		}
		if err := item(b[off:end]); err != nil {
			return err
		}
		off = end
	}
	if off != len(b) {
		return fmt.Errorf("%d bytes after the CBOR item", len(b)-off)
	}
	return nil
}

// rawFields returns the entries of a CBOR map with text keys, each value
// as its exact bytes.
func rawFields(b []byte) (map[string][]byte, error) {
	out := map[string][]byte{}
	var key string
	odd := false
	err := container(b, 5, func(raw []byte) error {
		odd = !odd
		if odd {
			return wireDec.Unmarshal(raw, &key)
		}
		out[key] = raw
		return nil
	})
	return out, err
}

// rawItems returns the items of a CBOR array, each as its exact bytes.
func rawItems(b []byte) ([][]byte, error) {
	var out [][]byte
	err := container(b, 4, func(raw []byte) error {
		out = append(out, raw)
		return nil
	})
	return out, err
}

// field decodes the field name of m into v; a field absent or null
// leaves v as it is.
func field(m map[string][]byte, name string, v any) error {
	raw, ok := m[name]
	if !ok {
		return nil
	}
	if err := wireDec.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%q: %v", name, err)
	}
	return nil
}

func isNull(raw []byte) bool { return len(raw) == 1 && raw[0] == 0xf6 }

// value returns the exact bytes of the field name of m.
func value(m map[string][]byte, name string) (cbor.RawMessage, error) {
	raw, ok := m[name]
	if !ok {
		return nil, fmt.Errorf("no %q", name)
	}
	return bytes.Clone(raw), nil
}

// readActor reads an actor map.
func readActor(b []byte) (host.Actor, error) {
	m, err := rawFields(b)
	if err != nil {
		return host.Actor{}, err
	}
	var a host.Actor
	for _, err := range []error{field(m, "type", &a.Type), field(m, "id", &a.ID), field(m, "version", &a.Version)} {
		if err != nil {
			return host.Actor{}, err
		}
	}
	if a.Value, err = value(m, "value"); err != nil {
		return host.Actor{}, err
	}
	return a, nil
}

// readEvent reads an event map. A side (previous or new) is present when
// its version is: its value may itself be CBOR null.
func readEvent(b []byte) (host.ChangeEvent, error) {
	m, err := rawFields(b)
	if err != nil {
		return host.ChangeEvent{}, err
	}
	var w wireEvent
	for _, err := range []error{field(m, "sequence", &w.Sequence), field(m, "operation", &w.Operation),
		field(m, "type", &w.Type), field(m, "id", &w.ID), field(m, "previousVersion", &w.PreviousVersion),
		field(m, "newVersion", &w.NewVersion)} {
		if err != nil {
			return host.ChangeEvent{}, fmt.Errorf("event: %v", err)
		}
	}
	w.Timestamp = m["timestamp"]
	if w.PreviousVersion != nil {
		if w.PreviousValue, err = value(m, "previousValue"); err != nil {
			return host.ChangeEvent{}, fmt.Errorf("event #%d: %v", w.Sequence, err)
		}
	}
	if w.NewVersion != nil {
		if w.NewValue, err = value(m, "newValue"); err != nil {
			return host.ChangeEvent{}, fmt.Errorf("event #%d: %v", w.Sequence, err)
		}
	}
	return w.event()
}

// readList reads {"<name>": [item, ...], ...} with read for each item,
// and returns the other fields.
func readList[T any](b []byte, name string, read func([]byte) (T, error)) ([]T, map[string][]byte, error) {
	m, err := rawFields(b)
	if err != nil {
		return nil, nil, err
	}
	raw, ok := m[name]
	if !ok {
		return nil, nil, fmt.Errorf("no %q", name)
	}
	items, err := rawItems(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%q: %v", name, err)
	}
	out := make([]T, len(items))
	for i, it := range items {
		if out[i], err = read(it); err != nil {
			return nil, nil, fmt.Errorf("%s[%d]: %v", name, i, err)
		}
	}
	return out, m, nil
}

// readResult reads a batch result: {"actor": actor|null, "found": bool}.
func readResult(b []byte) (host.BatchResult, error) {
	m, err := rawFields(b)
	if err != nil {
		return host.BatchResult{}, err
	}
	var r host.BatchResult
	if err := field(m, "found", &r.Found); err != nil {
		return r, err
	}
	if raw, ok := m["actor"]; ok && !isNull(raw) {
		if r.Actor, err = readActor(raw); err != nil {
			return r, err
		}
	}
	return r, nil
}
