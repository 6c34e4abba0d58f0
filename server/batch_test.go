package server

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/actorstore/actorstore/host"
)

// TestBatchValuesKeepBytes checks that a batch stores each value as the
// bytes it was sent as, in forms a CBOR decoder would normalize: a
// leading self-described CBOR tag (55799), indefinite lengths,
// non-shortest heads, unsorted keys.
func TestBatchValuesKeepBytes(t *testing.T) {
	ts := newTestServer(t, host.Options{}, Options{})
	ctx := context.Background()
	values := [][]byte{
		{0xd9, 0xd9, 0xf7, 0xa0},                   // 55799({})
		{0xd9, 0xd9, 0xf7, 0xd9, 0xd9, 0xf7, 0xf6}, // 55799(55799(null))
		{0x9f, 0x01, 0x7f, 0x61, 0x61, 0xff, 0xff}, // [_ 1, (_ "a")]
		{0x18, 0x01}, // 1 in two bytes
		{0xa2, 0x61, 0x62, 0x01, 0x61, 0x61, 0x02}, // {"b": 1, "a": 2}
		{0xf6},
	}
	for i, v := range values {
		id := string(rune('a' + i))
		body, err := cbor.Marshal(map[string]any{"ops": []any{
			map[string]any{"op": "insert", "type": "c", "id": id, "value": cbor.RawMessage(v)},
			map[string]any{"op": "updateVersioned", "type": "c", "id": id, "value": cbor.RawMessage(v), "expectedVersion": 0},
		}})
		if err != nil {
			t.Fatal(err)
		}
		r := ts.do("POST", "/v1/batch", body, "Content-Type", "application/cbor", "Accept", "application/cbor")
		expectStatus(t, r, 200)
		a, ok, err := ts.store.Get(ctx, "c", id)
		if !ok || err != nil || !bytes.Equal(a.Value, v) || a.Version != 1 {
			t.Errorf("CBOR batch of %x: stored %x version %d (%v, %v)", v, a.Value, a.Version, ok, err)
		}
		// The answer embeds the values as they are too.
		var res struct {
			Results []struct {
				Actor struct {
					Value cbor.RawMessage `cbor:"value"`
				} `cbor:"actor"`
			} `cbor:"results"`
		}
		if err := cbor.Unmarshal(r.body, &res); err != nil || len(res.Results) != 2 || !bytes.Contains(r.body, v) {
			t.Errorf("CBOR batch of %x: answer %x (%v)", v, r.body, err)
		}
	}
	// JSON: the reversible form of a self-described value.
	expectStatus(t, ts.do("POST", "/v1/batch", []byte(`{"ops":[{"op":"insert","type":"j","id":"1","value":{"$tag":[55799,{}]}}]}`)), 200)
	if a, _, _ := ts.store.Get(ctx, "j", "1"); !bytes.Equal(a.Value, []byte{0xd9, 0xd9, 0xf7, 0xa0}) {
		t.Errorf("JSON batch of 55799({}): stored %x", a.Value)
	}
	// A whole body marked as self-described CBOR reads as the body.
	body := append([]byte{0xd9, 0xd9, 0xf7}, mustCBOR(t, []any{map[string]any{"op": "insert", "type": "s", "id": "1", "value": 5}})...)
	expectStatus(t, ts.do("POST", "/v1/batch", body, "Content-Type", "application/cbor"), 200)
	if a, _, _ := ts.store.Get(ctx, "s", "1"); !bytes.Equal(a.Value, []byte{0x05}) {
		t.Errorf("self-described batch body: stored %x", a.Value)
	}
}

