// What QubesDB accepts, as its client library and daemon check it (qubes-core-qubesdb:
// client/qdb-client.c, daemon/db-cmds.c verify_path/verify_hdr, daemon/db-core.c). Paths and
// values are byte strings here (latin1: one character a byte), so nothing is lost or re-encoded.

/** The protocol's header holds a path in 64 bytes, its terminating NUL included. */
export const MAX_PATH_LENGTH = 63
/** The client refuses a value over 3072 bytes and the daemon one of 3072 itself. */
export const MAX_VALUE_LENGTH = 3071

// the daemon's characters; a leading '-' is also refused, but a path begins with '/'
const PATH_CHARACTERS = /^[A-Za-z0-9_/.:@-]*$/

/** A path every command takes: it begins with '/', fits the header and holds only the daemon's characters. */
export function isValidPath(path: string): boolean {
  return path.startsWith('/') && path.length <= MAX_PATH_LENGTH && PATH_CHARACTERS.test(path)
}

/** A path that can hold a value: a path ending with '/' names a directory, never an entry. */
export function isEntryPath(path: string): boolean {
  return isValidPath(path) && !path.endsWith('/')
}

export function isValidValue(value: string): boolean {
  return value.length <= MAX_VALUE_LENGTH && !value.includes('\0')
}

/**
 * Whether a watch fires for a changed path (a written one, or the path an rm was given): a watch
 * ending with '/' fires for every path under it, any other only for its own path. So an rm of
 * '/a/' fires a watch on '/a/' or '/' but not one on '/a/b' (db-core.c qubesdb_add_watch).
 */
export function watchFires(watch: string, changed: string): boolean {
  return watch.endsWith('/') ? changed.startsWith(watch) : changed === watch
}
