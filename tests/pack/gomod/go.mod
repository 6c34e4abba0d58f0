// A program outside Actor Store's module that uses it as a Go user does.
// tests/pack/pack.test.mjs copies this directory to a temporary one, points
// the replace directive at the checkout, runs go mod tidy and go run.
module example.com/actorstore-user

go 1.26.8

require github.com/actorstore/actorstore v0.0.0

replace github.com/actorstore/actorstore => ../../..
