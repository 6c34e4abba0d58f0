// Command gen writes js/lib/abi.js, the JS host's copy of the ABI's
// constants, from the Go constants of internal/abi and core, so that the
// two hosts cannot disagree about a byte. It runs as
//
//	go generate ./internal/abi
//
// and build.sh checks that the committed file is what it writes.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strconv"

	"github.com/actorstore/actorstore/core"
	"github.com/actorstore/actorstore/internal/abi"
)

// number is one exported number: its JS name, the Go constant it comes
// from (checked against it by main_test.go) and its value.
type number struct {
	js, gopkg, goname string
	value             int64
}

func c(js, goname string, v int64) number  { return number{js, "abi", goname, v} }
func cc(js, goname string, v int64) number { return number{js, "core", goname, v} }

// group is a commented run of constants.
type group struct {
	doc    string
	consts []number
}

var groups = []group{
	{"The module's ABI version (abi_version), the largest request input_buffer\n" +
		"accepts and the smallest buffer it makes.", []number{
		c("ABI_VERSION", "Version", abi.Version),
		c("MAX_REQUEST_BYTES", "MaxRequestBytes", abi.MaxRequestBytes),
		c("MIN_INPUT_BUFFER", "MinInputBuffer", abi.MinInputBuffer),
	}},
	{"Keys, batches and options (0 means the default).", []number{
		cc("MAX_TYPE_BYTES", "MaxTypeBytes", core.MaxTypeBytes),
		cc("MAX_ID_BYTES", "MaxIDBytes", core.MaxIDBytes),
		cc("MAX_BATCH_OPS", "MaxBatchOps", core.MaxBatchOps),
		cc("DEFAULT_REPLAY_BUFFER_SIZE", "DefaultReplayBufferSize", core.DefaultReplayBufferSize),
		cc("DEFAULT_REPLAY_BUFFER_BYTES", "DefaultReplayBufferBytes", core.DefaultReplayBufferBytes),
		cc("DEFAULT_MAX_VALUE_BYTES", "DefaultMaxValueBytes", core.DefaultMaxValueBytes),
		cc("DEFAULT_MAX_DATA_BYTES", "DefaultMaxDataBytes", core.DefaultMaxDataBytes),
		cc("MAX_REPLAY_BUFFER_SIZE", "MaxReplayBufferSize", core.MaxReplayBufferSize),
		cc("MAX_VALUE_LIMIT", "MaxValueLimit", core.MaxValueLimit),
		cc("MAX_DATA_LIMIT", "MaxDataLimit", core.MaxDataLimit),
	}},
	{"Idempotency keys: the longest key, the table's default bounds\n" +
		"(configure_idempotency; the time to live in nanoseconds) and the largest\n" +
		"count it accepts.", []number{
		cc("MAX_IDEMPOTENCY_KEY_BYTES", "MaxIdempotencyKeyBytes", core.MaxIdempotencyKeyBytes),
		cc("DEFAULT_IDEMPOTENCY_KEYS", "DefaultIdempotencyKeys", core.DefaultIdempotencyKeys),
		cc("DEFAULT_IDEMPOTENCY_TTL", "DefaultIdempotencyTTL", core.DefaultIdempotencyTTL),
		cc("DEFAULT_IDEMPOTENCY_BYTES", "DefaultIdempotencyBytes", core.DefaultIdempotencyBytes),
		cc("MAX_IDEMPOTENCY_KEYS", "MaxIdempotencyKeys", core.MaxIdempotencyKeys),
	}},
	{"The first byte of a mutation record (replay, the IndexedDB log), and of\n" +
		"a keyed write's record, which replay reads too.", []number{
		cc("RECORD_FORMAT", "RecordFormat", core.RecordFormat),
		cc("RECORD_FORMAT_KEYED", "RecordFormatKeyed", core.RecordFormatKeyed),
	}},
	{"The status byte that starts every result. Error offsets count from it;\n" +
		"success offsets count from the byte after it (the body).", []number{
		c("STATUS_SIZE", "StatusSize", abi.StatusSize),
	}},
	{"An error result.", []number{
		c("ERROR_CODE", "ErrorCode", abi.ErrorCode),
		c("ERROR_EXPECTED", "ErrorExpected", abi.ErrorExpected),
		c("ERROR_ACTUAL", "ErrorActual", abi.ErrorActual),
		c("ERROR_REQUESTED", "ErrorRequested", abi.ErrorRequested),
		c("ERROR_OLDEST", "ErrorOldest", abi.ErrorOldest),
		c("ERROR_INDEX", "ErrorIndex", abi.ErrorIndex),
		c("ERROR_MSG_LEN", "ErrorMsgLen", abi.ErrorMsgLen),
		c("ERROR_HEADER", "ErrorHeader", abi.ErrorHeader),
	}},
	{"insert, update, update_versioned.", []number{
		c("WRITE_VERSION", "WriteVersion", abi.WriteVersion),
		c("WRITE_SEQUENCE", "WriteSequence", abi.WriteSequence),
		c("WRITE_SIZE", "WriteSize", abi.WriteSize),
	}},
	{"get: version and value only when found is 1.", []number{
		c("GET_FOUND", "GetFound", abi.GetFound),
		c("GET_VERSION", "GetVersion", abi.GetVersion),
		c("GET_VALUE_LEN", "GetValueLen", abi.GetValueLen),
		c("GET_HEADER", "GetHeader", abi.GetHeader),
	}},
	{"One result of delete (its whole body) or of batch; the value follows.", []number{
		c("RESULT_FOUND", "ResultFound", abi.ResultFound),
		c("RESULT_VERSION", "ResultVersion", abi.ResultVersion),
		c("RESULT_SEQUENCE", "ResultSequence", abi.ResultSequence),
		c("RESULT_VALUE_LEN", "ResultValueLen", abi.ResultValueLen),
		c("RESULT_HEADER", "ResultHeader", abi.ResultHeader),
	}},
	{"batch: a count, then that many results.", []number{
		c("BATCH_COUNT", "BatchCount", abi.BatchCount),
		c("BATCH_HEADER", "BatchHeader", abi.BatchHeader),
	}},
	{"One operation of a batch request; type, id and value follow.", []number{
		c("OP_KIND", "OpKind", abi.OpKind),
		c("OP_TYPE_LEN", "OpTypeLen", abi.OpTypeLen),
		c("OP_ID_LEN", "OpIDLen", abi.OpIDLen),
		c("OP_VALUE_LEN", "OpValueLen", abi.OpValueLen),
		c("OP_EXPECTED", "OpExpected", abi.OpExpected),
		c("OP_HEADER", "OpHeader", abi.OpHeader),
	}},
	{"get_all: more, a count, then that many actors.", []number{
		c("GET_ALL_MORE", "GetAllMore", abi.GetAllMore),
		c("GET_ALL_COUNT", "GetAllCount", abi.GetAllCount),
		c("GET_ALL_HEADER", "GetAllHeader", abi.GetAllHeader),
	}},
	{"One actor of get_all; id and value follow.", []number{
		c("ACTOR_VERSION", "ActorVersion", abi.ActorVersion),
		c("ACTOR_ID_LEN", "ActorIDLen", abi.ActorIDLen),
		c("ACTOR_VALUE_LEN", "ActorValueLen", abi.ActorValueLen),
		c("ACTOR_HEADER", "ActorHeader", abi.ActorHeader),
	}},
	{"changes: the next cursor, a count, then that many events.", []number{
		c("CHANGES_NEXT", "ChangesNext", abi.ChangesNext),
		c("CHANGES_COUNT", "ChangesCount", abi.ChangesCount),
		c("CHANGES_HEADER", "ChangesHeader", abi.ChangesHeader),
	}},
	{"One event of changes; type, id, previous and new value follow.", []number{
		c("EVENT_SEQUENCE", "EventSequence", abi.EventSequence),
		c("EVENT_OP", "EventOp", abi.EventOp),
		c("EVENT_FLAGS", "EventFlags", abi.EventFlags),
		c("EVENT_TIMESTAMP", "EventTimestamp", abi.EventTimestamp),
		c("EVENT_PREV_VERSION", "EventPrevVersion", abi.EventPrevVersion),
		c("EVENT_NEW_VERSION", "EventNewVersion", abi.EventNewVersion),
		c("EVENT_TYPE_LEN", "EventTypeLen", abi.EventTypeLen),
		c("EVENT_ID_LEN", "EventIDLen", abi.EventIDLen),
		c("EVENT_PREV_LEN", "EventPrevLen", abi.EventPrevLen),
		c("EVENT_NEW_LEN", "EventNewLen", abi.EventNewLen),
		c("EVENT_HEADER", "EventHeader", abi.EventHeader),
	}},
	{"Event flags.", []number{
		c("FLAG_PREV", "FlagPrev", abi.FlagPrev),
		c("FLAG_NEW", "FlagNew", abi.FlagNew),
	}},
	{"stats: STATS_FIELDS u64s.", []number{
		c("STATS_TOTAL_EVENTS", "StatsTotalEvents", abi.StatsTotalEvents),
		c("STATS_CURRENT_SEQUENCE", "StatsCurrentSequence", abi.StatsCurrentSequence),
		c("STATS_OLDEST_SEQUENCE", "StatsOldestSequence", abi.StatsOldestSequence),
		c("STATS_REPLAY_EVENTS", "StatsReplayEvents", abi.StatsReplayEvents),
		c("STATS_REPLAY_BYTES", "StatsReplayBytes", abi.StatsReplayBytes),
		c("STATS_EVENTS_DROPPED", "StatsEventsDropped", abi.StatsEventsDropped),
		c("STATS_ACTORS", "StatsActors", abi.StatsActors),
		c("STATS_DATA_BYTES", "StatsDataBytes", abi.StatsDataBytes),
		c("STATS_IDEMPOTENCY_KEYS", "StatsIdempotencyKeys", abi.StatsIdempotencyKeys),
		c("STATS_IDEMPOTENCY_BYTES", "StatsIdempotencyBytes", abi.StatsIdempotencyBytes),
		c("STATS_FIELDS", "StatsFields", abi.StatsFields),
		c("STATS_SIZE", "StatsSize", abi.StatsSize),
	}},
	{"replay.", []number{
		c("REPLAY_FIRST", "ReplayFirst", abi.ReplayFirst),
		c("REPLAY_LAST", "ReplayLast", abi.ReplayLast),
		c("REPLAY_SIZE", "ReplaySize", abi.ReplaySize),
	}},
	{"snapshot_begin, and the most one snapshot_next returns beyond one large frame.", []number{
		c("SNAPSHOT_SEQUENCE", "SnapshotSequence", abi.SnapshotSequence),
		c("SNAPSHOT_ACTORS", "SnapshotActors", abi.SnapshotActors),
		c("SNAPSHOT_EVENTS", "SnapshotEvents", abi.SnapshotEvents),
		c("SNAPSHOT_SIZE", "SnapshotSize", abi.SnapshotSize),
		cc("MAX_SNAPSHOT_CHUNK", "MaxSnapshotChunk", core.MaxSnapshotChunk),
	}},
	{"keyed_write: repeated (1: a remembered answer, nothing applied), then a\n" +
		"batch body: a count, then that many results.", []number{
		c("KEYED_REPEATED", "KeyedRepeated", abi.KeyedRepeated),
		c("KEYED_COUNT", "KeyedCount", abi.KeyedCount),
		c("KEYED_HEADER", "KeyedHeader", abi.KeyedHeader),
	}},
	{"restore_end.", []number{
		c("RESTORE_SEQUENCE", "RestoreSequence", abi.RestoreSequence),
		c("RESTORE_ACTORS", "RestoreActors", abi.RestoreActors),
		c("RESTORE_SIZE", "RestoreSize", abi.RestoreSize),
	}},
}

