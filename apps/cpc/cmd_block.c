/*
 * cmd_block.c: `cpc block put|get|ls|rm|stat|scrub|quota`, the local block
 * store (cpc/blockstore.h) from the command line.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block_fetch.h"
#include "commands.h"
#include "cpc/blockstore.h"
#include "cpc/error.h"
#include "input.h"

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: cpc block put FILE|- [--store DIR] [--hash blake3|sha2-256]\n"
      "                 [--codec raw|dag-pb]\n"
      "       cpc block get CID [--store DIR] [-o FILE]\n"
      "       cpc block get CID... --peer MULTIADDR [--peer MULTIADDR...]\n"
      "                 [--store DIR] [-o FILE] [--timeout MS]\n"
      "       cpc block ls [--store DIR] [-l]\n"
      "       cpc block rm CID... [--store DIR]\n"
      "       cpc block stat [--store DIR]\n"
      "       cpc block scrub [--store DIR] [--remove]\n"
      "       cpc block quota BYTES|none [--store DIR]\n"
      "\n"
      "The local block store: blocks of at most 2 MiB, each checked against\n"
      "its CID when stored. Blocks are keyed by their multihash, so a CIDv0\n"
      "and a CIDv1 of the same hash name the same block.\n"
      "\n"
      "  put    store FILE's bytes ('-': standard input) as one block and\n"
      "         print its CID (default CIDv1, raw, blake3, base32)\n"
      "  get    write the block to standard output or FILE (re-checked\n"
      "         against CID first). With --peer: fetch the blocks over\n"
      "         Bitswap from those peers (each block is verified against its\n"
      "         CID before it is kept); blocks go into --store when given\n"
      "         (several CIDs need it), and the bytes of a single CID to\n"
      "         standard output or FILE. Fails with a message when no peer\n"
      "         can be reached, when the peers do not have a block\n"
      "         (DONT_HAVE), or after --timeout\n"
      "  ls     print the CID of every block (as CIDv1 raw: the store keeps\n"
      "         the multihash only); -l adds the size in bytes\n"
      "  rm     remove blocks\n"
      "  stat   block count, bytes stored, quota, size of the data file\n"
      "  scrub  re-hash every block and print the bad ones; --remove deletes\n"
      "         them. Exit status 1 if any was bad.\n"
      "  quota  limit the bytes stored (suffixes K, M, G, T: powers of 1024;\n"
      "         'none' lifts it). Kept in the store.\n"
      "\n"
      "options:\n"
      "  --store DIR   the store (default $CPC_HOME/blocks, or "
      "~/.cpc/blocks);\n"
      "                put creates it, the others need it to exist\n"
      "  --hash NAME   put: multihash function (default blake3)\n"
      "  --codec NAME  put: codec in the printed CID (default raw)\n"
      "  -o FILE       get: write here instead of standard output\n"
      "  --peer MA     get: fetch over Bitswap from /ip4|ip6/A/tcp/P[/p2p/ID]\n"
      "                (repeatable; blocks are asked of all of them)\n"
      "  --timeout MS  get --peer: give up after MS milliseconds (default\n"
      "                60000)\n"
      "  -h, --help    show this help\n");
}

/* The options every subcommand may take; which apply is checked per verb. */
struct opts {
  const char *store;
  const char *hash;
  const char *codec;
  const char *out;
  const char *timeout;
  const char *peers[16];
  int npeers;
  int long_list;
  int remove;
  const char *args[4096];
  int nargs;
};

/*
 * If argv[*i] is the option name (as "--name VALUE" or "--name=VALUE"),
 * store its value and return 1; return -1 if the value is missing.
 */
static int take_option(int argc, char **argv, int *i, const char *name,
                       const char **value) {
  size_t n = strlen(name);
  if (strncmp(argv[*i], name, n) != 0)
    return 0;
  if (argv[*i][n] == '=') {
    *value = argv[*i] + n + 1;
    return 1;
  }
  if (argv[*i][n] != '\0')
    return 0;
  if (*i + 1 >= argc)
    return -1;
  *value = argv[++*i];
  return 1;
}

