package tests

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/internal/wal"
)

const crossRecordsPath = "crosshost/records.json"

// crossRecordTimes are clock readings in Unix milliseconds, as a JS clock
// gives them, at which records.json has each host write a record: parts
// of a millisecond, times before 1970, and times past either end of the
// int64 nanosecond range (years 1678 and 2262), where both hosts clamp.
// Each is a float64 exactly, to the nanosecond.
var crossRecordTimes = []json.Number{
	"0", "1000.000001", "-0.000001", "-1.5", "1700000000000.5",
	"9223372036854", "9223372036854.5", "9223372036855", "9300000000000", "8640000000000000",
	"-9223372036854", "-9223372036854.5", "-9223372036855", "-8640000000000000",
}

// crossRecords is records.json: the mutation records (core/record.go) a
// durable Go store logs for script.json, with the value bytes of
// go_store.json, then for one insert at each of Times.
type crossRecords struct {
	Generator   string        `json:"generator"`
	Description string        `json:"description"`
	Times       []json.Number `json:"times"`
	Records     []string      `json:"records"`
}

// TestCrossHostRecords checks that a durable Go store's write-ahead log
// holds the records of records.json, on each engine. The JS side
// (js/test/crosshost.test.mjs) checks that a persisted JS store logs the
// same bytes for the same operations and clock readings, so that the JS
// host's record encoder and its milliseconds-to-nanoseconds clamp stay
// the Go host's.
func TestCrossHostRecords(t *testing.T) {
	var script crossScript
	readStrict(t, crossScriptPath, &script)
	var goStore crossDump
	readStrict(t, crossGoStorePath, &goStore)
	if len(goStore.Writes) != len(script.Ops) {
		t.Fatalf("%s does not fit %s: regenerate it", crossGoStorePath, crossScriptPath)
	}
	want := crossRecords{
		Generator: crossGoGenerator,
		Description: "The mutation records (core/record.go) of script.json, written with the value bytes of go_store.json, " +
			"then of one insert of type \"time\" (ids 0, 1, ...; value null) at each clock reading of times (Unix ms), " +
			"as a durable Go store logs them. A persisted JS store must log the same bytes.",
		Times: crossRecordTimes,
	}
	for i, e := range engines {
		recs := durableRecords(t, e, &script, goStore.Writes)
		if i == 0 {
			want.Records = recs
		} else if !reflect.DeepEqual(recs, want.Records) {
			t.Fatalf("the engines log different records:\n%v\n%v", want.Records, recs)
		}
	}
	if len(want.Records) < len(crossRecordTimes)+10 {
		t.Fatalf("only %d records: the script makes too few to compare", len(want.Records))
	}
	text := jsonText(&want) + "\n"
	if *update {
		if err := os.WriteFile(crossRecordsPath, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", crossRecordsPath)
		return
	}
	var committed crossRecords
	readStrict(t, crossRecordsPath, &committed)
	if !reflect.DeepEqual(&committed, &want) {
		t.Errorf("the Go host now logs other records than %s (run %s if the change is meant):\n%s",
			crossRecordsPath, crossGoGenerator, text)
	}
}

// durableRecords applies the script (writing the raw value bytes of
// writes, failing operations included) and the inserts at
// crossRecordTimes to a durable store on engine e, and returns the hex of
// every record its log holds.
func durableRecords(t *testing.T, e host.Engine, script *crossScript, writes [][]*string) []string {
	ctx := context.Background()
	dir := t.TempDir()
	var now time.Time
	s := openStore(t, e, host.Options{Dir: dir, Clock: func() time.Time { return now }})
	raw := func(i, j int) any {
		h := writes[i][j]
		if h == nil {
			return nil
		}
		b, err := hex.DecodeString(*h)
		if err != nil {
			t.Fatal(err)
		}
		return cbor.RawMessage(b)
	}
	for i, op := range script.Ops {
		now = time.UnixMilli(op.Time)
		if op.Op != "batch" {
			crossSingle(ctx, t, s, op, raw(i, 0))
			continue
		}
		var ops []host.BatchOp
		for j, o := range op.Ops {
			ops = append(ops, crossBatchOp(t, o, raw(i, j)))
		}
		s.Batch(ctx, ops...) // failing batches log nothing
	}
	for i, ms := range crossRecordTimes {
		now = msTime(t, ms)
		if _, err := s.Insert(ctx, "time", fmt.Sprint(i), cbor.RawMessage{0xf6}); err != nil {
			t.Fatalf("insert at %s ms: %v", ms, err)
		}
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	d, err := wal.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var recs []string
	if _, err := d.Replay(func(payload []byte, _ string, _ int64) error {
		recs = append(recs, hex.EncodeToString(payload))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return recs
}

// msTime is the instant ms (a decimal number of Unix milliseconds, whole
// nanoseconds) names, even outside the int64 nanosecond range.
func msTime(t *testing.T, ms json.Number) time.Time {
	r, ok := new(big.Rat).SetString(string(ms))
	if !ok {
		t.Fatalf("time %q is not a number", ms)
	}
	r.Mul(r, big.NewRat(1e6, 1))
	if !r.IsInt() {
		t.Fatalf("time %s ms is not a whole number of nanoseconds", ms)
	}
	sec, nsec := new(big.Int).DivMod(r.Num(), big.NewInt(1e9), new(big.Int))
	return time.Unix(sec.Int64(), nsec.Int64())
}

// TestCrossHostRecordTimes checks msTime, on which the times of
// records.json rest.
func TestCrossHostRecordTimes(t *testing.T) {
	for _, c := range []struct {
		ms   json.Number
		want time.Time
	}{
		{"0", time.Unix(0, 0)},
		{"1000.000001", time.Unix(1, 1)},
		{"-0.000001", time.Unix(0, -1)},
		{"-1.5", time.Unix(0, -1_500_000)},
		{"8640000000000000", time.Unix(8_640_000_000_000, 0)},
		{"-9223372036854.5", time.Unix(0, -9_223_372_036_854_500_000)},
	} {
		if got := msTime(t, c.ms); !got.Equal(c.want) {
			t.Errorf("msTime(%s) = %v, want %v", c.ms, got, c.want)
		}
	}
}