// kinds are the batch operation names of the JS API with their kinds.
var kinds = []struct {
	name string
	kind core.Kind
}{
	{"insert", core.KindInsert}, {"update", core.KindUpdate},
	{"updateVersioned", core.KindUpdateVersioned}, {"delete", core.KindDelete},
}

// generate returns the contents of js/lib/abi.js.
func generate() []byte {
	var b bytes.Buffer
	b.WriteString("// generated by go generate ./internal/abi; do not edit.\n")
	b.WriteString("//\n// The constants of the module's ABI (wasm/ABI.md), from the Go constants\n")
	b.WriteString("// of internal/abi and core.\n")

	b.WriteString("\n// Error code names, indexed by code.\nexport const CODES = Object.freeze([")
	for code := core.OK; code <= core.Internal; code++ {
		if code != core.OK {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(code.String()))
	}
	b.WriteString("]);\n")

	b.WriteString("\n// Batch operation kinds, by the op names of batch().\nexport const KIND = Object.freeze({ ")
	for i, k := range kinds {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %d", k.name, k.kind)
	}
	b.WriteString(" });\n")

	b.WriteString("\n// Event operation names, indexed by an event's operation byte.\nexport const OPERATIONS = Object.freeze([undefined")
	for op := core.EventInsert; op <= core.EventDelete; op++ {
		b.WriteString(", " + strconv.Quote(op.String()))
	}
	b.WriteString("]);\n")

	for _, g := range groups {
		b.WriteString("\n")
		for _, line := range bytes.Split([]byte(g.doc), []byte("\n")) {
			fmt.Fprintf(&b, "// %s\n", line)
		}
		for _, k := range g.consts {
			fmt.Fprintf(&b, "export const %s = %d;\n", k.js, k.value)
		}
	}
	return b.Bytes()
}

func main() {
	out := flag.String("o", "", "write to this file (default: standard output)")
	flag.Parse()
	src := generate()
	if *out == "" {
		os.Stdout.Write(src)
		return
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
