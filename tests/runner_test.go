package tests

import (
	"strings"
	"testing"
)

// These tests check the conformance runner itself: a wrong expectation
// must fail, and the loader must refuse malformed vectors.

// runnerBase is a small vector whose steps all pass; each mutation below
// breaks one expectation of its last step.
const runnerBase = `{"name": "meta", "rule": "runner", "steps": [
 {"op": "insert", "type": "t", "id": "a", "valueHex": "01"},
 {"op": "update", "type": "t", "id": "a", "value": {"k": [1, "x"]}},
 LAST]}`

// mutations are final steps with one wrong detail each.
var mutations = map[string]string{
	"version":      `{"op": "get", "type": "t", "id": "a", "expect": {"actor": {"type": "t", "id": "a", "value": {"k": [1, "x"]}, "version": 2}}}`,
	"value":        `{"op": "get", "type": "t", "id": "a", "expect": {"actor": {"type": "t", "id": "a", "value": {"k": [1, "y"]}, "version": 1}}}`,
	"valueHex":     `{"op": "get", "type": "t", "id": "a", "expect": {"actor": {"type": "t", "id": "a", "valueHex": "01", "version": 1}}}`,
	"absent":       `{"op": "get", "type": "t", "id": "a", "expect": {"absent": true}}`,
	"present":      `{"op": "get", "type": "t", "id": "b", "expect": {"actor": {"type": "t", "id": "b", "valueHex": "01", "version": 0}}}`,
	"error code":   `{"op": "insert", "type": "t", "id": "a", "valueHex": "01", "expect": {"error": {"code": "NOT_FOUND"}}}`,
	"no error":     `{"op": "insert", "type": "t", "id": "b", "valueHex": "01", "expect": {"error": {"code": "ALREADY_EXISTS"}}}`,
	"mismatch":     `{"op": "updateVersioned", "type": "t", "id": "a", "valueHex": "01", "expected": 0, "expect": {"error": {"code": "VERSION_MISMATCH", "expected": 0, "actual": 2}}}`,
	"batch index":  `{"op": "batch", "ops": [{"op": "insert", "type": "t", "id": "b", "valueHex": "01"}, {"op": "insert", "type": "t", "id": "a", "valueHex": "01"}], "expect": {"error": {"code": "ALREADY_EXISTS", "index": 0}}}`,
	"no events":    `{"op": "insert", "type": "t", "id": "b", "valueHex": "01", "events": []}`,
	"event":        `{"op": "delete", "type": "t", "id": "a", "events": [{"sequence": 3, "operation": "delete", "actorType": "t", "actorId": "a", "previousValue": {"k": [1, "x"]}, "previousVersion": 0, "timestamp": 1700000002000}]}`,
	"timestamp":    `{"op": "delete", "type": "t", "id": "a", "events": [{"sequence": 3, "operation": "delete", "actorType": "t", "actorId": "a", "previousValue": {"k": [1, "x"]}, "previousVersion": 1, "timestamp": 1700000001000}]}`,
	"extra new":    `{"op": "changes", "since": 0, "limit": 1, "expect": {"events": [{"sequence": 1, "operation": "insert", "actorType": "t", "actorId": "a", "newValueHex": "02", "newVersion": 0, "timestamp": 1700000000000}], "next": 1}}`,
	"next":         `{"op": "changes", "since": 1, "limit": 0, "actorType": "x", "expect": {"events": [], "next": 1}}`,
	"actors":       `{"op": "getAll", "type": "t", "expect": {"actors": []}}`,
	"stats":        `{"op": "stats", "expect": {"stats": {"currentSequence": 3}}}`,
	"subscribe":    `{"op": "subscribe", "from": "beginning", "expect": {"events": [{"sequence": 1, "operation": "insert", "actorType": "t", "actorId": "a", "newValueHex": "01", "newVersion": 0, "timestamp": 1700000000000}]}}`,
	"subscribe 0":  `{"op": "subscribe", "from": {"sequence": 2}, "expect": {"events": []}}`,
	"compacted":    `{"op": "subscribe", "from": {"sequence": 1}, "expect": {"error": {"code": "COMPACTED", "requested": 1, "oldest": 1}}}`,
	"setup failed": `{"op": "insert", "type": "t", "id": "a", "valueHex": "01"}`,
}