/* Parse argv[2..]; 0, or the exit status of a usage error (or help). */
static int parse(int argc, char **argv, struct opts *o, int *done) {
  int positional_only = 0;
  memset(o, 0, sizeof *o);
  *done = 0;
  for (int i = 2; i < argc; i++) {
    const char *arg = argv[i];
    int r;
    if (!positional_only && cpc_is_help(arg)) {
      usage(stdout);
      *done = 1;
      return 0;
    }
    const char *peer = NULL;
    if (!positional_only &&
        (r = take_option(argc, argv, &i, "--peer", &peer)) != 0) {
      if (r < 0) {
        cpc_fail("block", "option %s needs a value", arg);
        return 2;
      }
      if (o->npeers == (int)(sizeof o->peers / sizeof o->peers[0])) {
        cpc_fail("block", "too many --peer options (at most %zu)",
                 sizeof o->peers / sizeof o->peers[0]);
        return 2;
      }
      o->peers[o->npeers++] = peer;
      continue;
    }
    if (!positional_only &&
        ((r = take_option(argc, argv, &i, "--store", &o->store)) ||
         (r = take_option(argc, argv, &i, "--timeout", &o->timeout)) ||
         (r = take_option(argc, argv, &i, "--hash", &o->hash)) ||
         (r = take_option(argc, argv, &i, "--codec", &o->codec)) ||
         (r = take_option(argc, argv, &i, "-o", &o->out)) ||
         (r = take_option(argc, argv, &i, "--output", &o->out)))) {
      if (r < 0) {
        cpc_fail("block", "option %s needs a value", arg);
        return 2;
      }
      continue;
    }
    if (!positional_only && strcmp(arg, "-l") == 0) {
      o->long_list = 1;
    } else if (!positional_only && strcmp(arg, "--remove") == 0) {
      o->remove = 1;
    } else if (!positional_only && strcmp(arg, "--") == 0) {
      positional_only = 1;
    } else if (!positional_only && arg[0] == '-' && arg[1] != '\0') {
      cpc_fail("block", "unknown option '%s' (see cpc block --help)", arg);
      return 2;
    } else if (o->nargs == (int)(sizeof o->args / sizeof o->args[0])) {
      cpc_fail("block", "too many arguments (at most %zu)",
               sizeof o->args / sizeof o->args[0]);
      return 2;
    } else {
      o->args[o->nargs++] = arg;
    }
  }
  return 0;
}

/* --store, else $CPC_HOME/blocks, else $HOME/.cpc/blocks, into buf. */
static int store_dir(const struct opts *o, char *buf, size_t cap) {
  const char *home;
  int n;
  if (o->store != NULL) {
    n = snprintf(buf, cap, "%s", o->store);
  } else if ((home = getenv("CPC_HOME")) != NULL && home[0] != '\0') {
    n = snprintf(buf, cap, "%s/blocks", home);
  } else if ((home = getenv("HOME")) != NULL && home[0] != '\0') {
    n = snprintf(buf, cap, "%s/.cpc/blocks", home);
  } else {
    return cpc_fail("block", "no store: give --store DIR, or set CPC_HOME");
  }
  if (n < 0 || (size_t)n >= cap)
    return cpc_fail("block", "store path is too long");
  return 0;
}

static int open_store(const struct opts *o, unsigned flags,
                      cpc_blockstore **bs) {
  char dir[4096];
  int rc;
  if (store_dir(o, dir, sizeof dir) != 0)
    return 1;
  rc = cpc_blockstore_open(dir, flags, bs);
  if (rc == 0)
    return 0;
  if (rc == CPC_ENOENT && (flags & CPC_BLOCKSTORE_NOCREATE))
    return cpc_fail("block",
                    "no block store at '%s' (check --store; `cpc block put` "
                    "creates one)",
                    dir);
  if (rc == CPC_EMALFORMED)
    return cpc_fail("block", "'%s' is not a block store", dir);
  if (rc == CPC_EUNSUPPORTED)
    return cpc_fail(
        "block", "the store at '%s' was written by a newer cpc; upgrade", dir);
  return cpc_fail("block", "cannot open the store at '%s': %s", dir,
                  cpc_strerror(rc));
}

