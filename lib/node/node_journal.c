/*
 * node_journal.c: the durable journal of orders not yet confirmed. One
 * file per order, DIR/journal/<work_id>.work, holding the Work message as
 * the orchestrator sent it; written atomically and fsync'd (temporary
 * file, rename, directory fsync) before the work starts, removed once the
 * orchestrator took the confirmation. A lost removal only replays an order
 * whose confirmation the orchestrator then ignores.
 */
#include <dirent.h>
#include <errno.h>
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
  char path[1200];
  entry_path(n, work_id, path, sizeof path);
  return cpc_key_file_write(path, msg, len, 1);
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
    if (l > 5 && strcmp(e->d_name + l - 5, ".tmp") == 0)
      continue;
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
