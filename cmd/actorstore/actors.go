package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/fxamacker/cbor/v2"
	"github.com/spf13/cobra"

	"github.com/actorstore/actorstore/client"
	"github.com/actorstore/actorstore/host"
	"github.com/actorstore/actorstore/internal/cborjson"
)

func newGet(e *env) *cobra.Command {
	return keyCommand(e, "get TYPE ID", "Print an actor",
		"Print an actor as JSON: {\"type\",\"id\",\"version\",\"value\"}. An absent actor is an error (NOT_FOUND).",
		(*client.Client).Get)
}

// keyCommand is a command on one actor, TYPE ID, that prints it: op's
// actor, or NOT_FOUND when op finds none.
func keyCommand(e *env, use, short, long string,
	op func(c *client.Client, ctx context.Context, typ, id string) (host.Actor, bool, error)) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := e.connect()
			if err != nil {
				return err
			}
			a, ok, err := op(c, cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			if !ok {
				return &notFound{args[0], args[1]}
			}
			return e.printActor(&a)
		},
	}
}

func (e *env) printActor(a *host.Actor) error {
	j, err := actorJSON(a)
	if err != nil {
		return err
	}
	return printJSON(e.stdout, j)
}

func newInsert(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "insert TYPE ID [VALUE|-]",
		Short: "Create an actor",
		Long: `Create an actor at version 0 and print it. VALUE is JSON; without it (or
with -) the value is read from stdin. ALREADY_EXISTS when the actor exists.`,
		Example: `  actorstore insert user u1 '{"name": "Ann"}'
  echo '[1, 2, 3]' | actorstore insert list l1`,
		Args: rangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := e.inputValue(args, 2)
			if err != nil {
				return err
			}
			c, err := e.connect()
			if err != nil {
				return err
			}
			a, err := c.Insert(cmd.Context(), args[0], args[1], v)
			if err != nil {
				return err
			}
			return e.printActor(&a)
		},
	}
}

func newUpdate(e *env) *cobra.Command {
	var ifVersion int64
	cmd := &cobra.Command{
		Use:   "update TYPE ID [VALUE|-]",
		Short: "Replace an actor's value",
		Long: `Replace an actor's value and print it, its version one higher. VALUE is JSON;
without it (or with -) the value is read from stdin. NOT_FOUND when the actor
does not exist. With --if-version N the update is a compare-and-swap: it
fails with VERSION_MISMATCH unless the actor is at version N.`,
		Example: `  actorstore update user u1 '{"name": "Ann B."}' --if-version 0`,
		Args:    rangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			cas := cmd.Flags().Changed("if-version")
			if cas && ifVersion < 0 {
				return usagef("--if-version must be a version (0 or more)")
			}
			v, err := e.inputValue(args, 2)
			if err != nil {
				return err
			}
			c, err := e.connect()
			if err != nil {
				return err
			}
			var a host.Actor
			if cas {
				a, err = c.UpdateVersioned(cmd.Context(), args[0], args[1], v, uint64(ifVersion))
			} else {
				a, err = c.Update(cmd.Context(), args[0], args[1], v)
			}
			if err != nil {
				return err
			}
			return e.printActor(&a)
		},
	}
	cmd.Flags().Int64Var(&ifVersion, "if-version", 0, "update only if the actor is at this version (compare-and-swap)")
	return cmd
}

func newDelete(e *env) *cobra.Command {
	return keyCommand(e, "delete TYPE ID", "Delete an actor",
		"Delete an actor and print it as it was. An absent actor is an error (NOT_FOUND).",
		(*client.Client).Delete)
}