// TestBatchRefusals checks the refusals of malformed operations: each
// names the operation's index, in the message and in "index", and says
// what is wrong.
func TestBatchRefusals(t *testing.T) {
	ts := newTestServer(t, host.Options{}, Options{})
	ok := `{"op":"insert","type":"a","id":"1","value":1}`
	for _, c := range []struct{ op, says string }{
		{`1`, "want a map"},
		{`{}`, `"op" is missing`},
		{`{"op":"upsert","type":"a","id":"1","value":1}`, `unknown op "upsert"`},
		{`{"op":"insert","type":"a","id":"1"}`, `"value" is missing`},
		{`{"op":"insert","id":"1","value":1}`, `"type" and "id" are required`},
		{`{"op":"delete","type":"a","id":"1","value":1}`, `a delete takes no "value"`},
		{`{"op":"updateVersioned","type":"a","id":"1","value":1}`, `"expectedVersion" is missing`},
		{`{"op":"update","type":"a","id":"1","value":1,"expectedVersion":1}`, `"expectedVersion" is only for updateVersioned`},
		{`{"op":"insert","type":"a","id":"1","value":1,"extra":1}`, `unknown key "extra"`},
		{`{"op":"insert","type":1,"id":"1","value":1}`, `"type" must be text`},
		{`{"op":"insert","type":"a","id":"1","value":1,"OP":"insert"}`, `unknown key "OP"`},
		{`{"op":"updateVersioned","type":"a","id":"1","value":1,"expectedVersion":-1}`, `"expectedVersion" must be an unsigned integer`},
		{`{"op":"updateVersioned","type":"a","id":"1","value":1,"expectedVersion":1.0}`, `"expectedVersion" must be an unsigned integer`},
	} {
		r := ts.do("POST", "/v1/batch", []byte(`{"ops":[`+ok+`,`+c.op+`]}`))
		m := expectError(t, r, 400, "INVALID_ARGUMENT")
		if msg := m["message"].(string); m["index"] != json.Number("1") || !strings.Contains(msg, "batch operation 1: ") || !strings.Contains(msg, c.says) {
			t.Errorf("%s: %s, want index 1 and %q", c.op, r.body, c.says)
		}
	}
	for _, c := range []struct{ body, says string }{
		{`{"opz":[]}`, `unknown key "opz"`},
		{`{"ops":1}`, `"ops" must be an array`},
		{`"x"`, `want {"ops"`},
	} {
		r := ts.do("POST", "/v1/batch", []byte(c.body))
		m := expectError(t, r, 400, "INVALID_ARGUMENT")
		if msg := m["message"].(string); m["index"] != nil || !strings.Contains(msg, c.says) {
			t.Errorf("%s: %s, want %q", c.body, r.body, c.says)
		}
	}
	// Repeated keys, which JSON's parser refuses before, in CBOR.
	insert := []any{"op", "insert", "type", "a", "id", "1", "value", 1}
	for _, c := range []struct {
		body  []byte
		says  string
		index any
	}{
		{pairs(t, "ops", []any{}, "ops", []any{}), `repeated key "ops"`, nil},
		{cborArray(t, pairs(t, insert...), pairs(t, append(insert, "id", "2")...)), `repeated key "id"`, json.Number("1")},
	} {
		r := ts.do("POST", "/v1/batch", c.body, "Content-Type", "application/cbor")
		m := expectError(t, r, 400, "INVALID_ARGUMENT")
		if msg := m["message"].(string); m["index"] != c.index || !strings.Contains(msg, c.says) {
			t.Errorf("%x: %s, want %q", c.body, r.body, c.says)
		}
	}
	// CBOR the JSON side cannot write: trailing bytes, a truncated value,
	// text that is not UTF-8 in a field, a key that is not text.
	for _, b := range [][]byte{
		append(mustCBOR(t, []any{}), 0x00),
		{0x81, 0xa1, 0x65, 'v', 'a', 'l', 'u', 'e', 0x62, 'a'},
		mustCBOR(t, []any{map[string]any{"op": "insert", "type": cbor.RawMessage{0x61, 0xff}, "id": "1", "value": 1}}),
		mustCBOR(t, []any{map[any]any{1: "insert"}}),
	} {
		expectError(t, ts.do("POST", "/v1/batch", b, "Content-Type", "application/cbor"), 400, "INVALID_ARGUMENT")
	}
	if st := stats(t, ts); st.CurrentSequence != 0 {
		t.Errorf("refused batches made %d events", st.CurrentSequence)
	}
}

// pairs encodes a CBOR map of the keys and values given in turn, in
// that order, repeats included.
func pairs(t testing.TB, kv ...any) []byte {
	b := []byte{0xa0 | byte(len(kv)/2)}
	for _, x := range kv {
		b = append(b, mustCBOR(t, x)...)
	}
	return b
}

// cborArray encodes a CBOR array of encoded items.
func cborArray(t testing.TB, items ...[]byte) []byte {
	return append([]byte{0x80 | byte(len(items))}, bytes.Join(items, nil)...)
}