// TestRunnerDetectsMismatch runs each mutated vector and requires the
// runner to report a difference at the mutated step, after the passing
// base steps.
func TestRunnerDetectsMismatch(t *testing.T) {
	for name, last := range mutations {
		t.Run(name, func(t *testing.T) {
			v := parseVector(t, strings.Replace(runnerBase, "LAST", last, 1))
			for _, e := range targets {
				r := newRunner(t, e, nil)
				for i := range v.Steps {
					err := r.step(i, &v.Steps[i])
					if i < len(v.Steps)-1 && err != nil {
						t.Fatalf("%v: base step %d failed: %v", e, i, err)
					}
					if i == len(v.Steps)-1 && err == nil {
						t.Fatalf("%v: the wrong expectation passed", e)
					}
				}
			}
		})
	}
}

// TestRunnerAcceptsBase checks that the unmutated base passes, so that the
// mutations fail for their mutation only.
func TestRunnerAcceptsBase(t *testing.T) {
	const last = `{"op": "get", "type": "t", "id": "a", "expect": {"actor": {"type": "t", "id": "a", "value": {"k": [1, "x"]}, "version": 1}}}`
	v := parseVector(t, strings.Replace(runnerBase, "LAST", last, 1))
	for _, e := range targets {
		r := newRunner(t, e, nil)
		for i := range v.Steps {
			if err := r.step(i, &v.Steps[i]); err != nil {
				t.Fatalf("%v: step %d: %v", e, i, err)
			}
		}
	}
}

func parseVector(t *testing.T, s string) *vector {
	t.Helper()
	f, err := parseVectorFile([]byte(`{"name": "meta", "description": "d", "vectors": [` + s + `]}`))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, s)
	}
	if n := len(f.Vectors[0].Steps); n != 3 {
		t.Fatalf("parsed %d steps, want 3", n)
	}
	return &f.Vectors[0]
}

