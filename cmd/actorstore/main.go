// Command actorstore runs an Actor Store server and talks to one.
//
//	actorstore serve [--dir DIR] [--http ADDR] [--engine wasm|native] [--sync always|interval|never] ...
//	actorstore get|insert|update|delete|list|batch|watch|changes|stats|status|snapshot|restore|members ...
//
// The client commands take --server URL (default http://127.0.0.1:7070,
// or ACTORSTORE_SERVER) and --token (or ACTORSTORE_TOKEN); values are
// JSON, on the command line or stdin, and so is everything printed.
// Exit status: 0 on success, 1 on an error (its code and message on
// stderr), 2 on a usage error.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/actorstore/actorstore/client"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run runs the command line args and returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	defer e.closeClient()
	root := newRoot(e)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") ||
		strings.HasPrefix(err.Error(), "unknown flag") || strings.HasPrefix(err.Error(), "unknown shorthand flag") {
		fmt.Fprintf(stderr, "actorstore: %v\nRun '%s --help' for usage.\n", err, cmd.CommandPath())
		return 2
	}
	fmt.Fprintf(stderr, "actorstore: %s\n", describe(err))
	return 1
}

// describe words an error for stderr: its code, when it has one, and its
// message.
func describe(err error) string {
	msg := strings.TrimPrefix(err.Error(), "actorstore: ")
	if code := client.CodeOf(err); code != "" && !strings.HasPrefix(msg, code) {
		return code + ": " + msg
	}
	return msg
}

// usageError is a command line the command cannot run: exit status 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }

func usagef(format string, args ...any) error { return &usageError{fmt.Errorf(format, args...)} }

// env is what commands read and write.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	server, token  string
	client         *client.Client // made by connect, closed by run
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "actorstore",
		Short: "Actor Store: serve a store over HTTP, and read and write one",
		Long: `Actor Store keeps typed actors (type, id) -> value + version and publishes
every change on a sequenced feed.

"actorstore serve" runs a server on a durable store. The other commands talk
to a server (--server, or ACTORSTORE_SERVER; --token, or ACTORSTORE_TOKEN):
values are JSON, given as an argument or on stdin, and output is JSON.

Exit status: 0 on success, 1 on an error (code and message on stderr), 2 on
a usage error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	root.AddCommand(newServe(e))
	for _, c := range []*cobra.Command{newGet(e), newInsert(e), newUpdate(e), newDelete(e), newList(e),
		newBatch(e), newWatch(e), newChanges(e), newStats(e), newStatus(e), newSnapshot(e), newRestore(e),
		newMembers(e)} {
		clientFlags(c.Flags(), e)
		root.AddCommand(c)
	}
	return root
}

// clientFlags adds --server and --token to a client command.
func clientFlags(f *pflag.FlagSet, e *env) {
	f.StringVar(&e.server, "server", "", "the server's URL (default $ACTORSTORE_SERVER, else http://127.0.0.1:7070)")
	f.StringVar(&e.token, "token", "", "the bearer token (default $ACTORSTORE_TOKEN)")
}

// connect returns a client of the server the flags or the environment
// name; run closes it once the command is done.
func (e *env) connect() (*client.Client, error) {
	if e.client != nil {
		return e.client, nil
	}
	u := e.server
	if u == "" {
		u = os.Getenv("ACTORSTORE_SERVER")
	}
	if u == "" {
		u = "http://127.0.0.1:7070"
	}
	if !strings.Contains(u, "://") {
		u = "http://" + u
	}
	tok := e.token
	if tok == "" {
		tok = os.Getenv("ACTORSTORE_TOKEN")
	}
	// Retries and reconnections are worth a line on stderr.
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	c, err := client.New(u, client.Options{Token: tok, Logger: log})
	if err != nil {
		return nil, &usageError{err}
	}
	e.client = c
	return c, nil
}

// closeClient closes the client connect made, if any.
func (e *env) closeClient() {
	if e.client != nil {
		e.client.Close(context.Background())
	}
}

// exactArgs accepts exactly n arguments; more or fewer is a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return rangeArgs(n, n)
}

// rangeArgs accepts from lo to hi arguments.
func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			want := fmt.Sprintf("%d", lo)
			if hi != lo {
				want = fmt.Sprintf("%d to %d", lo, hi)
			}
			return usagef("%s takes %s arguments, got %d", cmd.Name(), want, len(args))
		}
		return nil
	}
}
