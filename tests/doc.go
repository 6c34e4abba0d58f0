// Package tests holds Actor Store's cross-engine tests: the conformance
// vectors in vectors/*.json (shared with the JavaScript hosts) and their Go
// runner, a randomized model test and a concurrency hammer test. Every test
// runs against both host engines, EngineNative and EngineWASM; the
// conformance vectors, the model test and the hammer also run through the
// HTTP server (package server) and the Go client (package client) on
// loopback (targets_test.go).
//
// Run them with
//
//	go test ./tests/ -race -count=1
//
// Environment: ACTORSTORE_SEED replays a model test seed, ACTORSTORE_LONG=1
// makes the randomized tests run longer, ACTORSTORE_CACHE_DIR sets the
// wazero compilation cache (by default a directory under os.TempDir, which
// saves the ~20 s compilation of the module under -race on later runs).
package tests
