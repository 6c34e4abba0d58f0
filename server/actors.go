package server

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/actorstore/actorstore/host"
)

// List page sizes.
const (
	DefaultListLimit = 1000
	MaxListLimit     = 10000
)

// etag is an actor version as an entity tag.
func etag(version uint64) string { return `"` + strconv.FormatUint(version, 10) + `"` }

// parseETag reads one strong entity tag holding a version.
func parseETag(h, header string) (uint64, error) {
	s := strings.TrimSpace(h)
	if len(s) < 3 || s[0] != '"' || s[len(s)-1] != '"' {
		return 0, errorf(http.StatusBadRequest, codeInvalidArgument, `%s must be one version in quotes, as "3"; got %q`, header, h)
	}
	v, err := strconv.ParseUint(s[1:len(s)-1], 10, 64)
	if err != nil {
		return 0, errorf(http.StatusBadRequest, codeInvalidArgument, `%s must be one version in quotes, as "3"; got %q`, header, h)
	}
	return v, nil
}

func (r *request) sendActor(status int, a *host.Actor) error {
	r.w.Header().Set("ETag", etag(a.Version))
	return r.respond(status, r.enc().actor(a))
}

func (s *Server) getActor(r *request) error {
	if err := noQuery(r, "consistency"); err != nil {
		return err
	}
	ctx, err := readContext(r)
	if err != nil {
		return err
	}
	a, ok, err := s.store.Get(ctx, r.params[0], r.params[1])
	if err != nil {
		return err
	}
	if !ok {
		return errorf(http.StatusNotFound, codeNotFound, "actor %s/%s does not exist", r.params[0], r.params[1])
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		if v, err := parseETag(inm, "If-None-Match"); err == nil && v == a.Version {
			r.w.Header().Set("ETag", etag(a.Version))
			r.w.WriteHeader(http.StatusNotModified)
			return nil
		}
	}
	return r.sendActor(http.StatusOK, &a)
}

func (s *Server) insertActor(r *request) error {
	ctx, err := writeContext(r)
	if err != nil {
		return err
	}
	if r.Header.Get("If-Match") != "" {
		return errorf(http.StatusBadRequest, codeInvalidArgument, "If-Match is for PUT (compare-and-swap); an insert needs none")
	}
	v, err := s.readValue(r)
	if err != nil {
		return err
	}
	a, err := s.store.Insert(ctx, r.params[0], r.params[1], v)
	if err != nil {
		return err
	}
	r.w.Header().Set("Location", "/v1/actors/"+url.PathEscape(a.Type)+"/"+url.PathEscape(a.ID))
	return r.sendActor(http.StatusCreated, &a)
}

func (s *Server) updateActor(r *request) error {
	ctx, err := writeContext(r)
	if err != nil {
		return err
	}
	cas := false
	var expected uint64
	if im := r.Header.Get("If-Match"); im != "" && im != "*" {
		if expected, err = parseETag(im, "If-Match"); err != nil {
			return err
		}
		cas = true
	}
	v, err := s.readValue(r)
	if err != nil {
		return err
	}
	var a host.Actor
	if cas {
		a, err = s.store.UpdateVersioned(ctx, r.params[0], r.params[1], v, expected)
	} else {
		a, err = s.store.Update(ctx, r.params[0], r.params[1], v)
	}
	if err != nil {
		return err
	}
	return r.sendActor(http.StatusOK, &a)
}

func (s *Server) deleteActor(r *request) error {
	ctx, err := writeContext(r)
	if err != nil {
		return err
	}
	if r.Header.Get("If-Match") != "" {
		return errorf(http.StatusBadRequest, codeInvalidArgument, "If-Match is not supported on DELETE: deletes are not conditional")
	}
	a, ok, err := s.store.Delete(ctx, r.params[0], r.params[1])
	if err != nil {
		return err
	}
	if !ok {
		return errorf(http.StatusNotFound, codeNotFound, "actor %s/%s does not exist", r.params[0], r.params[1])
	}
	return r.sendActor(http.StatusOK, &a)
}

// Lister is a store that reads a page of a type's actors at the cost of
// the page — host.Store and client.Client have it; the list route uses it
// when the store offers it, and cuts pages from GetAll otherwise. List
// returns up to limit actors with ids after after, ordered by id, and the
// last id of the page when more follow, else "".
type Lister interface {
	List(ctx context.Context, typ, after string, limit int) (actors []host.Actor, next string, err error)
}

// listActors answers a page of a type's actors, ordered by id, after the
// id given.
func (s *Server) listActors(r *request) error {
	q, err := query(r, "after", "limit", "consistency")
	if err != nil {
		return err
	}
	limit, err := intParam(q, "limit", DefaultListLimit, 1, MaxListLimit)
	if err != nil {
		return err
	}
	ctx, err := readContext(r)
	if err != nil {
		return err
	}
	var after string
	if a, ok := q["after"]; ok {
		after = a[0]
	}
	var page []host.Actor
	var next string
	if l, ok := s.store.(Lister); ok {
		page, next, err = l.List(ctx, r.params[0], after, limit)
	} else {
		page, next, err = listFromAll(ctx, s.store, r.params[0], after, limit)
	}
	if err != nil {
		return err
	}
	e := r.enc().object(2).key("actors").array(len(page))
	for i := range page {
		e.actor(&page[i])
	}
	e.end().key("next")
	if next != "" {
		e.str(next)
	} else {
		e.null()
	}
	return r.respond(http.StatusOK, e.end())
}

// listFromAll cuts a page from the store's GetAll of the type, for
// stores without List.
func listFromAll(ctx context.Context, store host.API, typ, after string, limit int) ([]host.Actor, string, error) {
	all, err := store.GetAll(ctx, typ)
	if err != nil {
		return nil, "", err
	}
	page := all[sort.Search(len(all), func(i int) bool { return all[i].ID > after }):]
	if len(page) > limit {
		return page[:limit], page[limit-1].ID, nil
	}
	return page, "", nil
}
