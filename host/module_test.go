package host

import (
	"bytes"
	"context"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
)

// TestModuleInterface keeps wasm/imports.txt and wasm/exports.txt, which
// ABI.md points JS hosts to, true to the committed module.
func TestModuleInterface(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	cm, err := rt.CompileModule(ctx, moduleBytes)
	if err != nil {
		t.Fatal(err)
	}
	var imports, exports []string
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		imports = append(imports, mod+"."+name)
	}
	for name := range cm.ExportedFunctions() {
		exports = append(exports, name)
	}
	for file, got := range map[string][]string{"../wasm/imports.txt": imports, "../wasm/exports.txt": exports} {
		sort.Strings(got)
		got = dedup(got)
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if g := strings.Join(got, "\n") + "\n"; g != string(want) {
			t.Errorf("%s is stale; the module has:\n%s", file, g)
		}
	}
}

func dedup(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// TestModuleBytesIsACopy: what ModuleBytes returns is the caller's to
// change; the module Open runs stays whole.
func TestModuleBytesIsACopy(t *testing.T) {
	b := ModuleBytes()
	if !bytes.Equal(b, moduleBytes) {
		t.Fatal("ModuleBytes differs from the embedded module")
	}
	clear(b)
	if c := ModuleBytes(); !bytes.Equal(c, moduleBytes) || bytes.Equal(c, b) {
		t.Fatal("changing the result of ModuleBytes changed the module")
	}
	s := mustOpen(t, EngineWASM, Options{CacheDir: t.TempDir()}) // compiles anew
	if _, err := s.Insert(context.Background(), "t", "i", 1); err != nil {
		t.Fatal(err)
	}
}
