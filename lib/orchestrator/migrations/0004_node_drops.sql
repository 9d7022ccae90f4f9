-- 0004_node_drops: drop orders for copies a node may still hold after the
-- orchestrator stopped tracking them (docs/adr/0003-scheduler.md, "Drop
-- orders"): the content was deleted while the node was offline, the node
-- went offline with delete work unconfirmed, or delete work was given up.

-- One row per (node, block). Carried out (as a deleting replica row plus
-- delete work) when the node's WorkStream is open, only if no active
-- content uses the block and the node has no replica row for it; while
-- the block is in use the order waits (due_at moves on). At most
-- scheduler.max_drops_per_node rows per node.
CREATE TABLE node_drops (
  node       TEXT NOT NULL REFERENCES nodes(peer_id) ON DELETE CASCADE,
  cid        TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  due_at     BIGINT NOT NULL,         -- not looked at before (ms)
  PRIMARY KEY (node, cid)
);
CREATE INDEX node_drops_due ON node_drops (node, due_at);
