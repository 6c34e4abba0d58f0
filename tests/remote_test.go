package tests

import "testing"

// TestModelRemote runs the model test through the HTTP server and the
// client, on both engines: every result, error (code, fields, batch
// index and message), event and statistic must match the model, and the
// two targets must return the same Go values. Half the operations of
// TestModel, as each one is a round trip (under -race, a costly one),
// still enough to reach every outcome of mustSee.
func TestModelRemote(t *testing.T) {
	runModel(t, remoteTargets, 10_000)
}
