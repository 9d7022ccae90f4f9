/*
 * multistream.c: multistream-select 1.0 negotiation, dialer and listener,
 * as a state machine over caller-supplied bytes (see cpc/multistream.h).
 */
#include <stddef.h>
#include <string.h>

#include "cpc/error.h"
#include "cpc/multistream.h"
#include "cpc/varint.h"

enum phase {
  PHASE_HEADER,   /* waiting for the peer's "/multistream/1.0.0" */
  PHASE_ANSWER,   /* dialer: waiting for the echo or "na" */
  PHASE_PROPOSAL, /* listener: waiting for a proposal or "ls" */
  PHASE_DONE,
};

/* The largest single reply: one message of CPC_MSS_MAX_MSG bytes. */
#define REPLY_MAX (CPC_VARINT_MAX_LEN + CPC_MSS_MAX_MSG)

static size_t out_room(const cpc_mss *m) {
  return sizeof m->out - m->out_len;
}

/* Queue <varint len+1><text>\n. The caller made sure there is room. */
static void queue_msg(cpc_mss *m, const char *text, size_t len) {
  size_t w = 0;
  (void)cpc_varint_encode(len + 1, m->out + m->out_len, out_room(m), &w);
  m->out_len += w;
  memcpy(m->out + m->out_len, text, len);
  m->out_len += len;
  m->out[m->out_len++] = '\n';
}

static void queue_str(cpc_mss *m, const char *s) {
  queue_msg(m, s, strlen(s));
}

/* The "ls" answer, listing as many protocols as fit in one message. */
static void queue_ls(cpc_mss *m) {
  uint8_t body[CPC_MSS_MAX_MSG];
  size_t n = 0, w = 0;
  for (size_t i = 0; i < m->n_protocols; i++) {
    size_t len = strlen(m->protocols[i]);
    /* room for varint, name, '\n', and the final '\n' */
    if (len + 1 + cpc_varint_len(len + 1) + 1 > sizeof body - n - 1)
      break;
    (void)cpc_varint_encode(len + 1, body + n, sizeof body - n, &w);
    n += w;
    memcpy(body + n, m->protocols[i], len);
    n += len;
    body[n++] = '\n';
  }
  /* body + '\n' is the message (queue_msg appends the '\n') */
  queue_msg(m, (const char *)body, n);
}

static int fail(cpc_mss *m, int rc) {
  m->state = CPC_MSS_FAILED;
  m->error = rc;
  m->phase = PHASE_DONE;
  return rc;
}

int cpc_mss_init(cpc_mss *m, enum cpc_mss_role role,
                 const char *const *protocols, size_t n) {
  memset(m, 0, offsetof(cpc_mss, in));
  m->state = CPC_MSS_FAILED;
  m->error = CPC_EINVAL;
  if ((role != CPC_MSS_DIALER && role != CPC_MSS_LISTENER) || n == 0 ||
      n > CPC_MSS_MAX_PROTOCOLS || !protocols)
    return CPC_EINVAL;
  for (size_t i = 0; i < n; i++) {
    const char *p = protocols[i];
    size_t len = p ? strlen(p) : 0;
    if (len == 0 || len > CPC_MSS_MAX_MSG - 1 || memchr(p, '\n', len) ||
        strcmp(p, "na") == 0 || strcmp(p, "ls") == 0)
      return CPC_EINVAL;
  }
  m->role = role;
  m->protocols = protocols;
  m->n_protocols = n;
  m->state = CPC_MSS_NEGOTIATING;
  m->error = 0;
  m->phase = PHASE_HEADER;
  queue_str(m, CPC_MSS_PROTOCOL_ID);
  if (role == CPC_MSS_DIALER)
    queue_str(m, protocols[0]);
  return 0;
}

static int is(const uint8_t *msg, size_t len, const char *s) {
  return strlen(s) == len && memcmp(msg, s, len) == 0;
}

