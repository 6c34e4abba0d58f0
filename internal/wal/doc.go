// Package wal keeps the files of a persistent Actor Store: the directory
// marker and lock, the write-ahead log segments and the snapshot files.
//
// It knows nothing of the engine: log records and snapshots are opaque
// bytes. The host appends one record per mutation with Log.Append, waits
// for it with Log.Wait (group commit under SyncAlways), rotates segments
// after a snapshot, and on open replays every segment with Dir.Replay.
//
// # Layout
//
//	ACTORSTORE                marker, "actorstore dir v1\n"
//	LOCK                      flock(LOCK_EX|LOCK_NB) while open
//	wal-<seq:%020d>.log       segment: "ASWAL001" + u64 LE first seq, then frames
//	snap-<seq:%020d>.snap     snapshot, written via .tmp, fsync, rename, fsync dir
//
// A frame is u32 LE payload length, u32 LE CRC-32C of the payload, u32 LE
// CRC-32C of the first 8 header bytes, then the payload.
//
// # Damage
//
// Recovery tells a torn tail (the end of the last segment, written but not
// made durable before a crash; cut off and reported) from corruption (any
// other damage; a *CorruptError, errors.Is ErrCorrupt). See Dir.Replay.
package wal
