package tests

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/actorstore/actorstore/host"
)

// engines are the host engines every test runs on.
var engines = []host.Engine{host.EngineNative, host.EngineWASM}

// cacheDir is the wazero compilation cache shared by every store the tests
// open, so that the module is compiled once per process and, across runs,
// loaded from disk.
func cacheDir() string {
	if d := os.Getenv("ACTORSTORE_CACHE_DIR"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "actorstore-tests-wazero-cache")
}

// openStore opens a store on engine e with o (Engine and CacheDir are set
// here) and closes it when the test ends.
func openStore(t testing.TB, e host.Engine, o host.Options) *host.Store {
	t.Helper()
	o.Engine, o.CacheDir = e, cacheDir()
	s, err := host.Open(context.Background(), o)
	if err != nil {
		t.Fatalf("open %v store: %v", e, err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}
