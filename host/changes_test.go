package host

import (
	"testing"

	"github.com/actorstore/actorstore/core"
)

// TestOperationValues: the exported operations are the module's event
// operations, which events are converted from as they are.
func TestOperationValues(t *testing.T) {
	for op, want := range map[Operation]core.EventOp{OpInsert: core.EventInsert, OpUpdate: core.EventUpdate, OpDelete: core.EventDelete} {
		if core.EventOp(op) != want || op.String() != want.String() {
			t.Errorf("%v = %d, the module's %v = %d", op, op, want, want)
		}
	}
}
