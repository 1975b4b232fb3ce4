/* Files written so that nothing already saved is lost: to a temporary name in the same directory,
 * fsynced, renamed over the target, and the directory fsynced so the rename survives a crash. */
#ifndef CF_FILEIO_H
#define CF_FILEIO_H

#include "autograd/cf_base.h"

#include <stdio.h>

/* Writes buf as path atomically. On failure the temporary file is removed, path is untouched and the
 * error names path and the cause. */
cf_status cf_write_file_atomic(const char *path, const void *buf, size_t len);
/* fsync of the directory that holds path (after a rename into it); 0 on success, -1 with errno. */
int cf_fsync_dir_of(const char *path);

/* A read-only stream over the n bytes at buf (fmemopen), so one parser of FILE * serves files and buffers.
 * No bytes (n 0) read as an empty line. NULL with an error naming `what` on failure; fclose it. */
FILE *cf_open_mem(const void *buf, size_t n, const char *what);

#endif
