package tests

import (
	"testing"

	"github.com/actorstore/actorstore/host"
)

// TestModelCluster runs the model test on a 3-node Raft cluster beside an
// embedded store, each operation through the next node in turn (writes
// through followers are forwarded to the leader, reads are
// linearizable): every result, error (code, fields, batch index,
// message), event and statistic must match the model and the embedded
// store. Timestamps match too: the leader stamps each command with the
// test's clock, which every node is given. Fewer operations than
// TestModel, as each write is a Raft round with fsyncs, still enough to
// reach every outcome of mustSee.
func TestModelCluster(t *testing.T) {
	runModel(t, append([]target{{engine: host.EngineNative}}, clusterTargets...), 5_000)
}
