// Command benchratio reads `go test -bench` output of ./host on stdin and
// prints, per operation, the WASM/native ratio measured in that one run
// (the median of each side when run with -count), beside the project's
// target.
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// targets are the WASM/native ratios the engine should stay within.
var targets = map[string]float64{
	"Get": 4, "Insert": 5, "Update": 5, "UpdateVersioned": 5, "Delete": 5,
	"Batch100": 2, "Changes1000": 3, "GetAll10k": 3,
}

// units say what one "op" is where it is not one call.
var units = map[string]string{
	"Batch100": "per update", "Changes1000": "per event", "GetAll10k": "per actor",
}

var line = regexp.MustCompile(`^Benchmark(\w+)(?:/([\w-]+?))?(?:-\d+)?\s+\d+\s+(.*)$`)

// result is one benchmark line: ns/op and the custom metrics.
type result map[string]float64

// median keeps, per metric, the median over repeated runs (-count).
func median(rs []result) result {
	out := result{}
	for k := range rs[0] {
		var vs []float64
		for _, r := range rs {
			if v, ok := r[k]; ok {
				vs = append(vs, v)
			}
		}
		sort.Float64s(vs)
		out[k] = vs[len(vs)/2]
	}
	return out
}

func parse(rest string) result {
	r := result{}
	f := strings.Fields(rest)
	for i := 0; i+1 < len(f); i += 2 {
		if v, err := strconv.ParseFloat(f[i], 64); err == nil {
			r[f[i+1]] = v
		}
	}
	return r
}

func main() {
	all := map[string]map[string][]result{}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		if all[m[1]] == nil {
			all[m[1]] = map[string][]result{}
		}
		all[m[1]][m[2]] = append(all[m[1]][m[2]], parse(m[3]))
	}
	runs := map[string]map[string]result{}
	for op, byEngine := range all {
		runs[op] = map[string]result{}
		for eng, rs := range byEngine {
			runs[op][eng] = median(rs)
		}
	}
	ops := make([]string, 0, len(runs))
	for op := range runs {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	missed := 0
	fmt.Printf("%-16s %12s %12s %8s %8s  %s\n", "operation", "native ns", "wasm ns", "ratio", "target", "")
	for _, op := range ops {
		n, w := runs[op]["native"], runs[op]["wasm"]
		if n == nil || w == nil {
			continue
		}
		ratio := w["ns/op"] / n["ns/op"]
		verdict := ""
		if t, ok := targets[op]; ok {
			verdict = "ok"
			if ratio > t {
				verdict = fmt.Sprintf("MISSED by %.0f%%", (ratio/t-1)*100)
				missed++
			}
			fmt.Printf("%-16s %12.0f %12.0f %7.2fx %7.0fx  %s %s\n", op, n["ns/op"], w["ns/op"], ratio, t, verdict, units[op])
		}
	}
	if o := runs["Open"]; o != nil {
		fmt.Println()
		for _, k := range []string{"native", "wasm-process", "wasm-cachedir", "wasm-cold"} {
			if r := o[k]; r != nil {
				note := ""
				if k == "wasm-cachedir" {
					note = "target <= 50 ms"
				}
				fmt.Printf("Open %-14s %10.2f ms  %s\n", k, r["ns/op"]/1e6, note)
			}
		}
	}
	for op, byEngine := range runs {
		for eng, r := range byEngine {
			for k, v := range r {
				if strings.HasSuffix(k, "MiB") || strings.HasSuffix(k, "-s") {
					fmt.Printf("%s %s %s: %.1f\n", op, eng, k, v)
				}
			}
		}
	}
	if missed > 0 {
		fmt.Printf("\n%d ratio target(s) missed\n", missed)
	}
}
