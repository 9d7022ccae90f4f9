-- 0003_returning_nodes: copies on a node that went offline and surplus
-- copies (docs/adr/0003-scheduler.md), and node addresses ready to dial.

-- 1 when a stored replica was marked lost only because its node went
-- offline: the node may still hold the block, so when it comes back the
-- replica is counted again (and a surplus copy is then deleted somewhere).
ALTER TABLE replicas ADD COLUMN lost_offline SMALLINT NOT NULL DEFAULT 0;

-- The node's addrs as a PDS dials them, each ending in /p2p/<peer_id>
-- (JSON array text, made at registration; '' for rows registered before,
-- which locate converts on the fly).
ALTER TABLE nodes ADD COLUMN dial_addrs TEXT NOT NULL DEFAULT '';