static int need_args(const struct opts *o, const char *verb, int min, int max,
                     const char *what) {
  if (o->nargs < min || o->nargs > max) {
    cpc_fail("block", "%s takes %s (see cpc block --help)", verb, what);
    return 2;
  }
  return 0;
}

static int parse_cid(const char *text, cpc_cid *cid) {
  int rc = cpc_cid_parse(text, cid);
  if (rc != 0)
    return cpc_fail("block", "'%.100s' is not a valid CID: %s", text,
                    cpc_strerror(rc));
  return 0;
}

/* The full-store message: which limit was hit and what to do. */
static int report_full(cpc_blockstore *bs, size_t len) {
  cpc_blockstore_stats st;
  if (cpc_blockstore_stats_get(bs, &st) == 0 && st.quota != 0 &&
      st.bytes + len > st.quota)
    return cpc_fail("block",
                    "the store is full: %llu bytes of its %llu-byte quota are "
                    "used and this block has %zu (remove blocks with `cpc "
                    "block rm`, or raise the limit with `cpc block quota`)",
                    (unsigned long long)st.bytes, (unsigned long long)st.quota,
                    len);
  return cpc_fail("block", "no space left on the disk holding the store; the "
                           "store is unchanged (free some space and retry)");
}

static int do_put(struct opts *o) {
  uint64_t hash = CPC_MH_BLAKE3, codec = CPC_CODEC_RAW;
  cpc_blockstore *bs = NULL;
  uint8_t *data = NULL;
  size_t len;
  cpc_cid cid;
  char text[CPC_CID_MAX_TEXT];
  int rc, status = 1;

  if ((rc = need_args(o, "put", 1, 1, "one FILE (or '-')")) != 0)
    return rc;
  if (o->hash != NULL && (cpc_multihash_code_from_name(o->hash, &hash) != 0 ||
                          hash == CPC_MH_IDENTITY)) {
    cpc_fail("block", "unknown hash '%s' (use blake3 or sha2-256)", o->hash);
    return 2;
  }
  if (o->codec != NULL && cpc_cid_codec_from_name(o->codec, &codec) != 0) {
    cpc_fail("block", "unknown codec '%s' (use raw or dag-pb)", o->codec);
    return 2;
  }
  errno = 0;
  rc = cpc_app_read_all(o->args[0], CPC_BLOCK_MAX_SIZE, &data, &len);
  if (rc == CPC_ETOOBIG)
    return cpc_fail("block",
                    "'%s' is larger than 2 MiB, the block size limit (split "
                    "it first, e.g. with `cpc encrypt`)",
                    o->args[0]);
  if (rc != 0)
    return cpc_fail("block", "cannot read '%s': %s", o->args[0],
                    errno ? strerror(errno) : cpc_strerror(rc));
  if (open_store(o, 0, &bs) != 0)
    goto out;
  rc = cpc_blockstore_add(bs, codec, hash, data, len, &cid);
  if (rc == CPC_ENOSPC) {
    report_full(bs, len);
    goto out;
  }
  if (rc == 0)
    rc = cpc_cid_format(&cid, CPC_MB_BASE32, text, sizeof text);
  if (rc != 0) {
    cpc_fail("block", "cannot store '%s': %s", o->args[0], cpc_strerror(rc));
    goto out;
  }
  if (printf("%s\n", text) < 0 || fflush(stdout) != 0) {
    cpc_fail("block", "cannot write the CID: %s", strerror(errno));
    goto out;
  }
  status = 0;
out:
  cpc_blockstore_close(bs);
  free(data);
  return status;
}

