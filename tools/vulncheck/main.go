// Command vulncheck turns the output of govulncheck -format json, read on
// standard input, into a verdict. It prints every known vulnerability the
// code reaches and exits with status 1 when one is in a module the
// project requires. Those of the Go standard library are printed as well,
// with the Go release that fixes them, but fail the run only with
// -stdlib=fail: the standard library is the toolchain's that runs the
// check, which the repository does not pin. Input without govulncheck's
// configuration message (an empty pipe, an error) is a failure, never a
// pass.
//
//	go tool -modfile=tools/go.mod govulncheck -db file://$DB -format json ./... |
//		(cd tools && go run ./vulncheck -db golang.org/x/vulndb@VERSION)
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// message is one object of govulncheck's JSON stream; see
// golang.org/x/vuln/internal/govulncheck.
type message struct {
	Config *struct {
		ScannerVersion string `json:"scanner_version"`
		GoVersion      string `json:"go_version"`
	} `json:"config"`
	SBOM *struct {
		Modules []struct {
			Path string `json:"path"`
		} `json:"modules"`
	} `json:"SBOM"`
	OSV *struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
	} `json:"osv"`
	Finding *finding `json:"finding"`
}

type finding struct {
	OSV          string  `json:"osv"`
	FixedVersion string  `json:"fixed_version"`
	Trace        []frame `json:"trace"`
}

// frame is one step of a finding's trace: the first is the vulnerable
// symbol (or package, or module), the last the project's code reaching it.
type frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
	Position *struct {
		Filename string `json:"filename"`
		Line     int    `json:"line"`
	} `json:"position"`
}

func (f frame) symbol() string {
	name := f.Function
	if f.Receiver != "" {
		name = strings.TrimPrefix(f.Receiver, "*") + "." + name
	}
	return filepath.Base(f.Package) + "." + name
}

// vuln is one vulnerability the code reaches, in one module.
type vuln struct {
	id, module, version, fixed, example string
	depth                               int // frames in the example's trace
}

func main() {
	db := flag.String("db", "", "the vulnerability database's module@version, to print its date")
	stdlib := flag.String("stdlib", "warn", "what vulnerabilities of the Go standard library do: warn or fail")
	maxAge := flag.Int("max-age", 90, "days after which the database's age is pointed out")
	flag.Parse()
	if *stdlib != "warn" && *stdlib != "fail" {
		fatal("-stdlib must be warn or fail")
	}
	status, err := run(os.Stdin, os.Stdout, *db, *stdlib == "fail", *maxAge, time.Now())
	if err != nil {
		fatal(err.Error())
	}
	os.Exit(status)
}

func fatal(msg string) {
	fmt.Fprintln(os.Stderr, "vulncheck:", msg)
	os.Exit(2)
}

