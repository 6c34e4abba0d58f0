package server

import (
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

// listActors answers a page of a type's actors, ordered by id, after the
// id given.
//
// The store's API reads a whole type at once (GetAll); pages are cut from
// it here.
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
	all, err := s.store.GetAll(ctx, r.params[0])
	if err != nil {
		return err
	}
	page := all
	if after, ok := q["after"]; ok {
		i := sort.Search(len(all), func(i int) bool { return all[i].ID > after[0] })
		page = all[i:]
	}
	more := len(page) > limit
	if more {
		page = page[:limit]
	}
	e := r.enc().object(2).key("actors").array(len(page))
	for i := range page {
		e.actor(&page[i])
	}
	e.end().key("next")
	if more {
		e.str(page[len(page)-1].ID)
	} else {
		e.null()
	}
	return r.respond(http.StatusOK, e.end())
}
