module github.com/actorstore/actorstore

go 1.26.8

require (
	github.com/coder/websocket v1.8.15
	github.com/fxamacker/cbor/v2 v2.10.0
	github.com/tetratelabs/wazero v1.12.0
	github.com/tidwall/btree v1.8.2
	github.com/x448/float16 v0.8.4
)

require golang.org/x/sys v0.48.0 // indirect