/* get --peer: over Bitswap. */
static int do_fetch(struct opts *o) {
  struct cpc_block_fetch_args a;
  char *end;
  int rc;
  if ((rc = need_args(o, "get", 1, 4096, "one or more CIDs")) != 0)
    return rc;
  memset(&a, 0, sizeof a);
  a.cids = o->args;
  a.n_cids = o->nargs;
  a.peers = o->peers;
  a.n_peers = o->npeers;
  a.store = o->store;
  a.out = o->out;
  a.timeout_ms = 60000;
  if (o->timeout) {
    errno = 0;
    unsigned long long v = strtoull(o->timeout, &end, 10);
    if (errno || end == o->timeout || *end || o->timeout[0] == '-' || v == 0) {
      cpc_fail("block", "bad value '%s' for --timeout (milliseconds)",
               o->timeout);
      return 2;
    }
    a.timeout_ms = v;
  }
  return cpc_block_fetch(&a);
}

static int do_get(struct opts *o) {
  cpc_blockstore *bs = NULL;
  uint8_t *data = NULL;
  size_t len = 0;
  cpc_cid cid;
  FILE *f = NULL;
  int rc, status = 1;

  if (o->npeers > 0)
    return do_fetch(o);
  if ((rc = need_args(o, "get", 1, 1, "one CID (several need --peer)")) != 0)
    return rc;
  if (parse_cid(o->args[0], &cid) != 0 ||
      open_store(o, CPC_BLOCKSTORE_NOCREATE, &bs) != 0)
    return 1;
  rc = cpc_blockstore_get_alloc(bs, &cid, &data, &len);
  if (rc == CPC_ENOENT) {
    cpc_fail("block", "%s is not in the store", o->args[0]);
    goto out;
  }
  if (rc == 0)
    rc = cpc_multihash_verify(&cid.mh, data, len);
  if (rc == CPC_EMISMATCH) {
    cpc_fail("block",
             "the stored copy of %s is corrupt (run `cpc block "
             "scrub --remove`, then fetch it again)",
             o->args[0]);
    goto out;
  }
  if (rc != 0) {
    cpc_fail("block", "cannot read %s: %s", o->args[0], cpc_strerror(rc));
    goto out;
  }
  f = o->out != NULL ? fopen(o->out, "wb") : stdout;
  if (f == NULL) {
    cpc_fail("block", "cannot create '%s': %s", o->out, strerror(errno));
    goto out;
  }
  if ((len > 0 && fwrite(data, 1, len, f) != len) || fflush(f) != 0) {
    cpc_fail("block", "cannot write '%s': %s", o->out ? o->out : "stdout",
             strerror(errno));
    goto out;
  }
  status = 0;
out:
  if (f != NULL && f != stdout && fclose(f) != 0 && status == 0)
    status =
        cpc_fail("block", "cannot write '%s': %s", o->out, strerror(errno));
  cpc_blockstore_close(bs);
  free(data);
  return status;
}

/* The CIDv1 raw text of a stored multihash (what ls and scrub print). */
static void mh_text(const cpc_multihash *mh, char *out, size_t cap) {
  cpc_cid cid = {1, CPC_CODEC_RAW, *mh};
  if (cpc_cid_format(&cid, CPC_MB_BASE32, out, cap) != 0)
    snprintf(out, cap, "(unprintable multihash, code 0x%llx)",
             (unsigned long long)mh->code);
}

static int print_one(void *arg, const cpc_multihash *mh, size_t len) {
  const struct opts *o = arg;
  char text[CPC_CID_MAX_TEXT];
  mh_text(mh, text, sizeof text);
  if ((o->long_list ? printf("%s %zu\n", text, len) : printf("%s\n", text)) < 0)
    return CPC_EIO;
  return 0;
}

static int do_ls(struct opts *o) {
  cpc_blockstore *bs = NULL;
  int rc;
  if ((rc = need_args(o, "ls", 0, 0, "no arguments")) != 0)
    return rc;
  if (open_store(o, CPC_BLOCKSTORE_NOCREATE, &bs) != 0)
    return 1;
  rc = cpc_blockstore_list(bs, print_one, o);
  cpc_blockstore_close(bs);
  if (rc == 0 && fflush(stdout) != 0)
    rc = CPC_EIO;
  if (rc != 0)
    return cpc_fail("block", "listing failed: %s", cpc_strerror(rc));
  return 0;
}

