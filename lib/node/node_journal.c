/*
 * node_journal.c: the journal of orders not yet confirmed. One file per
 * order, DIR/journal/<work_id>.work, holding the Work message as the
 * orchestrator sent it, written atomically (temporary file, rename) before
 * the work starts and removed once the orchestrator took the confirmation.
 *
 * It survives a kill -9 (the page cache outlives the process), so a
 * restart resumes every pending order at once. It is not fsync'd: after a
 * power cut the orchestrator, whose work table is the reference, sends
 * unconfirmed orders again after their deadline (same work_id), so a lost
 * entry only delays the work, and a fsync per order would cost more than
 * the order. What must be durable, the blocks, is fsync'd before any
 * confirmation (node_work.c). A lost removal only replays an order whose
 * confirmation the orchestrator then ignores.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpc/error.h"
#include "cpc/key_file.h"
#include "node/node_int.h"

static void entry_path(cpc_node *n, uint64_t work_id, char *out, size_t cap) {
  snprintf(out, cap, "%s/journal/%" PRIu64 ".work", n->dir, work_id);
}

int cpc__journal_write(cpc_node *n, uint64_t work_id, const uint8_t *msg,
                       size_t len) {
  char path[1200], tmp[1300];
  ssize_t w;
  int fd;
  entry_path(n, work_id, path, sizeof path);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return CPC_EIO;
  w = write(fd, msg, len);
  if (close(fd) != 0 || w < 0 || (size_t)w != len || rename(tmp, path) != 0) {
    (void)unlink(tmp);
    return CPC_EIO;
  }
  return 0;
}

int cpc__journal_remove(cpc_node *n, uint64_t work_id) {
  char path[1200];
  entry_path(n, work_id, path, sizeof path);
  if (unlink(path) != 0 && errno != ENOENT)
    return CPC_EIO;
  return 0;
}

int cpc__journal_replay(cpc_node *n,
                        void (*fn)(cpc_node *n, const uint8_t *msg,
                                   size_t len)) {
  char dirpath[1100], path[1400];
  struct dirent *e;
  DIR *d;
  snprintf(dirpath, sizeof dirpath, "%s/journal", n->dir);
  if (cpc__node_mkdir(dirpath) != 0)
    return CPC_EIO;
  d = opendir(dirpath);
  if (!d)
    return CPC_EIO;
  while ((e = readdir(d)) != NULL) {
    size_t l = strlen(e->d_name);
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;
    if (l > 4 && strcmp(e->d_name + l - 4, ".tmp") == 0) {
      snprintf(path, sizeof path, "%s/%s", dirpath, e->d_name);
      (void)unlink(path); /* a write cut short */
      continue;
    }
    if (l < 6 || strcmp(e->d_name + l - 5, ".work") != 0)
      continue;
    snprintf(path, sizeof path, "%s/%s", dirpath, e->d_name);
    rc = cpc_key_file_read(path, CPC__NODE_MAX_WORK_MSG, &buf, &len, NULL);
    if (rc != 0) {
      cpc__node_logf(n, "journal: cannot read %s (%s); removing it", path,
                     cpc_strerror(rc));
      (void)unlink(path);
      continue;
    }
    fn(n, buf, len);
    cpc_secret_free(buf, len);
  }
  closedir(d);
  return 0;
}