// badVectors must each be refused by the loader.
var badVectors = map[string]string{
	"unknown op":           `{"op": "insrt", "type": "t", "id": "a", "valueHex": "01"}`,
	"unknown field":        `{"op": "insert", "type": "t", "id": "a", "valueHex": "01", "versoin": 0}`,
	"field of another op":  `{"op": "get", "type": "t", "id": "a", "limit": 3, "expect": {"absent": true}}`,
	"missing id":           `{"op": "insert", "type": "t", "valueHex": "01"}`,
	"two values":           `{"op": "insert", "type": "t", "id": "a", "value": 1, "valueHex": "01"}`,
	"no value":             `{"op": "insert", "type": "t", "id": "a"}`,
	"bad hex":              `{"op": "insert", "type": "t", "id": "a", "valueHex": "0g"}`,
	"read without expect":  `{"op": "get", "type": "t", "id": "a"}`,
	"two kinds":            `{"op": "get", "type": "t", "id": "a", "expect": {"absent": true, "error": {"code": "INVALID_KEY"}}}`,
	"kind of another op":   `{"op": "get", "type": "t", "id": "a", "expect": {"actors": []}}`,
	"absent false":         `{"op": "get", "type": "t", "id": "a", "expect": {"absent": false}}`,
	"unknown code":         `{"op": "get", "type": "t", "id": "a", "expect": {"error": {"code": "NOPE"}}}`,
	"mismatch detail":      `{"op": "updateVersioned", "type": "t", "id": "a", "valueHex": "01", "expected": 0, "expect": {"error": {"code": "VERSION_MISMATCH"}}}`,
	"batch index missing":  `{"op": "batch", "ops": [], "expect": {"error": {"code": "NOT_FOUND"}}}`,
	"index outside batch":  `{"op": "update", "type": "t", "id": "a", "valueHex": "01", "expect": {"error": {"code": "NOT_FOUND", "index": 0}}}`,
	"unknown batch op":     `{"op": "batch", "ops": [{"op": "upsert", "type": "t", "id": "a", "valueHex": "01"}]}`,
	"batch delete value":   `{"op": "batch", "ops": [{"op": "delete", "type": "t", "id": "a", "valueHex": "01"}]}`,
	"changes without next": `{"op": "changes", "since": 0, "expect": {"events": []}}`,
	"actor field typo":     `{"op": "get", "type": "t", "id": "a", "expect": {"actor": {"type": "t", "id": "a", "valueHex": "01", "vesion": 0}}}`,
	"actor without value":  `{"op": "get", "type": "t", "id": "a", "expect": {"actor": {"type": "t", "id": "a", "version": 0}}}`,
	"event typo":           `{"op": "delete", "type": "t", "id": "a", "events": [{"sequence": 1, "operation": "delete", "actorType": "t", "actorID": "a", "timestamp": 1}]}`,
	"insert event prev":    `{"op": "delete", "type": "t", "id": "a", "events": [{"sequence": 1, "operation": "insert", "actorType": "t", "actorId": "a", "previousValueHex": "01", "previousVersion": 0, "newValueHex": "01", "newVersion": 0, "timestamp": 1}]}`,
	"empty stats":          `{"op": "stats", "expect": {"stats": {}}}`,
	"stats typo":           `{"op": "stats", "expect": {"stats": {"actor": 1}}}`,
	"bad from":             `{"op": "subscribe", "from": "start", "expect": {"events": []}}`,
	"bad string form":      `{"op": "get", "type": {"repeat": "a"}, "id": "a", "expect": {"absent": true}}`,
	"hex string not go":    `{"op": "get", "type": {"hex": "ff"}, "id": "a", "expect": {"absent": true}}`,
}

// TestLoaderIsStrict checks that the loader refuses typos and misplaced
// fields instead of ignoring them.
func TestLoaderIsStrict(t *testing.T) {
	for name, s := range badVectors {
		vec := `{"name": "bad", "rule": "loader", "steps": [` + s + `]}`
		if _, err := parseVectorFile([]byte(`{"name": "bad", "description": "d", "vectors": [` + vec + `]}`)); err == nil {
			t.Errorf("%s: loader accepted %s", name, s)
		}
	}
	for name, f := range map[string]string{
		"unknown file field": `{"name": "f", "description": "d", "vectors": [], "extra": 1}`,
		"no vectors":         `{"name": "f", "description": "d", "vectors": []}`,
		"unknown host":       `{"name": "f", "description": "d", "vectors": [{"name": "v", "rule": "r", "hosts": ["deno"], "steps": [{"op": "stats", "expect": {"stats": {"actors": 0}}}]}]}`,
		"unknown option":     `{"name": "f", "description": "d", "vectors": [{"name": "v", "rule": "r", "options": {"replayBufferCount": 1}, "steps": [{"op": "stats", "expect": {"stats": {"actors": 0}}}]}]}`,
		"duplicate vector":   `{"name": "f", "description": "d", "vectors": [{"name": "v", "rule": "r", "steps": [{"op": "stats", "expect": {"stats": {"actors": 0}}}]}, {"name": "v", "rule": "r", "steps": [{"op": "stats", "expect": {"stats": {"actors": 0}}}]}]}`,
		"no rule":            `{"name": "f", "description": "d", "vectors": [{"name": "v", "steps": [{"op": "stats", "expect": {"stats": {"actors": 0}}}]}]}`,
	} {
		if _, err := parseVectorFile([]byte(f)); err == nil {
			t.Errorf("%s: loader accepted %s", name, f)
		}
	}
}
