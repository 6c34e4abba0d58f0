package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

const config = `{"config":{"scanner_version":"v1.9.0","go_version":"go1.26.8"}}
{"SBOM":{"modules":[{"path":"example.com/app"},{"path":"example.com/dep","version":"v1.0.0"}]}}
{"osv":{"id":"GO-1","summary":"dep breaks"}}
{"osv":{"id":"GO-2","summary":"net/http breaks"}}
`

// called is a finding whose vulnerable symbol the code calls.
func called(id, module, version, fixed string) string {
	return `{"finding":{"osv":"` + id + `","fixed_version":"` + fixed + `","trace":[
	{"module":"` + module + `","version":"` + version + `","package":"p/q","function":"F","receiver":"*T"},
	{"module":"example.com/app","package":"example.com/app/x","function":"G","position":{"filename":"x/g.go","line":7}}]}}
`
}

// imported is a finding whose package is imported but not called.
const imported = `{"finding":{"osv":"GO-3","trace":[{"module":"example.com/dep","version":"v1.0.0","package":"p/r"}]}}
`

func TestRun(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	db := "golang.org/x/vulndb@v0.0.0-20261105234957-e22db6528018"
	for _, c := range []struct {
		name, in    string
		stdlibFails bool
		status      int
		want        []string
	}{
		{"clean", config + imported, false, 0,
			[]string{"as of 2026-11-05, 25 days old", "modules: no known", "standard library: no known", "(1 more"}},
		{"module", config + called("GO-1", "example.com/dep", "v1.0.0", "v1.0.1"), false, 1,
			[]string{"FAIL modules: 1", "GO-1 dep breaks (example.com/dep@v1.0.0, fixed in v1.0.1)", "x/g.go:7 x.G reaches q.T.F"}},
		{"stdlib warns", config + called("GO-2", "stdlib", "v1.26.8", "v1.26.9") + called("GO-2", "stdlib", "v1.26.8", "v1.26.10"), false, 0,
			[]string{"WARNING", "1 known vulnerabilities of go1.26.8", "go1.26.9 fixes them", "GO-2 net/http breaks (fixed in go1.26.9)"}},
		{"stdlib fails", config + called("GO-2", "stdlib", "v1.26.8", "v1.26.9"), true, 1,
			[]string{"FAIL standard library"}},
	} {
		var out bytes.Buffer
		status, err := run(strings.NewReader(c.in), &out, db, c.stdlibFails, 90, now)
		if err != nil || status != c.status {
			t.Errorf("%s: status %d, %v; want %d\n%s", c.name, status, err, c.status, &out)
		}
		for _, w := range c.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s: output lacks %q:\n%s", c.name, w, &out)
			}
		}
	}
}

// TestRunNeedsOutput: no input, or input that is not govulncheck's, is an
// error, never a pass.
func TestRunNeedsOutput(t *testing.T) {
	for _, in := range []string{"", `{"finding":{}}`, "not json"} {
		if _, err := run(strings.NewReader(in), &bytes.Buffer{}, "", false, 90, time.Now()); err == nil {
			t.Errorf("input %q: no error", in)
		}
	}
}

func TestDBAge(t *testing.T) {
	now := time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)
	if s := dbDate("golang.org/x/vulndb@v0.0.0-20261105234957-e22db6528018", now, 90); !strings.Contains(s, "NOTE the database is over 90 days old") {
		t.Errorf("old database not pointed out: %s", s)
	}
}
