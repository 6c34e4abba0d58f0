package cborjson

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

type valueCase struct {
	Name   string          `json:"name"`
	Expect json.RawMessage `json:"expect"`
	GoHex  string          `json:"goHex"`
	JSHex  string          `json:"jsHex"`
}

func loadValues(t testing.TB) []valueCase {
	t.Helper()
	b, err := os.ReadFile("../../tests/crosshost/values.json")
	if err != nil {
		t.Fatal(err)
	}
	var cs []valueCase
	if err := json.Unmarshal(b, &cs); err != nil {
		t.Fatal(err)
	}
	if len(cs) < 50 {
		t.Fatalf("only %d cases in values.json", len(cs))
	}
	return cs
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCrossHostValues runs every case of tests/crosshost/values.json both
// ways: the JSON value converts to the Go host's bytes; the Go host's and
// the JS host's bytes convert to JSON meaning that value; and the Go
// host's bytes come back unchanged through JSON.
func TestCrossHostValues(t *testing.T) {
	for _, c := range loadValues(t) {
		t.Run(c.Name, func(t *testing.T) {
			goBytes, jsBytes := mustHex(t, c.GoHex), mustHex(t, c.JSHex)
			got, err := FromJSON(c.Expect)
			if err != nil {
				t.Fatalf("FromJSON(%s): %v", c.Expect, err)
			}
			if !bytes.Equal(got, goBytes) {
				t.Errorf("FromJSON(%s) = %x, want the Go host's %x", c.Expect, got, goBytes)
			}
			for _, side := range []struct {
				name string
				b    []byte
			}{{"go", goBytes}, {"js", jsBytes}} {
				j, err := ToJSON(side.b)
				if err != nil {
					t.Fatalf("ToJSON(%s %x): %v", side.name, side.b, err)
				}
				if err := sameValue(j, c.Expect); err != nil {
					t.Errorf("ToJSON(%s %x) = %s, want %s: %v", side.name, side.b, j, c.Expect, err)
				}
				back, err := FromJSON(j)
				if err != nil {
					t.Fatalf("FromJSON(ToJSON(%s %x) = %s): %v", side.name, side.b, j, err)
				}
				if side.name == "go" && !bytes.Equal(back, goBytes) {
					t.Errorf("%x → %s → %x, want it unchanged", goBytes, j, back)
				}
				// A valid JSON document, as encoding/json reads it.
				if !json.Valid(j) {
					t.Errorf("ToJSON(%x) = %s is not valid JSON", side.b, j)
				}
			}
		})
	}
}

// sameValue compares two JSON values as the cross-host tests do: numbers
// as float64, except {"$int": "..."} in want, which got must hold exactly
// as an integer literal; objects by their members.
func sameValue(got, want []byte) error {
	g, err := decodeNumbers(got)
	if err != nil {
		return err
	}
	w, err := decodeNumbers(want)
	if err != nil {
		return err
	}
	return compare(g, w, "$")
}

func decodeNumbers(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	return v, d.Decode(&v)
}

func compare(got, want any, path string) error {
	if m, ok := want.(map[string]any); ok && len(m) == 1 {
		if s, ok := m["$int"].(string); ok {
			n, ok := got.(json.Number)
			if !ok || n.String() != s {
				return fmt.Errorf("%s: got %v, want the integer %s exactly", path, got, s)
			}
			return nil
		}
	}
	switch w := want.(type) {
	case json.Number:
		n, ok := got.(json.Number)
		if !ok {
			return fmt.Errorf("%s: got %v, want the number %s", path, got, w)
		}
		gf, _ := strconv.ParseFloat(n.String(), 64)
		wf, _ := strconv.ParseFloat(w.String(), 64)
		if gf != wf {
			return fmt.Errorf("%s: got %s, want %s", path, n, w)
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("%s: got %v, want %v", path, got, want)
		}
		for i := range w {
			if err := compare(g[i], w[i], fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("%s: got %v, want %v", path, got, want)
		}
		for k := range w {
			gv, ok := g[k]
			if !ok {
				return fmt.Errorf("%s: missing key %q", path, k)
			}
			if err := compare(gv, w[k], path+"."+k); err != nil {
				return err
			}
		}
	default:
		if got != want {
			return fmt.Errorf("%s: got %v, want %v", path, got, want)
		}
	}
	return nil
}

// TestForms pins each reserved form both ways, and the escape of a real
// map that looks like one.
func TestForms(t *testing.T) {
	cases := []struct{ json, hex string }{
		{`{"$bytes":""}`, "40"},
		{`{"$bytes":"00ff"}`, "4200ff"},
		{`{"$float":"NaN"}`, "f97e00"},
		{`{"$float":"Infinity"}`, "f97c00"},
		{`{"$float":"-Infinity"}`, "f9fc00"},
		{`{"$tag":[1,1700000000]}`, "c11a6553f100"},
		{`{"$tag":[0,"2024-01-01T00:00:00Z"]}`, "c074323032342d30312d30315430303a30303a30305a"},
		{`{"$tag":[55799,[]]}`, "d9d9f780"},
		{`{"$tag":[18446744073709551615,null]}`, "dbfffffffffffffffff6"},
		{`{"$tag":[2,{"$tag":[3,1]}]}`, "c2c301"},
		{`{"$map":[[1,"a"],[-1,"b"]]}`, "a2016161206162"},
		{`{"$map":[[{"$bytes":"00"},true]]}`, "a14100f5"},
		{`{"$map":[[[1,2],{}],[{"a":1},[]]]}`, "a2820102a0a1616101" + "80"},
		{`{"$map":[["$bytes","00"]]}`, "a166246279746573623030"},
		{`{"$map":[["$map",[]]]}`, "a164246d617080"},
		{`{"$map":[["a",1],["a",2]]}`, "a2616101616102"},
		{`{"$undefined":true}`, "f7"},
		{`{"$simple":0}`, "e0"},
		{`{"$simple":19}`, "f3"},
		{`{"$simple":32}`, "f820"},
		{`{"$simple":255}`, "f8ff"},
		{`{"x":1,"$bytes":"00"}`, "a261780166246279746573623030"},
		{`{"$set":1}`, "a1642473657401"},
		{`18446744073709551616`, "c249010000000000000000"},
		{`-18446744073709551617`, "c349010000000000000000"},
		{`-18446744073709551616`, "3bffffffffffffffff"},
		{`1.0`, "f93c00"},
		{`-0.0`, "f98000"},
		{`1e+300`, "fb7e37e43c8800759c"},
		{`1e-7`, "fb3e7ad7f29abcaf48"},
		{`100000.5`, "fa47c35040"},
		{`"a\"b\\c\n\u0001\u2028"`, "6a6122625c630a01e280a8"},
	}
	for _, c := range cases {
		want := mustHex(t, c.hex)
		got, err := FromJSON([]byte(c.json))
		if err != nil {
			t.Errorf("FromJSON(%s): %v", c.json, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("FromJSON(%s) = %x, want %x", c.json, got, want)
			continue
		}
		j, err := ToJSON(got)
		if err != nil {
			t.Errorf("ToJSON(%x): %v", got, err)
			continue
		}
		if string(j) != c.json {
			t.Errorf("ToJSON(%x) = %s, want %s", got, j, c.json)
		}
	}
}

// TestOtherEncodings: CBOR the store accepts in other encodings than the
// deterministic one reads as the same JSON, which writes the
// deterministic bytes.
func TestOtherEncodings(t *testing.T) {
	cases := []struct{ in, json, out string }{
		{"1b0000000000000001", `1`, "01"},
		{"fb3ff0000000000000", `1.0`, "f93c00"},
		{"fa7fc00000", `{"$float":"NaN"}`, "f97e00"},
		{"fb7ff8000000000001", `{"$float":"NaN"}`, "f97e00"},
		{"5f4101420203ff", `{"$bytes":"010203"}`, "43010203"},
		{"7f6161626263ff", `"abc"`, "63616263"},
		{"9f0102ff", `[1,2]`, "820102"},
		{"bf616202616101ff", `{"b":2,"a":1}`, "a2616101616202"},
		{"b90001616101", `{"a":1}`, "a1616101"},
		{"a2616201616101", `{"b":1,"a":1}`, "a2616101616201"},
		{"c2420001", `1`, "01"},
		{"c348ffffffffffffffff", `-18446744073709551616`, "3bffffffffffffffff"},
		{"c240", `0`, "00"},
		{"c25f4101ff", `1`, "01"},
		{"a2616101616102", `{"$map":[["a",1],["a",2]]}`, "a2616101616102"},
	}
	for _, c := range cases {
		in := mustHex(t, c.in)
		j, err := ToJSON(in)
		if err != nil {
			t.Errorf("ToJSON(%s): %v", c.in, err)
			continue
		}
		if string(j) != c.json {
			t.Errorf("ToJSON(%s) = %s, want %s", c.in, j, c.json)
		}
		out, err := FromJSON(j)
		if err != nil {
			t.Errorf("FromJSON(%s): %v", j, err)
			continue
		}
		if hex.EncodeToString(out) != c.out {
			t.Errorf("FromJSON(%s) = %x, want %s", j, out, c.out)
		}
	}
}

// TestGoEncoderAgrees: FromJSON writes what the Go host's deterministic
// encoder writes for the same Go value.
func TestGoEncoderAgrees(t *testing.T) {
	eo := cbor.CoreDetEncOptions()
	em, err := eo.EncMode()
	if err != nil {
		t.Fatal(err)
	}
	big1, _ := new(big.Int).SetString("-340282366920938463463374607431768211456", 10)
	vals := []any{
		map[string]any{"zz": 1, "a": []any{int64(-300), 0.25, "x", nil, true}, "b": map[string]any{}},
		[]any{uint64(1) << 63, int64(-1) << 63, 3.4028234663852886e38, 5e-324, 65504.0, 65505.0, 1e-8},
		big1,
		"日本語",
	}
	for _, v := range vals {
		want, err := em.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		j, err := ToJSON(want)
		if err != nil {
			t.Fatal(err)
		}
		got, err := FromJSON(j)
		if err != nil {
			t.Fatalf("FromJSON(%s): %v", j, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%v: FromJSON(%s) = %x, Go encoder %x", v, j, got, want)
		}
	}
}

func TestFromJSONErrors(t *testing.T) {
	bad := []string{
		``, ` `, `{`, `}`, `[`, `[1,]`, `[1 2]`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `{"a":1 "b":2}`,
		`01`, `-`, `1.`, `.5`, `1e`, `1e+`, `+1`, `0x10`, `NaN`, `Infinity`, `1e400`, `-1e400`,
		`tru`, `nul`, `falsey`, `"abc`, `"\x"`, `"\u12"`, `"\ud800"`, `"\udc00\ud800"`, "\"a\x01\"",
		"\"\xff\"", `1 2`, `{"a":1,"a":2}`, `{"$bytes":"0"}`, `{"$bytes":"zz"}`, `{"$bytes":1}`,
		`{"$float":"nan"}`, `{"$float":1}`, `{"$int":"01"}`, `{"$int":1}`, `{"$int":"1.5"}`, `{"$int":""}`,
		`{"$tag":[1]}`, `{"$tag":[-1,2]}`, `{"$tag":["1",2]}`, `{"$tag":[1,2,3]}`, `{"$tag":1}`,
		`{"$map":[[1]]}`, `{"$map":[1]}`, `{"$map":{}}`, `{"$undefined":false}`, `{"$undefined":null}`,
		`{"$simple":20}`, `{"$simple":24}`, `{"$simple":31}`, `{"$simple":256}`, `{"$simple":-1}`,
		`{"$simple":1.0}`, strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1),
		"1" + strings.Repeat("0", maxIntDigits),
	}
	for _, s := range bad {
		if b, err := FromJSON([]byte(s)); err == nil || !errors.Is(err, ErrSyntax) {
			t.Errorf("FromJSON(%q) = %x, %v; want an ErrSyntax", s, b, err)
		}
	}
	deep := strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth)
	if _, err := FromJSON([]byte(deep)); err != nil {
		t.Errorf("FromJSON of %d nested arrays: %v", maxJSONDepth, err)
	}
}

func TestToJSONErrors(t *testing.T) {
	bad := []string{
		"", "18", "1c", "5f", "5f41", "5f6100ff", "62ff", "62c3", "7f6161", "61ff", "9f", "9f01",
		"a1", "a101", "bf01ff", "ff", "1f", "3f", "df", "f818", "f8", "f9", "fa0000", "c0", "0101",
		"82", "9b0000000100000000", "bb0000000100000000",
		strings.Repeat("81", MaxNesting+1) + "00",
	}
	for _, h := range bad {
		b := mustHex(t, h)
		if j, err := ToJSON(b); err == nil || !errors.Is(err, ErrSyntax) {
			t.Errorf("ToJSON(%s) = %s, %v; want an ErrSyntax", h, j, err)
		}
	}
	if _, err := ToJSON(mustHex(t, strings.Repeat("81", MaxNesting)+"00")); err != nil {
		t.Errorf("ToJSON of %d nested arrays: %v", MaxNesting, err)
	}
}