// run reads govulncheck's stream from in and reports to out; status 1 says
// the check failed.
func run(in io.Reader, out io.Writer, db string, stdlibFails bool, maxAge int, now time.Time) (status int, err error) {
	var (
		scanner, goVersion string
		main               string // the module checked, its code the traces start in
		summaries          = map[string]string{}
		reached            = map[string]*vuln{} // by id and module
		unreached          = map[string]bool{}
	)
	dec := json.NewDecoder(in)
	for {
		var m message
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("reading govulncheck's output: %v", err)
		}
		switch {
		case m.Config != nil:
			scanner, goVersion = m.Config.ScannerVersion, m.Config.GoVersion
		case m.SBOM != nil && len(m.SBOM.Modules) > 0:
			main = m.SBOM.Modules[0].Path
		case m.OSV != nil:
			summaries[m.OSV.ID] = m.OSV.Summary
		case m.Finding != nil && len(m.Finding.Trace) > 0:
			f := m.Finding
			top := f.Trace[0]
			key := f.OSV + " " + top.Module
			if top.Function == "" { // imported or required, not called
				unreached[key] = true
				continue
			}
			if v := reached[key]; v == nil || len(f.Trace) < v.depth { // the most direct example
				reached[key] = &vuln{id: f.OSV, module: top.Module, version: top.Version, fixed: f.FixedVersion,
					example: example(f.Trace, main), depth: len(f.Trace)}
			}
		}
	}
	if scanner == "" {
		return 0, errors.New("no govulncheck output (its configuration message is missing): nothing was checked")
	}
	fmt.Fprintf(out, "govulncheck %s, %s, database %s\n", scanner, goVersion, dbDate(db, now, maxAge))

	var mods, std []*vuln
	for k, v := range reached {
		delete(unreached, k)
		if v.module == "stdlib" {
			std = append(std, v)
		} else {
			mods = append(mods, v)
		}
	}
	if len(mods) == 0 {
		fmt.Fprintln(out, "modules: no known vulnerability reached by the code")
	} else {
		fmt.Fprintf(out, "FAIL modules: %d known vulnerabilities reached by the code; upgrade the modules:\n", len(mods))
		list(out, mods, summaries, func(v *vuln) string { return v.module + "@" + v.version + ", fixed in " + v.fixed })
		status = 1
	}
	if len(std) == 0 {
		fmt.Fprintf(out, "standard library: no known vulnerability of %s reached by the code\n", goVersion)
	} else {
		verdict := "WARNING (not a failure: the toolchain is the machine's; -stdlib=fail, VULNCHECK_STDLIB=fail in build.sh, makes it one)"
		if stdlibFails {
			verdict, status = "FAIL", 1
		}
		fmt.Fprintf(out, "%s standard library: %d known vulnerabilities of %s reached by the code; %s fixes them:\n",
			verdict, len(std), goVersion, newest(std))
		list(out, std, summaries, func(v *vuln) string { return "fixed in go" + strings.TrimPrefix(v.fixed, "v") })
	}
	if len(unreached) > 0 {
		fmt.Fprintf(out, "(%d more in imported packages or required modules, not called by the code)\n", len(unreached))
	}
	return status, nil
}

// example names the project's call that reaches the vulnerable symbol:
// in a trace, which runs from that symbol to an entry point of the code,
// the first frame in the module checked.
func example(trace []frame, main string) string {
	own := trace[len(trace)-1]
	for _, f := range trace {
		if f.Module == main {
			own = f
			break
		}
	}
	where := own.symbol()
	if own.Position != nil {
		name := own.Position.Filename
		if wd, err := os.Getwd(); err == nil {
			if rel, err := filepath.Rel(wd, name); err == nil && !strings.HasPrefix(rel, "..") {
				name = rel
			}
		}
		where = fmt.Sprintf("%s:%d %s", name, own.Position.Line, where)
	}
	return where + " reaches " + trace[0].symbol()
}

func list(out io.Writer, vs []*vuln, summaries map[string]string, fix func(*vuln) string) {
	sort.Slice(vs, func(i, j int) bool { return vs[i].id < vs[j].id })
	for _, v := range vs {
		fmt.Fprintf(out, "  %s %s (%s)\n      e.g. %s\n", v.id, summaries[v.id], fix(v), v.example)
	}
}

// newest returns the newest fixed version among vs, as a Go release.
func newest(vs []*vuln) string {
	best := ""
	for _, v := range vs {
		if less(best, v.fixed) {
			best = v.fixed
		}
	}
	return "go" + strings.TrimPrefix(best, "v")
}

// less compares two versions vX.Y.Z numerically.
func less(a, b string) bool {
	pa, pb := strings.Split(strings.TrimPrefix(a, "v"), "."), strings.Split(strings.TrimPrefix(b, "v"), ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			fmt.Sscan(pa[i], &x)
		}
		if i < len(pb) {
			fmt.Sscan(pb[i], &y)
		}
		if x != y {
			return x < y
		}
	}
	return false
}

var pseudoTime = regexp.MustCompile(`-(\d{14})-[0-9a-f]{12}$`)

// dbDate describes the database module@version: its pseudo-version holds
// the time of the vulnerability database's commit.
func dbDate(db string, now time.Time, maxAge int) string {
	m := pseudoTime.FindStringSubmatch(db)
	if m == nil {
		return db + " (of unknown date)"
	}
	t, err := time.Parse("20060102150405", m[1])
	if err != nil {
		return db
	}
	days := int(now.Sub(t).Hours() / 24)
	s := fmt.Sprintf("%s (as of %s, %d days old)", db, t.Format("2006-01-02"), days)
	if days > maxAge {
		s += fmt.Sprintf("\nNOTE the database is over %d days old: newer vulnerabilities are not checked (VULNDB_VERSION=latest, or bump the version in build.sh)", maxAge)
	}
	return s
}
