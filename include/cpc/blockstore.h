/*
 * cpc/blockstore.h: a persistent, verified CID -> bytes store.
 *
 * Blocks are keyed by the CID's multihash, not by the whole CID, as IPFS
 * does: a CIDv0 and a CIDv1 (of any codec) with the same multihash name one
 * block, and listing gives multihashes back. Every block is re-hashed before
 * it is stored (sha2-256, blake3 and identity multihashes), so the store only
 * ever holds bytes that match their key.
 *
 * Layout (docs/adr/0002-block-store-layout.md): one LMDB environment in the
 * store directory (data.mdb, lock.mdb). Each put, delete or quota change is
 * one LMDB write transaction that also updates the block count and byte
 * total, so the accounting survives restarts and crashes exactly. By default
 * a call that returned 0 is on disk (LMDB syncs the data pages, then the
 * meta page); a kill -9 or power loss at any moment leaves the last committed
 * state, never a torn block.
 *
 * Cached blocks (CPC_BLOCKSTORE_PUT_CACHE): blocks that can be fetched
 * again (a PDS's copies of other users' content) are written behind: the
 * put copies the block into a bounded queue (readable at once through
 * get/has/size) and a writer thread commits what has queued up in one
 * transaction, synced as any other. One fsync covers many blocks and the
 * caller never waits for the disk, unless the queue is full. The store
 * stays as consistent as with plain puts (no LMDB NOSYNC: a system crash
 * cannot damage it, nor the blocks that were put durably); a kill -9 or
 * a crash only loses the cached blocks still queued, which are fetched
 * again when wanted. A cached put that cannot be committed (quota, disk
 * full) is dropped and counted (cpc_blockstore_stats.dropped).
 *
 * Threads and processes: one handle may be used by several threads at once
 * (every call runs its own LMDB transaction; writers are serialised, readers
 * never wait). Several processes may open the same directory at once (LMDB's
 * lock file). Within one process, open a directory only once and share the
 * handle (LMDB's rule: a second open would break its POSIX file locks).
 */
#ifndef CPC_BLOCKSTORE_H
#define CPC_BLOCKSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "cpc/cid.h"
#include "cpc/multihash.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest block the store accepts (the Bitswap block limit). */
#define CPC_BLOCK_MAX_SIZE ((size_t)2 << 20)

typedef struct cpc_blockstore cpc_blockstore;

enum cpc_blockstore_flag {
  /*
   * Bulk mode: commits are not fsync'd. A process crash (kill -9) still
   * loses nothing that was committed, but an OS crash or power loss before
   * cpc_blockstore_sync() may lose recent blocks or damage the store (LMDB
   * MDB_NOSYNC). For imports that can be redone; call cpc_blockstore_sync()
   * at the end, and run a scrub after an OS crash.
   */
  CPC_BLOCKSTORE_NOSYNC = 1 << 0,
  /* Fail with CPC_ENOENT instead of creating a missing store directory. */
  CPC_BLOCKSTORE_NOCREATE = 1 << 1,
};

/*
 * Open (creating it and missing parents, mode 0700, unless
 * CPC_BLOCKSTORE_NOCREATE) the store in directory dir (borrowed,
 * NUL-terminated); flags is a mask of cpc_blockstore_flag. On success *out
 * owns a handle to free with cpc_blockstore_close(). Stale reader slots left
 * by killed processes are cleared. Errors: CPC_EINVAL (NULL argument,
 * unknown flag), CPC_ENOENT (no store and NOCREATE, or a missing parent that
 * cannot be created), CPC_EPERM (no access), CPC_EMALFORMED (dir holds
 * something that is not a block store), CPC_EUNSUPPORTED (a store of a newer
 * format), CPC_ENOSPC, CPC_ENOMEM, CPC_EIO.
 */
int cpc_blockstore_open(const char *dir, unsigned flags, cpc_blockstore **out);

/* Close the handle (NULL is fine); in bulk mode this syncs first. */
void cpc_blockstore_close(cpc_blockstore *bs);

