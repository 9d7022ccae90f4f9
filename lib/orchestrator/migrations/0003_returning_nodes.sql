-- 0003_returning_nodes: copies on a node that went offline, and surplus
-- copies (docs/adr/0003-scheduler.md, "Returning nodes and surplus").

-- 1 when a stored replica was marked lost only because its node went
-- offline: the node may still hold the block, so when it comes back the
-- replica is counted again (and a surplus copy is then deleted somewhere).
ALTER TABLE replicas ADD COLUMN lost_offline SMALLINT NOT NULL DEFAULT 0;
