package cborjson

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/actorstore/actorstore/core"
)

func addSeeds(f *testing.F, asJSON bool) {
	for _, c := range loadValues(f) {
		if asJSON {
			f.Add([]byte(c.Expect))
		} else {
			f.Add(mustHex(f, c.GoHex))
			f.Add(mustHex(f, c.JSHex))
		}
	}
	for _, s := range []string{`{"$tag":[1,2]}`, `{"$map":[[1,2],[[],{}]]}`, `{"$simple":7}`, `{"$undefined":true}`,
		`{"$int":"-123456789012345678901234567890"}`, `"\u00e9\ud83d\ude00\n"`, ` [1 , 2.5e-3 , -0.0 ] `} {
		if asJSON {
			f.Add([]byte(s))
		} else if b, err := FromJSON([]byte(s)); err == nil {
			f.Add(b)
		}
	}
}

// FuzzFromJSON: what FromJSON accepts is valid JSON; its CBOR reads back
// through ToJSON and FromJSON to the same bytes, and that JSON is a fixed
// point.
func FuzzFromJSON(f *testing.F) {
	addSeeds(f, true)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := FromJSON(data)
		if err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("FromJSON accepted invalid JSON %q", data)
		}
		j, err := ToJSON(c)
		if err != nil {
			if strings.Contains(err.Error(), "nested deeper") {
				return // JSON may nest deeper than the CBOR values read
			}
			t.Fatalf("ToJSON(FromJSON(%q) = %x): %v", data, c, err)
		}
		c2, err := FromJSON(j)
		if err != nil {
			t.Fatalf("FromJSON(%s): %v", j, err)
		}
		if !bytes.Equal(c, c2) {
			t.Fatalf("%q → %x → %s → %x", data, c, j, c2)
		}
		j2, err := ToJSON(c2)
		if err != nil || !bytes.Equal(j, j2) {
			t.Fatalf("%s → %x → %s (%v)", j, c2, j2, err)
		}
	})
}

// FuzzToJSON: any CBOR the store accepts converts to valid JSON; that
// JSON converts to deterministic CBOR which is a fixed point both ways.
func FuzzToJSON(f *testing.F) {
	addSeeds(f, false)
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := ToJSON(data)
		if err != nil {
			if core.CheckValue(data) == nil {
				t.Fatalf("ToJSON(%x) failed on a value the store accepts: %v", data, err)
			}
			return
		}
		if !json.Valid(j) {
			t.Fatalf("ToJSON(%x) = %q is not valid JSON", data, j)
		}
		c, err := FromJSON(j)
		if err != nil {
			t.Fatalf("FromJSON(ToJSON(%x) = %s): %v", data, j, err)
		}
		// c is deterministic: a fixed point through JSON, and so is its
		// JSON. (j itself need not be: data may be in another encoding.)
		j2, err := ToJSON(c)
		if err != nil {
			t.Fatalf("ToJSON(%x): %v", c, err)
		}
		c2, err := FromJSON(j2)
		if err != nil || !bytes.Equal(c, c2) {
			t.Fatalf("%x → %s → %x (%v)", c, j2, c2, err)
		}
		if j3, err := ToJSON(c2); err != nil || !bytes.Equal(j2, j3) {
			t.Fatalf("%s → %x → %s (%v)", j2, c2, j3, err)
		}
		if bytes.Equal(data, c) && !bytes.Equal(j, j2) {
			t.Fatalf("%x → %s → %x → %s: deterministic input, yet its JSON changed", data, j, c, j2)
		}
	})
}
