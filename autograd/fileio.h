/* Files written so that nothing already saved is lost: to a temporary name in the same directory,
 * fsynced, renamed over the target, and the directory fsynced so the rename survives a crash. Every file
 * cformer writes whole (checkpoints, exports, vocabularies, maze files, plots, eval JSON, the resolved
 * recipe) goes through cf_atomic_file; append logs (metrics.jsonl) do not.
 *
 * Usage:
 *     cf_atomic_file *af = cf_atomic_open(path);
 *     if (!af) return cf_last_status();             // the error names path and the cause
 *     cf_atomic_printf(af, "merges %d\n", n);       // errors are sticky: keep writing, check once
 *     cf_atomic_write(af, bytes, len);
 *     return cf_atomic_commit(af);                  // or cf_atomic_abort(af) to give up
 *
 * Invariants: until cf_atomic_commit succeeds, path is untouched (an old file at path stays as it was);
 * after any failure (a write, the flush, the fsync, the rename) commit returns CF_ERR_IO with a message
 * naming path and the first cause (strerror: "No space left on device", "File too large", ...) and the
 * temporary file is removed. Commit and abort free the handle: exactly one of them is called per open. */
#ifndef CF_FILEIO_H
#define CF_FILEIO_H

#include "autograd/cf_base.h"

#include <stdio.h>

typedef struct cf_atomic_file cf_atomic_file;

/* Creates the temporary file "<path>.tmp.<pid>" next to path ("<path>.tmp.<pid>.<n>" when this process
 * already has that one open), so that a stale one of a dead process can be recognised by its pid. NULL
 * with an error naming path when it cannot be created (no such directory, no permission). */
cf_atomic_file *cf_atomic_open(const char *path);
/* Appends len bytes. A failure is recorded (the first one wins) and returned; later writes are no-ops. */
cf_status cf_atomic_write(cf_atomic_file *af, const void *buf, size_t len);
/* printf-style cf_atomic_write. */
cf_status cf_atomic_printf(cf_atomic_file *af, const char *fmt, ...) CF_PRINTF(2, 3);
/* The temporary file as a stdio stream, for libraries that write to a FILE* (libpng) or callers that seek
 * (a header written last). Errors on it are caught by commit (ferror and the final flush). Never fclose it. */
FILE *cf_atomic_stream(cf_atomic_file *af);
/* The target path given to cf_atomic_open (for messages). */
const char *cf_atomic_path(const cf_atomic_file *af);
/* Flushes, fsyncs, closes, renames over path and fsyncs the directory; frees af. On failure the temporary
 * file is removed and path is untouched (except when only the final directory fsync fails: then the new
 * file is in place and the error says so). */
cf_status cf_atomic_commit(cf_atomic_file *af);
/* Removes the temporary file and frees af; path is untouched. NULL is fine. */
void cf_atomic_abort(cf_atomic_file *af);

/* Writes buf as path atomically: open, write, commit. */
cf_status cf_write_file_atomic(const char *path, const void *buf, size_t len);
/* fsync of the directory that holds path (after a rename into it); 0 on success, -1 with errno. */
int cf_fsync_dir_of(const char *path);

/* Whether a and b name the same existing file (same device and inode), so an output never replaces an input. */
bool cf_same_file(const char *a, const char *b);

/* mkdir -p: creates dir and its missing parents (mode 0777 before the umask); an existing directory is
 * fine. The error names the first component that could not be created and why. */
cf_status cf_mkdirs(const char *dir);
/* cf_mkdirs of the directory that holds file ("a/b/c.json" -> "a/b"); nothing for a bare name. */
cf_status cf_mkdirs_for(const char *file);
/* A read-only stream over the n bytes at buf (fmemopen), so one parser of FILE * serves files and buffers.
 * No bytes (n 0) read as an empty line. NULL with an error naming `what` on failure; fclose it. */
FILE *cf_open_mem(const void *buf, size_t n, const char *what);
/* The whole file at path, read into a malloc'd buffer with a NUL after its n bytes (*n gets n; the bytes may
 * hold NULs). At most max_bytes (0: no limit); a larger file is CF_ERR_FORMAT. NULL with an error naming the
 * path: cannot open (and why), a read error at its offset, out of memory. */
char *cf_read_file(const char *path, size_t max_bytes, size_t *n);

#endif
