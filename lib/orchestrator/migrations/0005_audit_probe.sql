-- 0005_audit_probe: audit challenges pick one of a node's stored replicas
-- by probing its cids at a random point (O(log n) a pick, not a scan of
-- every replica the node holds; docs/adr/0003-scheduler.md). The new
-- index serves every query the one it replaces served.
CREATE INDEX replicas_by_node_cid ON replicas (node, state, cid);
DROP INDEX replicas_by_node;
