package host

import (
	"context"

	"github.com/actorstore/actorstore/core"
)

// DefaultListLimit is the page size List uses when limit is 0.
const DefaultListLimit = 1000

// ListPageBytes bounds a page of List: it stops before an actor once the
// page accounts this many bytes or more — 6, and each actor's id and
// value and 16 bytes besides, as the engines account their pages — and
// never before its first actor.
const ListPageBytes = 4 << 20

// listFirstGuess is what List expects an actor to account before it has
// seen any of the type: about the least one can (an id and a value of a
// few bytes), so that a first engine round trip rarely returns more
// actors than the page takes.
const listFirstGuess = 32

// List returns a page of the actors of type typ with ids after after (all
// from the first when after is ""), ordered by id: up to limit of them (0
// means DefaultListLimit), fewer when they are large (ListPageBytes). next
// is the last id of the page when more actors follow — pass it as after
// for the next page — and "" after the last one.
//
// A page costs what its actors do, not what the type holds: the engine
// is read from after's place in the type, a round trip at a time, sized
// by the actors seen so far. Each page is one consistent view, as GetAll
// is; a type paged while writes land shows each page as it was when read.
//
// # Errors
//
// ErrInvalidArgument for a negative limit; ErrInvalidKey for an invalid
// type.
func (s *Store) List(ctx context.Context, typ, after string, limit int) (actors []Actor, next string, err error) {
	if limit < 0 {
		return nil, "", errorf(ErrInvalidArgument, "invalid argument: negative limit %d", limit)
	}
	if limit == 0 {
		limit = DefaultListLimit
	}
	// No id is longer than MaxIDBytes, and for every id that is not, being
	// after the first MaxIDBytes bytes of after is being after after.
	if len(after) > core.MaxIDBytes {
		after = after[:core.MaxIDBytes]
	}
	if err := s.lock(ctx); err != nil {
		return nil, "", err
	}
	defer s.mu.Unlock()
	actors = make([]Actor, 0, min(limit, 256))
	size := core.PageHeaderBytes // what the page accounts
	seenBytes, seen := 0, 0      // what the actors read from the engine accounted
	for {
		// Ask the engine for about the actors the page still takes.
		per := listFirstGuess
		if seen > 0 {
			per = max(1, (seenBytes+seen-1)/seen)
		}
		maxBytes := min(getAllPage, ListPageBytes-size) // both fit an int32 with the header
		if want := limit - len(actors); want < maxBytes/per {
			maxBytes = want * per
		}
		page, more, cerr := s.eng.scan(typ, after, core.PageHeaderBytes+maxBytes)
		if cerr != nil {
			return nil, "", mapError(cerr)
		}
		for i := range page {
			a := &page[i]
			if len(actors) == limit || size >= ListPageBytes {
				return actors, actors[len(actors)-1].ID, nil
			}
			actors = append(actors, actorOf(a))
			n := len(a.ID) + len(a.Value) + core.PageActorBytes
			size += n
			seenBytes += n
			seen++
		}
		switch {
		case !more || len(page) == 0:
			return actors, "", nil
		case len(actors) == limit || size >= ListPageBytes:
			return actors, actors[len(actors)-1].ID, nil
		}
		after = page[len(page)-1].ID
	}
}