/* Act on one complete message msg[0..len) (its '\n' already removed). */
static int handle(cpc_mss *m, const uint8_t *msg, size_t len) {
  switch (m->phase) {
  case PHASE_HEADER:
    if (!is(msg, len, CPC_MSS_PROTOCOL_ID))
      return fail(m, CPC_EPROTO);
    m->phase = m->role == CPC_MSS_DIALER ? PHASE_ANSWER : PHASE_PROPOSAL;
    return 0;
  case PHASE_ANSWER:
    if (is(msg, len, m->protocols[m->current])) {
      m->state = CPC_MSS_NEGOTIATED;
      m->phase = PHASE_DONE;
      return 0;
    }
    if (!is(msg, len, "na"))
      return fail(m, CPC_EPROTO);
    if (++m->current == m->n_protocols)
      return fail(m, CPC_EUNSUPPORTED);
    queue_str(m, m->protocols[m->current]);
    return 0;
  case PHASE_PROPOSAL:
    for (size_t i = 0; i < m->n_protocols; i++) {
      if (is(msg, len, m->protocols[i])) {
        queue_str(m, m->protocols[i]);
        m->current = i;
        m->state = CPC_MSS_NEGOTIATED;
        m->phase = PHASE_DONE;
        return 0;
      }
    }
    if (++m->attempts > CPC_MSS_MAX_ATTEMPTS)
      return fail(m, CPC_EPROTO);
    if (is(msg, len, "ls"))
      queue_ls(m);
    else
      queue_str(m, "na");
    return 0;
  }
  return fail(m, CPC_ESTATE);
}

int cpc_mss_feed(cpc_mss *m, const uint8_t *in, size_t len, size_t *consumed) {
  size_t used = 0;
  int rc = 0;

  if (m->state == CPC_MSS_FAILED) {
    rc = m->error;
    goto out;
  }
  while (used < len && m->phase != PHASE_DONE) {
    if (m->msg_len == 0) {
      uint64_t v;
      size_t vlen;
      /* A new message may need a reply: only start it if one fits. */
      if (m->in_len == 0) {
        if (m->out_off == m->out_len)
          m->out_off = m->out_len = 0;
        if (out_room(m) < REPLY_MAX)
          break;
      }
      m->in[m->in_len++] = in[used++];
      rc = cpc_varint_decode(m->in, m->in_len, &v, &vlen);
      if (rc == CPC_ETRUNC) {
        rc = 0;
        if (m->in_len < CPC_VARINT_MAX_LEN)
          continue;
        rc = CPC_EMALFORMED;
      }
      if (rc != 0) {
        rc = fail(m, rc);
        goto out;
      }
      if (v == 0 || v > CPC_MSS_MAX_MSG) {
        rc = fail(m, CPC_ETOOBIG);
        goto out;
      }
      m->hdr_len = vlen;
      m->msg_len = (size_t)v;
      continue;
    }
    size_t want = m->hdr_len + m->msg_len - m->in_len;
    size_t take = len - used < want ? len - used : want;
    memcpy(m->in + m->in_len, in + used, take);
    m->in_len += take;
    used += take;
    if (take < want)
      break;
    /* complete */
    const uint8_t *msg = m->in + m->hdr_len;
    size_t msg_len = m->msg_len;
    m->in_len = m->msg_len = m->hdr_len = 0;
    if (msg[msg_len - 1] != '\n') {
      rc = fail(m, CPC_EPROTO);
      goto out;
    }
    if ((rc = handle(m, msg, msg_len - 1)) != 0)
      goto out;
  }
out:
  *consumed = used;
  return rc;
}

size_t cpc_mss_output(const cpc_mss *m, const uint8_t **data) {
  *data = m->out + m->out_off;
  return m->out_len - m->out_off;
}

void cpc_mss_output_done(cpc_mss *m, size_t n) {
  size_t pending = m->out_len - m->out_off;
  m->out_off += n < pending ? n : pending;
}

enum cpc_mss_state cpc_mss_state(const cpc_mss *m) {
  return (enum cpc_mss_state)m->state;
}

const char *cpc_mss_protocol(const cpc_mss *m) {
  return m->state == CPC_MSS_NEGOTIATED ? m->protocols[m->current] : NULL;
}

int cpc_mss_error(const cpc_mss *m) {
  return m->state == CPC_MSS_FAILED ? m->error : 0;
}
