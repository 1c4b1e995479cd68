-- tongban schema version 3: every node of a cluster has the same secrets (contract section 9).
-- Never edit a migration once released; change the schema with a new numbered file.

-- A check value of each secret (HMAC-SHA256 of a fixed text under the key, hex: it tells nothing
-- of the key) as the first gateway to start recorded it. A gateway whose own differs refuses to
-- start: its masked values and keyed hashes would differ from the other nodes'. To change the
-- keys of a cluster, stop every gateway, delete these rows, start them with the new keys.
CREATE TABLE tongban_secrets (
    name text PRIMARY KEY,
    check_value text NOT NULL,
    node text NOT NULL,
    since timestamptz NOT NULL DEFAULT now()
);