func newList(e *env) *cobra.Command {
	var after string
	var limit int
	cmd := &cobra.Command{
		Use:   "list TYPE",
		Short: "List the actors of a type",
		Long: `Print the actors of a type, ordered by id, as a JSON array with one actor a
line: all of them, or with --after only those after that id, and with --limit
at most that many.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return usagef("--limit must be 0 (no limit) or more")
			}
			c, err := e.connect()
			if err != nil {
				return err
			}
			out := []*jsonActor{}
			for {
				page := 1000
				if limit > 0 {
					page = min(page, limit-len(out))
				}
				as, next, err := c.List(cmd.Context(), args[0], after, page)
				if err != nil {
					return err
				}
				for i := range as {
					j, err := actorJSON(&as[i])
					if err != nil {
						return err
					}
					out = append(out, j)
				}
				if next == "" || len(as) == 0 || (limit > 0 && len(out) >= limit) {
					break
				}
				after = next
			}
			return printLines(e.stdout, out)
		},
	}
	cmd.Flags().StringVar(&after, "after", "", "list only the actors with ids after this one")
	cmd.Flags().IntVar(&limit, "limit", 0, "list at most this many actors (0: all)")
	return cmd
}

// batchInput is a batch on stdin: {"ops": [...]} or the array alone.
type batchInput struct {
	Ops []batchOpInput `json:"ops"`
}

type batchOpInput struct {
	Op              string          `json:"op"`
	Type            string          `json:"type"`
	ID              string          `json:"id"`
	Value           json.RawMessage `json:"value"`
	ExpectedVersion *uint64         `json:"expectedVersion"`
}

func newBatch(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "batch [JSON|-]",
		Short: "Apply operations atomically",
		Long: `Apply a batch of operations atomically, in order: all of them or none. The
batch is JSON, as an argument or on stdin: {"ops": [...]} or the array alone,
each operation {"op": "insert|update|updateVersioned|delete", "type", "id",
"value", "expectedVersion"}. Prints {"results": [{"actor", "found"}, ...]}; a
failing operation is an error naming its index.`,
		Example: `  actorstore batch '[{"op": "insert", "type": "user", "id": "u2", "value": {"name": "Bo"}},
                    {"op": "delete", "type": "user", "id": "u1"}]'`,
		Args: rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ops, err := e.readBatch(args)
			if err != nil {
				return err
			}
			c, err := e.connect()
			if err != nil {
				return err
			}
			rs, err := c.Batch(cmd.Context(), ops...)
			if err != nil {
				return err
			}
			type result struct {
				Actor *jsonActor `json:"actor"`
				Found bool       `json:"found"`
			}
			out := struct {
				Results []result `json:"results"`
			}{Results: make([]result, len(rs))}
			for i := range rs {
				out.Results[i].Found = rs[i].Found
				if rs[i].Found {
					if out.Results[i].Actor, err = actorJSON(&rs[i].Actor); err != nil {
						return err
					}
				}
			}
			return printJSON(e.stdout, out)
		},
	}
}

// readBatch reads and converts a batch.
func (e *env) readBatch(args []string) ([]host.BatchOp, error) {
	var j []byte
	if len(args) > 0 && args[0] != "-" {
		j = []byte(args[0])
	} else {
		var err error
		if j, err = io.ReadAll(e.stdin); err != nil {
			return nil, fmt.Errorf("reading the batch from stdin: %v", err)
		}
	}
	var in batchInput
	j = bytes.TrimSpace(j)
	if len(j) > 0 && j[0] == '[' {
		j = append(append([]byte(`{"ops":`), j...), '}')
	}
	d := json.NewDecoder(bytes.NewReader(j))
	d.DisallowUnknownFields()
	if err := d.Decode(&in); err != nil {
		return nil, usagef("the batch is not {\"ops\": [...]} or an array of operations: %v", err)
	}
	ops := make([]host.BatchOp, len(in.Ops))
	for i, o := range in.Ops {
		var v any
		if o.Op != "delete" {
			if o.Value == nil {
				return nil, usagef("batch operation %d (%s): no value", i, o.Op)
			}
			b, err := cborjson.FromJSON(o.Value)
			if err != nil {
				return nil, fmt.Errorf("INVALID_VALUE: batch operation %d: the value is not JSON: %v", i, err)
			}
			v = cbor.RawMessage(b)
		}
		switch o.Op {
		case "insert":
			ops[i] = host.InsertOp(o.Type, o.ID, v)
		case "update":
			ops[i] = host.UpdateOp(o.Type, o.ID, v)
		case "updateVersioned":
			if o.ExpectedVersion == nil {
				return nil, usagef("batch operation %d (updateVersioned): no expectedVersion", i)
			}
			ops[i] = host.UpdateVersionedOp(o.Type, o.ID, v, *o.ExpectedVersion)
		case "delete":
			ops[i] = host.DeleteOp(o.Type, o.ID)
		default:
			return nil, usagef("batch operation %d: op %q is not insert, update, updateVersioned or delete", i, o.Op)
		}
	}
	return ops, nil
}
