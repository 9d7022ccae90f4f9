-- 0002_scheduler: what the replication/audit scheduler needs beyond 0001
-- (docs/adr/0003-scheduler.md).

-- Bytes a replica will take on its node (placement counts pending ones).
ALTER TABLE replicas ADD COLUMN size BIGINT NOT NULL DEFAULT 0;

-- How many times a piece of work was (re-)sent; past the limit it fails.
ALTER TABLE work ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;

-- When the node was last given an audit challenge (ms).
ALTER TABLE nodes ADD COLUMN last_audit_at BIGINT NOT NULL DEFAULT 0;

-- Free space the node last reported in a heartbeat (-1: none yet).
ALTER TABLE nodes ADD COLUMN free_bytes BIGINT NOT NULL DEFAULT -1;

-- Where the first copies come from: JSON array of the uploading PDS's
-- multiaddrs (each ending in /p2p/<peer id>), given at registration.
ALTER TABLE content ADD COLUMN origin TEXT NOT NULL DEFAULT '[]';

-- Pre-generated audit challenges, supplied by the PDS when it registers
-- content (it alone sees the block bytes): BLAKE3 keyed by nonce (32 bytes)
-- over bytes [offset_, offset_ + length) of block cid gives expected (32
-- bytes). Each token is used once (used = 1 when handed out).
CREATE TABLE audit_tokens (
  token_id   BIGINT PRIMARY KEY,       -- random 63-bit id
  content_id TEXT NOT NULL REFERENCES content(content_id) ON DELETE CASCADE,
  cid        TEXT NOT NULL,
  offset_    BIGINT NOT NULL CHECK (offset_ >= 0),
  length     BIGINT NOT NULL CHECK (length > 0),
  nonce      BYTEA NOT NULL,
  expected   BYTEA NOT NULL,
  used       SMALLINT NOT NULL DEFAULT 0,
  used_at    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX audit_tokens_by_cid ON audit_tokens (cid, used);

-- Blocks whose replica count may have dropped (node offline, failed audit,
-- corrupt report): the scheduler looks at these first, before its sweep.
CREATE TABLE repair_queue (
  cid       TEXT PRIMARY KEY,
  queued_at BIGINT NOT NULL
);
CREATE INDEX repair_queue_by_time ON repair_queue (queued_at);
