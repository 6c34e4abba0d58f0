package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A command is one entry of the Raft log: what the leader was asked to
// do, the leader's timestamp for it and the write's idempotency key.
// Applying it to the store on any node gives the same result.
//
// Encoding (version 1), integers as Go varints (binary.AppendUvarint,
// AppendVarint):
//
//	byte     version (1)
//	byte     kind: 1 a single write, 2 a batch, 3 a restore
//	varint   timestamp, Unix nanoseconds
//	uvarint  key length + 1, then the key (0: no idempotency key)
//	kind 1, 2: uvarint op count (1 for kind 1; any for a batch, 0 included),
//	then each op:
//	  byte    op kind: 1 insert, 2 update, 3 updateVersioned, 4 delete
//	  uvarint type length, type; uvarint id length, id
//	  uvarint expected version
//	  uvarint value length + 1, value (0: no value, a delete)
//	kind 3: the rest is a portable snapshot stream
type command struct {
	kind   byte
	ts     int64
	key    string
	hasKey bool
	ops    []op
	snap   []byte
}

// op is one operation of a command.
type op struct {
	kind     byte
	typ, id  string
	expected uint64
	value    []byte // nil for a delete
}

const commandVersion = 1

// Command kinds.
const (
	cmdWrite   = 1
	cmdBatch   = 2
	cmdRestore = 3
)

// Operation kinds.
const (
	opInsert          = 1
	opUpdate          = 2
	opUpdateVersioned = 3
	opDelete          = 4
)

// maxOps bounds the operations of a decoded command: more than any batch
// the store takes, so that a corrupt count cannot allocate much.
const maxOps = 1 << 16

var errBadCommand = errors.New("cluster: malformed log command")

func (c *command) encode() []byte {
	n := 16 + len(c.key) + len(c.snap)
	for i := range c.ops {
		n += 24 + len(c.ops[i].typ) + len(c.ops[i].id) + len(c.ops[i].value)
	}
	b := make([]byte, 0, n)
	b = append(b, commandVersion, c.kind)
	b = binary.AppendVarint(b, c.ts)
	if c.hasKey {
		b = binary.AppendUvarint(b, uint64(len(c.key))+1)
		b = append(b, c.key...)
	} else {
		b = append(b, 0)
	}
	if c.kind == cmdRestore {
		return append(b, c.snap...)
	}
	b = binary.AppendUvarint(b, uint64(len(c.ops)))
	for i := range c.ops {
		o := &c.ops[i]
		b = append(b, o.kind)
		b = binary.AppendUvarint(b, uint64(len(o.typ)))
		b = append(b, o.typ...)
		b = binary.AppendUvarint(b, uint64(len(o.id)))
		b = append(b, o.id...)
		b = binary.AppendUvarint(b, o.expected)
		if o.value == nil {
			b = append(b, 0)
		} else {
			b = binary.AppendUvarint(b, uint64(len(o.value))+1)
			b = append(b, o.value...)
		}
	}
	return b
}

// decoder reads a command's fields, remembering the first failure.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errBadCommand, what)
	}
}

func (d *decoder) byte1(what string) byte {
	if d.err != nil || len(d.b) == 0 {
		d.fail(what)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n uint64, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(what)
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

// decodeCommand decodes a log entry's data. Values and the snapshot
// alias b.
func decodeCommand(b []byte) (*command, error) {
	d := &decoder{b: b}
	if v := d.byte1("version"); d.err == nil && v != commandVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", errBadCommand, v, commandVersion)
	}
	c := &command{kind: d.byte1("kind")}
	if d.err == nil {
		ts, n := binary.Varint(d.b)
		if n <= 0 {
			d.fail("timestamp")
		} else {
			c.ts, d.b = ts, d.b[n:]
		}
	}
	if kl := d.uvarint("key length"); kl > 0 {
		c.key, c.hasKey = string(d.bytes(kl-1, "key")), true
	}
	if d.err != nil {
		return nil, d.err
	}
	switch c.kind {
	case cmdRestore:
		c.snap = d.b
		return c, nil
	case cmdWrite, cmdBatch:
	default:
		return nil, fmt.Errorf("%w: kind %d", errBadCommand, c.kind)
	}
	n := d.uvarint("op count")
	if d.err == nil && (n > maxOps || (c.kind == cmdWrite && n != 1) || n > uint64(len(d.b))) {
		return nil, fmt.Errorf("%w: %d operations", errBadCommand, n)
	}
	if d.err != nil {
		return nil, d.err
	}
	c.ops = make([]op, n)
	for i := range c.ops {
		o := &c.ops[i]
		o.kind = d.byte1("op kind")
		if d.err == nil && (o.kind < opInsert || o.kind > opDelete) {
			return nil, fmt.Errorf("%w: op kind %d", errBadCommand, o.kind)
		}
		o.typ = string(d.bytes(d.uvarint("type length"), "type"))
		o.id = string(d.bytes(d.uvarint("id length"), "id"))
		o.expected = d.uvarint("expected version")
		if vl := d.uvarint("value length"); vl > 0 {
			o.value = d.bytes(vl-1, "value")
		}
		if d.err != nil {
			return nil, d.err
		}
		if (o.value == nil) != (o.kind == opDelete) {
			return nil, fmt.Errorf("%w: op %d: a delete carries no value, other ops one", errBadCommand, i)
		}
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the last op", errBadCommand, len(d.b))
	}
	return c, nil
}
