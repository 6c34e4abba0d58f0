package tests

import (
	"testing"

	"github.com/actorstore/actorstore/host"
)

// TestModelRemote runs the model test through the HTTP server and the
// client, on both engines, beside an embedded store: every result, error
// (code, fields, batch index), event and statistic must match the model,
// and the client must return the very Go values the embedded store does,
// error messages included. Half the operations of
// TestModel, as each one is a round trip (under -race, a costly one),
// still enough to reach every outcome of mustSee.
func TestModelRemote(t *testing.T) {
	runModel(t, append([]target{{host.EngineNative, false}}, remoteTargets...), 10_000)
}