static int do_rm(struct opts *o) {
  cpc_blockstore *bs = NULL;
  cpc_cid cid;
  int rc, status = 0;
  if ((rc = need_args(o, "rm", 1, 64, "one or more CIDs")) != 0)
    return rc;
  for (int i = 0; i < o->nargs; i++)
    if (parse_cid(o->args[i], &cid) != 0)
      return 1;
  if (open_store(o, CPC_BLOCKSTORE_NOCREATE, &bs) != 0)
    return 1;
  for (int i = 0; i < o->nargs; i++) {
    (void)cpc_cid_parse(o->args[i], &cid);
    rc = cpc_blockstore_delete(bs, &cid);
    if (rc == CPC_ENOENT)
      status = cpc_fail("block", "%s is not in the store", o->args[i]);
    else if (rc != 0)
      status = cpc_fail("block", "cannot remove %s: %s", o->args[i],
                        cpc_strerror(rc));
  }
  cpc_blockstore_close(bs);
  return status;
}

static int do_stat(struct opts *o) {
  cpc_blockstore *bs = NULL;
  cpc_blockstore_stats st;
  int rc;
  if ((rc = need_args(o, "stat", 0, 0, "no arguments")) != 0)
    return rc;
  if (open_store(o, CPC_BLOCKSTORE_NOCREATE, &bs) != 0)
    return 1;
  rc = cpc_blockstore_stats_get(bs, &st);
  cpc_blockstore_close(bs);
  if (rc != 0)
    return cpc_fail("block", "cannot read the counters: %s", cpc_strerror(rc));
  printf("blocks: %llu\nbytes: %llu\n", (unsigned long long)st.count,
         (unsigned long long)st.bytes);
  if (st.quota != 0)
    printf("quota: %llu\n", (unsigned long long)st.quota);
  else
    printf("quota: none\n");
  printf("file_bytes: %llu\n", (unsigned long long)st.file_bytes);
  return fflush(stdout) == 0 ? 0 : 1;
}

static int report_bad(void *arg, const cpc_multihash *mh, size_t len,
                      int problem) {
  const struct opts *o = arg;
  char text[CPC_CID_MAX_TEXT];
  const char *why = problem == CPC_EMISMATCH      ? "bytes do not match"
                    : problem == CPC_EMALFORMED   ? "key is not a multihash"
                    : problem == CPC_EUNSUPPORTED ? "unsupported hash"
                    : problem == CPC_ETOOBIG      ? "block over 2 MiB"
                                                  : cpc_strerror(problem);
  mh_text(mh, text, sizeof text);
  printf("bad %s %zu %s%s\n", text, len, why, o->remove ? " (removed)" : "");
  return o->remove ? CPC_BLOCKSTORE_SCRUB_REMOVE : 0;
}

static int do_scrub(struct opts *o) {
  cpc_blockstore *bs = NULL;
  cpc_blockstore_scrub_result res;
  int rc;
  if ((rc = need_args(o, "scrub", 0, 0, "no arguments")) != 0)
    return rc;
  if (open_store(o, CPC_BLOCKSTORE_NOCREATE, &bs) != 0)
    return 1;
  rc = cpc_blockstore_scrub(bs, report_bad, o, &res);
  cpc_blockstore_close(bs);
  fflush(stdout);
  if (rc != 0)
    return cpc_fail("block", "scrub failed: %s", cpc_strerror(rc));
  fprintf(stderr, "cpc block scrub: %llu checked, %llu bad, %llu removed\n",
          (unsigned long long)res.checked, (unsigned long long)res.bad,
          (unsigned long long)res.removed);
  return res.bad != 0 ? 1 : 0;
}

