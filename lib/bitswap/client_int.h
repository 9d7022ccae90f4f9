/*
 * client_int.h: structures shared by client.c (peers, what each peer has
 * been told, message routing) and session.c (who is asked for what).
 */
#ifndef CPC_BITSWAP_CLIENT_INT_H
#define CPC_BITSWAP_CLIENT_INT_H

#include "bitswap/bitswap_int.h"

/* Interest a session has in one CID at one peer. */
enum cpc__interest { CPC__WANT_NONE = 0, CPC__WANT_HAVE, CPC__WANT_BLOCK };

/* What one peer has been told about one CID (all sessions together). */
struct cpc__wire {
  cpc__cid_node node;       /* first */
  uint32_t n_have, n_block; /* sessions wanting HAVE / the block here */
  uint8_t sent;             /* enum cpc__interest last sent */
  uint8_t dirty;            /* in the peer's dirty list */
  int32_t priority;
  struct cpc__wire *dnext, *dprev;
};

struct cpc__cpeer {
  cpc_peer_id id;
  enum cpc_bitswap_version v;
  cpc__cid_map wire;
  struct cpc__wire *dhead, *dtail; /* entries to send */
  struct cpc__cpeer *rnext, *rprev;
  uint8_t in_ready;
  uint8_t notify; /* became ready during this call: on_ready at the end */
};

/* Per session and CID, per session peer. */
enum cpc__peer_state {
  CPC__PS_UNKNOWN = 0, /* not asked */
  CPC__PS_ASKED,       /* want-have sent at t */
  CPC__PS_HAVE,
  CPC__PS_DONT_HAVE,
  CPC__PS_TIMEOUT,
};

struct cpc__ps {
  uint8_t st;       /* enum cpc__peer_state */
  uint8_t interest; /* enum cpc__interest registered at the peer's wire */
  uint64_t t;
};

enum cpc__sw_state {
  CPC__SW_IDLE,
  CPC__SW_ACTIVE,
  CPC__SW_DONE,
  CPC__SW_FAILED
};

/* One CID of a session. */
struct cpc__sw {
  struct cpc__sw *next_same; /* other sessions' wants of this CID */
  struct cpc__cwant *cw;     /* NULL once done or failed */
  struct cpc_bitswap_session *sess;
  cpc_cid cid;
  int32_t priority;
  uint8_t state;
  int block_peer; /* session peer index asked for the block, or -1 */
  uint8_t held;   /* block_peer said HAVE to the want-block: it holds it
                     (super-seeding); not counted in its inflight */
  uint8_t moves;  /* times a held want went to another peer */
  uint64_t block_deadline;
  uint64_t activated;
  struct cpc__sw *anext, *aprev; /* in the session's active list */
  struct cpc__ps *ps;            /* [sess->cap_peers] */
};

/* Client map value: every session want of one CID. */
struct cpc__cwant {
  cpc__cid_node node; /* first */
  struct cpc__sw *head;
};

struct cpc__spr {
  struct cpc__cpeer *p; /* NULL once the peer left */
  cpc_peer_id id;
  uint32_t inflight, timeouts;
  uint32_t holds; /* want-blocks it held back (super-seeding) */
  size_t blocks;
  uint8_t dead;
};

struct cpc_bitswap_session {
  cpc_bitswap_client *c;
  struct cpc_bitswap_session *next, *prev;
  void *ud;
  struct cpc__sw *wants;
  size_t n_wants, wants_cap;
  size_t next_idle; /* first want never activated */
  size_t active;
  struct cpc__sw *ahead;  /* active wants */
  struct cpc__ps *ps_all; /* n_wants * cap_peers */
  struct cpc__spr *peers;
  size_t n_peers, cap_peers;
  size_t received, failed, timeouts;
  uint64_t started;
  int any_dont_have; /* a failed want had a DONT_HAVE */
  int done;          /* over: on_done pending or fired */
  int done_fired;
  int rc;
};

struct cpc_bitswap_client {
  cpc_bitswap_client_config cfg;
  cpc_bitswap_client_callbacks cb;
  void *ud;
  struct cpc__cpeer **peers;
  size_t n_peers, cap_peers;
  struct cpc__cpeer *rhead, *rtail;
  cpc__cid_map wants; /* CID -> struct cpc__cwant */
  struct cpc_bitswap_session *sessions;
  uint64_t now;
  cpc_bitswap_client_stats stats;
  int flushing;
};

/* client.c */
struct cpc__cpeer *cpc__client_peer(const cpc_bitswap_client *c,
                                    const cpc_peer_id *id);
/* Move sw's interest at session peer k to want (adjusts the peer's wire). */
int cpc__set_interest(struct cpc_bitswap_session *s, struct cpc__sw *sw,
                      size_t k, enum cpc__interest want);

/* Fire deferred callbacks: on_ready, and on_done if fire_done. */
void cpc__client_flush(cpc_bitswap_client *c, int fire_done);

/* session.c */
/* Activate, assign, fail and finish what can be, after any change. */
void cpc__session_step(struct cpc_bitswap_session *s);
/* Act on timeouts at c->now. */
void cpc__session_tick(struct cpc_bitswap_session *s);
/* Session peer k is gone (left or dropped for timeouts). */
void cpc__session_peer_dead(struct cpc_bitswap_session *s, size_t k);
/* A block of sw's CID arrived from peer (may be NULL or not in s). */
void cpc__session_block(struct cpc__sw *sw, const struct cpc__cpeer *from,
                        const uint8_t *data, size_t len);
/* A HAVE or DONT_HAVE from peer about sw's CID. */
void cpc__session_presence(struct cpc__sw *sw, const struct cpc__cpeer *from,
                           int dont_have);
/* Earliest deadline of s into *when (unchanged if none); 1 if any. */
int cpc__session_deadline(const struct cpc_bitswap_session *s, uint64_t *when);
/* The index of peer p in s, or -1. */
int cpc__session_peer_index(const struct cpc_bitswap_session *s,
                            const struct cpc__cpeer *p);
/* Remove sw from the client's CID map. */
void cpc__sw_unlink(struct cpc__sw *sw);

#endif /* CPC_BITSWAP_CLIENT_INT_H */