/*
 * Store block data[0..len) (borrowed) under cid's multihash, after checking
 * that the bytes hash to it. Storing a block that is already there returns
 * 0 and changes nothing (the bytes are still checked). The quota counts
 * block bytes (not LMDB's page overhead): a put is refused when the stored
 * total plus len would exceed it, so a put that lands exactly on the quota
 * succeeds. Errors: CPC_EINVAL (NULL bs/cid, or NULL data with len > 0),
 * CPC_ETOOBIG (len > CPC_BLOCK_MAX_SIZE, checked before hashing),
 * CPC_EUNSUPPORTED (a hash this code cannot compute), CPC_EMISMATCH (bytes
 * do not match), CPC_ENOSPC (quota, disk or LMDB map full; the store is left
 * as it was), CPC_EIO, CPC_ENOMEM.
 */
int cpc_blockstore_put(cpc_blockstore *bs, const cpc_cid *cid, const void *data,
                       size_t len);

enum cpc_blockstore_put_flag {
  /*
   * The caller has just checked that data hashes to cid (the Bitswap
   * decoder computes the CID of every block it hands out, from the
   * bytes): the put does not hash them again. Never for bytes whose CID
   * was only claimed.
   */
  CPC_BLOCKSTORE_PUT_VERIFIED = 1 << 0,
  /* A cached block: written behind (see the top of this file). */
  CPC_BLOCKSTORE_PUT_CACHE = 1 << 1,
};

/*
 * As cpc_blockstore_put(), with flags a mask of cpc_blockstore_put_flag
 * (0: the same as cpc_blockstore_put()). With CPC_BLOCKSTORE_PUT_CACHE,
 * 0 means the block is queued (or already stored): it is readable at once
 * and committed soon after, unless the commit fails (then it is dropped
 * and counted); the quota is checked against what is stored plus what is
 * queued. The first cached put starts the writer thread. Errors as
 * cpc_blockstore_put(), and CPC_EINVAL (unknown flag), CPC_EAGAIN (no
 * writer thread could be started).
 */
int cpc_blockstore_put_flags(cpc_blockstore *bs, const cpc_cid *cid,
                             const void *data, size_t len, unsigned flags);

/*
 * Wait until every cached block queued before the call is committed (or
 * dropped). Returns 0 (also without cached puts), CPC_EINVAL.
 */
int cpc_blockstore_flush(cpc_blockstore *bs);

/*
 * Compute the CIDv1 of data with codec and hash_code (e.g. CPC_CODEC_RAW,
 * CPC_MH_BLAKE3), store the block and write the CID to *cid. Errors as
 * cpc_cid_compute() and cpc_blockstore_put().
 */
int cpc_blockstore_add(cpc_blockstore *bs, uint64_t codec, uint64_t hash_code,
                       const void *data, size_t len, cpc_cid *cid);

/*
 * Copy the block named by cid into buf (cap bytes, caller's; may be NULL
 * when cap is 0); *len gets the block's size, also when buf is too small
 * (then CPC_ETOOBIG and buf is untouched). Cached blocks still queued are
 * found too (as by has, size and get_alloc). Errors: CPC_EINVAL,
 * CPC_ENOENT, CPC_ETOOBIG, CPC_EIO.
 */
int cpc_blockstore_get(cpc_blockstore *bs, const cpc_cid *cid, void *buf,
                       size_t cap, size_t *len);

/*
 * As cpc_blockstore_get() into a buffer malloc'd for the caller: *out (free()
 * it; never NULL on success, even for an empty block) of *len bytes.
 */
int cpc_blockstore_get_alloc(cpc_blockstore *bs, const cpc_cid *cid,
                             uint8_t **out, size_t *len);

/* *found = 1 if the block is stored, else 0. Errors: CPC_EINVAL, CPC_EIO. */
int cpc_blockstore_has(cpc_blockstore *bs, const cpc_cid *cid, int *found);

/* The block's size into *len. Errors: CPC_EINVAL, CPC_ENOENT, CPC_EIO. */
int cpc_blockstore_size(cpc_blockstore *bs, const cpc_cid *cid, size_t *len);

/*
 * Remove the block named by cid; its bytes leave the quota at once (LMDB
 * reuses the pages; the file does not shrink). Queued cached blocks are
 * committed first (cpc_blockstore_flush), as before set_quota, list,
 * scrub, sync and close. Errors: CPC_EINVAL,
 * CPC_ENOENT (not stored), CPC_ENOSPC (disk full while committing), CPC_EIO.
 */
