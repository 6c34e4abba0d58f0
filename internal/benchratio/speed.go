package main

import (
	"fmt"
	"strings"
)

// The speed targets: what a user of the wasm engine feels, beside the
// native engine in the same run.
const (
	// batchTarget: an operation in a batch of 100 costs at most this
	// share of a single call, on both engines.
	batchTarget = 0.5
	// longestWriteTarget: the longest single update of a store of 1M
	// actors over 2M random updates, wasm, in ms.
	longestWriteTarget = 10.0
	// memoryTarget: guest memory for 1M actors of 100-byte values, MiB;
	// at other sizes it scales with the actors.
	memoryTarget = 175.0
	// restoreTarget: restoring 1M actors of ~100 bytes, wasm, in seconds;
	// at other sizes it scales with the actors.
	restoreTarget = 1.5
	// openTarget: Open of a wasm store in a new process with a warm
	// compilation cache, in ms.
	openTarget = 40.0
)

// verdict returns "ok" when ok, else how far the figure missed its target
// (both given in the same unit, smaller being better).
func verdict(figure, target float64) (string, int) {
	if figure <= target {
		return "ok", 0
	}
	return fmt.Sprintf("MISSED by %.0f%%", (figure/target-1)*100), 1
}

// speed prints the speed table from the medians by benchmark and engine,
// and returns how many targets were missed.
func speed(runs map[string]map[string]result) int {
	missed, header := 0, false
	row := func(what, figure string, target string, v string) {
		if !header {
			header = true
			fmt.Printf("\nspeed: both engines in one run\n%-52s %-34s %s\n", "what", "native | wasm", "target")
		}
		fmt.Println(strings.TrimRight(fmt.Sprintf("%-52s %-34s %-12s %s", what, figure, target, v), " "))
	}
	single, batch := runs["Update"], runs["Batch100"]
	if single != nil && batch != nil && single["native"] != nil && single["wasm"] != nil &&
		batch["native"] != nil && batch["wasm"] != nil {
		unit := "ns/op"
		if single["native"]["cpu-ns/op"] > 0 && batch["native"]["cpu-ns/op"] > 0 {
			unit = "cpu-ns/op"
		}
		n := batch["native"][unit] / single["native"][unit]
		w := batch["wasm"][unit] / single["wasm"][unit]
		v, m := verdict(max(n, w), batchTarget)
		missed += m
		row("batch of 100 / single call, per update", fmt.Sprintf("%.2fx | %.2fx", n, w), fmt.Sprintf("<= %.1fx", batchTarget), v)
	}
	if lw := runs["LongestWrite"]; lw != nil && lw["native"] != nil && lw["wasm"] != nil {
		n, w := lw["native"], lw["wasm"]
		what := fmt.Sprintf("%.0fk actors, %.0fk random updates:", w["actors"]/1e3, 2*w["actors"]/1e3)
		row(what, "", "", "")
		// The verdict goes by the writing thread's CPU time when there is
		// one (the call's own work, the guest's collections included): a
		// busy machine adds scheduling delays to wall time.
		longest := w["max-ms"]
		if w["cpu-max-ms"] > 0 {
			longest = w["cpu-max-ms"]
			row("  longest write, CPU (ms)", fmt.Sprintf("%.2f | %.2f", n["cpu-max-ms"], w["cpu-max-ms"]), fmt.Sprintf("<= %.0f wasm", longestWriteTarget), "")
		}
		v, m := verdict(longest, longestWriteTarget)
		missed += m
		row("  longest write, wall (ms)", fmt.Sprintf("%.2f | %.2f", n["max-ms"], w["max-ms"]), "", "")
		row("  => longest write", "", "", v)
		row("  p99.9 write, wall | CPU (ms)", fmt.Sprintf("%.3f | %.3f, %.3f | %.3f", n["p999-ms"], w["p999-ms"], n["cpu-p999-ms"], w["cpu-p999-ms"]), "", "")
		row("  mean write (µs)", fmt.Sprintf("%.2f | %.2f (%.2fx)", n["us/update"], w["us/update"], w["us/update"]/n["us/update"]), "", "")
	}
	if mem := runs["Memory"]; mem != nil && mem["native"] != nil && mem["wasm"] != nil {
		n, w := mem["native"], mem["wasm"]
		t := memoryTarget * w["actors"] / 1e6
		v, m := verdict(w["guest-MiB"], t)
		missed += m
		row(fmt.Sprintf("memory, %.0fk actors of 100 B (%.0f MiB payload):", w["actors"]/1e3, w["payload-MiB"]), "", "", "")
		row("  native heap | wasm guest memory (MiB)", fmt.Sprintf("%.1f | %.1f", n["heap-MiB"], w["guest-MiB"]), fmt.Sprintf("<= %.0f wasm", t), v)
		row("  per actor (bytes)", fmt.Sprintf("%.0f | %.0f", n["B/actor"], w["B/actor"]), "", "")
		row("  native heap objects per actor", fmt.Sprintf("%.3f", n["objects/actor"]), "", "")
	}
	if rs := runs["Restore"]; rs != nil && rs["native"] != nil && rs["wasm"] != nil {
		n, w := rs["native"], rs["wasm"]
		t := restoreTarget * 1e3 * w["actors"] / 1e6
		// CPU time when there is one, as for the longest write.
		wasm := w["restore-ms"]
		if w["restore-cpu-ms"] > 0 {
			wasm = w["restore-cpu-ms"]
			row(fmt.Sprintf("restore %.0fk actors of ~100 B, CPU (ms)", w["actors"]/1e3),
				fmt.Sprintf("%.0f | %.0f", n["restore-cpu-ms"], w["restore-cpu-ms"]), fmt.Sprintf("<= %.0f wasm", t), "")
		}
		v, m := verdict(wasm, t)
		missed += m
		row(fmt.Sprintf("restore %.0fk actors of ~100 B, wall (ms)", w["actors"]/1e3),
			fmt.Sprintf("%.0f | %.0f (%.2fx)", n["restore-ms"], w["restore-ms"], w["restore-ms"]/n["restore-ms"]), "", v)
	}
	if o := runs["Open"]; o != nil {
		if np := o["wasm-newprocess"]; np != nil {
			// The lesser of wall and CPU time: Open runs on several threads
			// (CPU above wall), and on a busy machine waits for a core (wall
			// above CPU).
			open := np["open-ms"]
			if np["open-cpu-ms"] > 0 {
				row("Open, new process, warm CacheDir, CPU (ms)", fmt.Sprintf("- | %.1f", np["open-cpu-ms"]), fmt.Sprintf("<= %.0f", openTarget), "")
				open = min(open, np["open-cpu-ms"])
			}
			v, m := verdict(open, openTarget)
			missed += m
			row("Open, new process, warm CacheDir, wall (ms)", fmt.Sprintf("- | %.1f", np["open-ms"]), "", v)
		}
		for _, k := range []string{"native", "wasm-process", "wasm-cachedir", "wasm-cold"} {
			if r := o[k]; r != nil {
				row("Open, "+k+" (ms)", fmt.Sprintf("%.2f", r["ns/op"]/1e6), "", "")
			}
		}
	}
	return missed
}
