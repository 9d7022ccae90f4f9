-- 0001_initial: the orchestrator's whole data model (DESIGN.md sections 4, 6).
-- Portable SQL subset of include/cpc/sql.h: BIGINT milliseconds for times,
-- SMALLINT 0/1 for flags, BYTEA for binary, ids made by the application.

-- Identities: one row per user (secp256k1 PeerId, 16Uiu2...).
CREATE TABLE users (
  peer_id            TEXT PRIMARY KEY,
  signing_public_key BYTEA NOT NULL,   -- libp2p PublicKey protobuf
  encryption_key     BYTEA NOT NULL,   -- X25519 public key, 32 bytes
  binding_signature  BYTEA NOT NULL,   -- secp256k1 signature binding it
  created_at         BIGINT NOT NULL
);

CREATE TABLE profiles (
  peer_id      TEXT PRIMARY KEY REFERENCES users(peer_id) ON DELETE CASCADE,
  display_name TEXT NOT NULL DEFAULT '',
  bio          TEXT NOT NULL DEFAULT '',
  avatar_cid   TEXT,
  updated_at   BIGINT NOT NULL
);

-- The follow graph: follower follows followee.
CREATE TABLE follows (
  follower   TEXT NOT NULL REFERENCES users(peer_id) ON DELETE CASCADE,
  followee   TEXT NOT NULL REFERENCES users(peer_id) ON DELETE CASCADE,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (follower, followee),
  CHECK (follower <> followee)
);
CREATE INDEX follows_by_followee ON follows (followee, follower);

-- Content metadata. access_control: 0 Public, 1 FollowersOnly, 2 Private.
-- state: 0 active, 1 deleting (replicas being removed), 2 deleted.
CREATE TABLE content (
  content_id       TEXT PRIMARY KEY,   -- CIDv1 base32 of the encrypted manifest
  owner            TEXT NOT NULL REFERENCES users(peer_id) ON DELETE CASCADE,
  size             BIGINT NOT NULL CHECK (size >= 0),
  created_at       BIGINT NOT NULL,
  registered_at    BIGINT NOT NULL,
  access_control   SMALLINT NOT NULL CHECK (access_control IN (0, 1, 2)),
  replicas_desired INTEGER NOT NULL DEFAULT 3 CHECK (replicas_desired BETWEEN 1 AND 16),
  name             TEXT NOT NULL DEFAULT '',
  description      TEXT NOT NULL DEFAULT '',
  clear_key        BYTEA,              -- Public only: the content key in clear
  state            SMALLINT NOT NULL DEFAULT 0,
  CHECK ((access_control = 0) = (clear_key IS NOT NULL))
);
CREATE INDEX content_by_owner ON content (owner, created_at);
CREATE INDEX content_by_name ON content (name);

CREATE TABLE content_tags (
  content_id TEXT NOT NULL REFERENCES content(content_id) ON DELETE CASCADE,
  tag        TEXT NOT NULL,
  PRIMARY KEY (content_id, tag)
);
CREATE INDEX content_tags_by_tag ON content_tags (tag, content_id);

-- The content key sealed (crypto_box_seal) for each reader's X25519 key.
CREATE TABLE wrapped_keys (
  content_id TEXT NOT NULL REFERENCES content(content_id) ON DELETE CASCADE,
  reader     TEXT NOT NULL,            -- PeerId of the reader
  sealed_key BYTEA NOT NULL,
  PRIMARY KEY (content_id, reader)
);

-- Every block of a content (encrypted chunks, manifest pages, the root
-- manifest itself). idx orders them; the root manifest is idx 0.
CREATE TABLE chunks (
  content_id TEXT NOT NULL REFERENCES content(content_id) ON DELETE CASCADE,
  idx        INTEGER NOT NULL,
  cid        TEXT NOT NULL,            -- CIDv1 base32 (raw, blake3)
  size       BIGINT NOT NULL CHECK (size >= 0),
  PRIMARY KEY (content_id, idx)
);
CREATE INDEX chunks_by_cid ON chunks (cid);

-- Provider nodes (Ed25519 PeerId, 12D3KooW...).
-- state: 0 vetting, 1 active, 2 offline, 3 disqualified, 4 left.
CREATE TABLE nodes (
  peer_id            TEXT PRIMARY KEY,
  public_key         BYTEA NOT NULL,   -- libp2p PublicKey protobuf
  addrs              TEXT NOT NULL,    -- JSON array of multiaddr strings
  capacity_bytes     BIGINT NOT NULL CHECK (capacity_bytes >= 0),
  used_bytes         BIGINT NOT NULL DEFAULT 0,
  bandwidth_bps      BIGINT NOT NULL DEFAULT 0,
  region             TEXT NOT NULL DEFAULT '',  -- failure domain
  state              SMALLINT NOT NULL DEFAULT 0,
  state_reason       TEXT NOT NULL DEFAULT '',
  commitment         BYTEA NOT NULL,   -- the signed resource commitment as sent
  registered_at      BIGINT NOT NULL,
  last_heartbeat     BIGINT NOT NULL,
  audits_passed      INTEGER NOT NULL DEFAULT 0,
  audits_failed      INTEGER NOT NULL DEFAULT 0,
  audit_score        DOUBLE PRECISION NOT NULL DEFAULT 1.0
);
CREATE INDEX nodes_by_state ON nodes (state, region);

-- The replica map: which node holds (or is to hold) which block.
-- state: 0 pending (work sent), 1 stored (confirmed), 2 lost, 3 deleting.
CREATE TABLE replicas (
  cid        TEXT NOT NULL,
  node       TEXT NOT NULL REFERENCES nodes(peer_id) ON DELETE CASCADE,
  state      SMALLINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (cid, node)
);
CREATE INDEX replicas_by_node ON replicas (node, state);

-- Work for nodes, persisted so a restart resumes it.
-- kind: 0 replicate, 1 delete, 2 audit. state: 0 queued, 1 sent, 2 done, 3 failed.
CREATE TABLE work (
  work_id    BIGINT PRIMARY KEY,        -- random 63-bit id
  node       TEXT NOT NULL REFERENCES nodes(peer_id) ON DELETE CASCADE,
  kind       SMALLINT NOT NULL,
  cid        TEXT NOT NULL,
  detail     TEXT NOT NULL DEFAULT '',  -- JSON: sources, audit range, ...
  state      SMALLINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  deadline   BIGINT NOT NULL
);
CREATE INDEX work_by_node ON work (node, state, created_at);
CREATE INDEX work_by_state ON work (state, deadline);

-- Audits: a random byte range of a stored block and the expected answer.
CREATE TABLE audits (
  audit_id   BIGINT PRIMARY KEY,
  node       TEXT NOT NULL REFERENCES nodes(peer_id) ON DELETE CASCADE,
  cid        TEXT NOT NULL,
  offset_    BIGINT NOT NULL,
  length     BIGINT NOT NULL,
  nonce      BYTEA NOT NULL,
  expected   BYTEA NOT NULL,           -- BLAKE3 keyed by nonce over the range
  vetting    SMALLINT NOT NULL DEFAULT 0,
  state      SMALLINT NOT NULL DEFAULT 0,  -- 0 open, 1 passed, 2 failed
  created_at BIGINT NOT NULL,
  deadline   BIGINT NOT NULL
);
CREATE INDEX audits_by_state ON audits (state, deadline);

-- Request nonces seen (REST replay protection shared by all instances).
CREATE TABLE request_nonces (
  peer_id    TEXT NOT NULL,
  nonce      TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (peer_id, nonce)
);
CREATE INDEX request_nonces_by_expiry ON request_nonces (expires_at);