/* "none", or a decimal number with an optional K/M/G/T (x 1024^n) suffix. */
static int parse_bytes(const char *text, uint64_t *out) {
  char *end;
  unsigned long long v;
  int shift = 0;
  if (strcmp(text, "none") == 0) {
    *out = 0;
    return 0;
  }
  if (text[0] < '0' || text[0] > '9')
    return -1;
  errno = 0;
  v = strtoull(text, &end, 10);
  if (errno != 0)
    return -1;
  switch (*end) {
  case 'K':
  case 'k':
    shift = 10;
    end++;
    break;
  case 'M':
  case 'm':
    shift = 20;
    end++;
    break;
  case 'G':
  case 'g':
    shift = 30;
    end++;
    break;
  case 'T':
  case 't':
    shift = 40;
    end++;
    break;
  default: break;
  }
  if (*end != '\0' || (shift && v > (UINT64_MAX >> shift)) || v == 0)
    return -1;
  *out = (uint64_t)v << shift;
  return 0;
}

static int do_quota(struct opts *o) {
  cpc_blockstore *bs = NULL;
  uint64_t quota;
  int rc;
  if ((rc = need_args(o, "quota", 1, 1, "BYTES or 'none'")) != 0)
    return rc;
  if (parse_bytes(o->args[0], &quota) != 0) {
    cpc_fail("block",
             "'%s' is not a size (use e.g. 1000000, 512K, 10G, or none)",
             o->args[0]);
    return 2;
  }
  if (open_store(o, CPC_BLOCKSTORE_NOCREATE, &bs) != 0)
    return 1;
  rc = cpc_blockstore_set_quota(bs, quota);
  cpc_blockstore_close(bs);
  if (rc != 0)
    return cpc_fail("block", "cannot set the quota: %s", cpc_strerror(rc));
  return 0;
}

enum {
  OPT_HASH = 1,
  OPT_CODEC = 2,
  OPT_OUT = 4,
  OPT_LONG = 8,
  OPT_REMOVE = 16,
  OPT_PEER = 32
};

/* The first option given that a verb taking only `takes` does not accept. */
static const char *foreign_option(const struct opts *o, unsigned takes) {
  if (o->hash != NULL && !(takes & OPT_HASH))
    return "--hash";
  if (o->codec != NULL && !(takes & OPT_CODEC))
    return "--codec";
  if (o->out != NULL && !(takes & OPT_OUT))
    return "-o";
  if (o->long_list && !(takes & OPT_LONG))
    return "-l";
  if (o->remove && !(takes & OPT_REMOVE))
    return "--remove";
  if (o->npeers && !(takes & OPT_PEER))
    return "--peer";
  if (o->timeout && !(takes & OPT_PEER))
    return "--timeout";
  return NULL;
}

int cpc_cmd_block(int argc, char **argv) {
  static const struct {
    const char *name;
    int (*run)(struct opts *o);
    unsigned takes; /* OPT_* it accepts besides --store */
  } verbs[] = {{"put", do_put, OPT_HASH | OPT_CODEC},
               {"get", do_get, OPT_OUT | OPT_PEER},
               {"ls", do_ls, OPT_LONG},
               {"rm", do_rm, 0},
               {"stat", do_stat, 0},
               {"scrub", do_scrub, OPT_REMOVE},
               {"quota", do_quota, 0}};
  struct opts o;
  int done, rc;

  if (argc < 2) {
    cpc_fail("block", "which subcommand? (put, get, ls, rm, stat, scrub, "
                      "quota)");
    usage(stderr);
    return 2;
  }
  if (cpc_is_help(argv[1])) {
    usage(stdout);
    return 0;
  }
  for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
    if (strcmp(argv[1], verbs[i].name) != 0)
      continue;
    rc = parse(argc, argv, &o, &done);
    if (rc != 0 || done)
      return rc;
    const char *foreign = foreign_option(&o, verbs[i].takes);
    if (foreign != NULL) {
      cpc_fail("block", "%s does not take %s (see cpc block --help)",
               verbs[i].name, foreign);
      return 2;
    }
    return verbs[i].run(&o);
  }
  cpc_fail("block",
           "unknown subcommand '%s' (put, get, ls, rm, stat, scrub, "
           "quota)",
           argv[1]);
  return 2;
}
