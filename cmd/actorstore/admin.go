package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/actorstore/actorstore/internal/atomicfile"
)

func newStats(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "stats",
		Short: "Print the store's statistics",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			st, err := c.Stats(cmd.Context())
			if err != nil {
				return err
			}
			return printJSON(e.stdout, statsJSON(st))
		},
	}
}

func newStatus(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Print the server node's status",
		Long: `Print the status of the node --server names: {"nodeId", "role", "leader",
"term", "commitIndex", "appliedIndex", "sequence", "members"}.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			st, err := c.Status(cmd.Context())
			if err != nil {
				return err
			}
			return printJSON(e.stdout, st)
		},
	}
}

func newMembers(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "members",
		Short: "List the members of the server's cluster",
		Long: `List the members of the cluster the server belongs to, one JSON line each:
{"id", "raft", "http", "voter"}. A server that runs a single store, not a
Raft cluster, has no members to list: that is an error (NOT_A_CLUSTER).`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			st, err := c.Status(cmd.Context())
			if err != nil {
				return err
			}
			raft := false
			for _, m := range st.Members {
				raft = raft || m.Raft != ""
			}
			if !raft {
				return fmt.Errorf("NOT_A_CLUSTER: %s (node %s) is a single node, not a member of a Raft cluster: it has no members to list",
					c.URL(), quoteIfOdd(st.NodeID))
			}
			for _, m := range st.Members {
				if err := printJSON(e.stdout, m); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func newSnapshot(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "snapshot [FILE|-]",
		Short: "Save the store's snapshot to a file",
		Long: `Save the store's portable snapshot (the format of restore, and of every host's
snapshot()) to FILE, or to stdout without one (or with -). The file is
written whole or not at all. Progress shows on a terminal.`,
		Args: rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			toStdout := len(args) == 0 || args[0] == "-"
			if toStdout && isTerminal(e.stdout) {
				return usagef("refusing to write a binary snapshot to a terminal: give a FILE or redirect stdout")
			}
			c, err := e.connect()
			if err != nil {
				return err
			}
			p := newProgress(e.stderr, "snapshot", -1)
			defer p.stop()
			if toStdout {
				err := c.Snapshot(cmd.Context(), p.writer(e.stdout))
				p.done(err, "to stdout")
				return err
			}
			err = atomicfile.Write(args[0], "", func(f *os.File) error {
				return c.Snapshot(cmd.Context(), p.writer(f))
			})
			p.done(err, "to "+args[0])
			return err
		},
	}
}

func newRestore(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "restore [FILE|-]",
		Short: "Replace the store's contents with a snapshot",
		Long: `Replace everything the store holds with a snapshot read from FILE, or from
stdin without one (or with -). Watchers of the store end (RESTORED).
Progress shows on a terminal.`,
		Args: rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r io.Reader = e.stdin
			size := int64(-1)
			name := "stdin"
			if len(args) == 1 && args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
					size = fi.Size()
				}
				r, name = f, args[0]
			}
			c, err := e.connect()
			if err != nil {
				return err
			}
			p := newProgress(e.stderr, "restore", size)
			defer p.stop()
			err = c.Restore(cmd.Context(), p.reader(r))
			p.done(err, "from "+name)
			return err
		},
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress shows the bytes of a long transfer on stderr, when it is a
// terminal, a few times a second.
type progress struct {
	w     io.Writer
	what  string
	total int64 // -1 when unknown
	start time.Time

	mu     sync.Mutex
	n      int64
	ticker *time.Ticker
	quit   chan struct{}
	exited chan struct{}
	once   sync.Once
}

func newProgress(stderr io.Writer, what string, total int64) *progress {
	p := &progress{w: stderr, what: what, total: total, start: time.Now(), quit: make(chan struct{})}
	if !isTerminal(stderr) {
		return p
	}
	p.ticker, p.exited = time.NewTicker(200*time.Millisecond), make(chan struct{})
	go func() {
		defer close(p.exited)
		for {
			select {
			case <-p.ticker.C:
				p.show(false)
			case <-p.quit:
				return
			}
		}
	}()
	return p
}

func (p *progress) add(n int) {
	p.mu.Lock()
	p.n += int64(n)
	p.mu.Unlock()
}

func (p *progress) show(final bool) {
	p.mu.Lock()
	n := p.n
	p.mu.Unlock()
	line := fmt.Sprintf("%s: %s", p.what, mib(n))
	if p.total > 0 {
		line += fmt.Sprintf(" of %s (%d%%)", mib(p.total), n*100/p.total)
	}
	if s := time.Since(p.start).Seconds(); s > 0.5 {
		line += fmt.Sprintf(", %s/s", mib(int64(float64(n)/s)))
	}
	end := ""
	if final {
		end = "\n"
	}
	fmt.Fprintf(p.w, "\r\033[K%s%s", line, end)
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// stop ends the display.
func (p *progress) stop() {
	p.once.Do(func() {
		if p.ticker != nil {
			p.ticker.Stop()
			close(p.quit)
			<-p.exited
		}
	})
}

// done ends the display with a last line on a terminal.
func (p *progress) done(err error, where string) {
	if p.ticker == nil {
		return
	}
	p.stop()
	if err == nil {
		p.show(false)
		fmt.Fprintf(p.w, " %s, done\n", where)
	} else {
		fmt.Fprintln(p.w)
	}
}

type countingWriter struct {
	w io.Writer
	p *progress
}

func (c countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.p.add(n)
	return n, err
}

type countingReader struct {
	r io.Reader
	p *progress
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.add(n)
	return n, err
}

func (p *progress) writer(w io.Writer) io.Writer { return countingWriter{w, p} }
func (p *progress) reader(r io.Reader) io.Reader { return countingReader{r, p} }
