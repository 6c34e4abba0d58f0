package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	for _, named := range []bool{false, true} {
		dir := t.TempDir()
		path := filepath.Join(dir, "f")
		tmp := ""
		if named {
			tmp = path + ".tmp"
		}
		write := func(content string, fail error) error {
			return Write(path, tmp, func(f *os.File) error {
				if _, err := f.WriteString(content); err != nil {
					return err
				}
				return fail
			})
		}
		if err := write("one", nil); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		if err := write("two, cut short", boom); err != boom {
			t.Fatalf("a failed write returned %v, want its own error", err)
		}
		if b, err := os.ReadFile(path); err != nil || string(b) != "one" {
			t.Fatalf("after a failed write: %q, %v; want the file as it was", b, err)
		}
		if err := write("three", nil); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(path); string(b) != "three" {
			t.Fatalf("got %q, want three", b)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Fatalf("named tmp %v: %d files left in the directory, want only the target", named, len(entries))
		}
	}
	if err := Write(filepath.Join(t.TempDir(), "no", "such", "dir"), "", func(*os.File) error { return nil }); err == nil {
		t.Fatal("a write into a missing directory succeeded")
	}
}