int cpc_blockstore_delete(cpc_blockstore *bs, const cpc_cid *cid);

/*
 * Set the byte quota (0: none); it is stored with the blocks, so it holds
 * for every later open and every process. A quota below what is already
 * stored is accepted: nothing is removed, further puts are refused.
 * Errors: CPC_EINVAL, CPC_ENOSPC, CPC_EIO.
 */
int cpc_blockstore_set_quota(cpc_blockstore *bs, uint64_t quota);

typedef struct cpc_blockstore_stats {
  uint64_t count;      /* blocks stored, queued cached blocks included */
  uint64_t bytes;      /* sum of their sizes (what the quota counts) */
  uint64_t quota;      /* 0: no quota */
  uint64_t file_bytes; /* size of the LMDB data in use, overhead included */
  uint64_t pending;    /* cached blocks queued, not yet committed */
  uint64_t dropped;    /* cached blocks whose commit failed, since open */
} cpc_blockstore_stats;

/* Counters into *st (read in one snapshot). Errors: CPC_EINVAL, CPC_EIO. */
int cpc_blockstore_stats_get(cpc_blockstore *bs, cpc_blockstore_stats *st);

/* Commit the queued cached blocks, then flush everything committed to
 * disk (useful in bulk mode). CPC_EINVAL, CPC_EIO. */
int cpc_blockstore_sync(cpc_blockstore *bs);

/*
 * Called for each block: mh (borrowed for the call) and the block's size.
 * Return 0 to go on; any other value stops the walk and is returned by it.
 */
typedef int (*cpc_blockstore_list_fn)(void *arg, const cpc_multihash *mh,
                                      size_t len);

/*
 * Call fn(arg, ...) for every block, in key order, over a snapshot taken at
 * the start (blocks put or deleted meanwhile, even by fn, are not seen).
 * Returns 0, fn's non-zero value, CPC_EINVAL or CPC_EIO. Keys that are not
 * multihashes (a damaged store) are skipped; cpc_blockstore_scrub() reports
 * them.
 */
int cpc_blockstore_list(cpc_blockstore *bs, cpc_blockstore_list_fn fn,
                        void *arg);

/* A scrub callback's answer to have a block removed. */
#define CPC_BLOCKSTORE_SCRUB_REMOVE 1

/*
 * Called by scrub for each bad block: mh (borrowed; for a key that is not
 * a multihash, code 0 and the raw key bytes as digest, cut at
 * CPC_MH_MAX_DIGEST), its size and why: CPC_EMISMATCH (bytes do not hash to
 * the key), CPC_EUNSUPPORTED (hash this code cannot compute), CPC_EMALFORMED
 * (key is not a multihash) or CPC_ETOOBIG (over CPC_BLOCK_MAX_SIZE).
 * Return 0 to keep the block, CPC_BLOCKSTORE_SCRUB_REMOVE to delete it, or a
 * negative code to stop the scrub (which then returns that code).
 */
typedef int (*cpc_blockstore_scrub_fn)(void *arg, const cpc_multihash *mh,
                                       size_t len, int problem);

typedef struct cpc_blockstore_scrub_result {
  uint64_t checked; /* blocks re-hashed */
  uint64_t bad;     /* blocks reported to the callback */
  uint64_t removed; /* bad blocks deleted at the callback's request */
} cpc_blockstore_scrub_result;

/*
 * Re-hash every block over a snapshot (as cpc_blockstore_list()); fn may
 * be NULL (bad blocks are only counted). Blocks to remove are deleted after
 * the walk, each only if its bytes are still the bad ones. *res (may be
 * NULL) gets the counts. Returns 0 (also when bad blocks were found: look at
 * res->bad), fn's negative code, CPC_EINVAL, CPC_ENOMEM, CPC_ENOSPC, CPC_EIO.
 */
int cpc_blockstore_scrub(cpc_blockstore *bs, cpc_blockstore_scrub_fn fn,
                         void *arg, cpc_blockstore_scrub_result *res);

#ifdef __cplusplus
}
#endif

#endif /* CPC_BLOCKSTORE_H */
