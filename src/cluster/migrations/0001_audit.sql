-- tongban schema version 1: the audit chains of the cluster's gateways (contract sections 8, 9).
-- Never edit a migration once released: the gateway refuses a database whose applied migration
-- differs from its own copy. Change the schema with a new numbered file.

-- One row per audit record. `line` is the record's exact JSON line (without its newline), the
-- bytes whose SHA-256 is `hash` and the next record's `prev`; the other columns repeat what the
-- chain needs so that the schema itself can refuse forks and gaps.
CREATE TABLE tongban_audit (
    node text NOT NULL CHECK (node ~ '^[A-Za-z0-9._-]{1,64}$'),
    seq bigint NOT NULL CHECK (seq >= 1),
    ts timestamptz NOT NULL,
    prev text NOT NULL CHECK (prev ~ '^[0-9a-f]{64}$'),
    hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
    line text NOT NULL,
    -- the record this one follows (none for the first)
    parent_seq bigint GENERATED ALWAYS AS (CASE WHEN seq > 1 THEN seq - 1 END) STORED,
    CONSTRAINT tongban_audit_pkey PRIMARY KEY (node, seq),
    -- the first record, and only it, follows 64 zeros
    CONSTRAINT tongban_audit_genesis CHECK ((seq = 1) = (prev = repeat('0', 64))),
    -- no fork: a record has at most one successor
    CONSTRAINT tongban_audit_one_successor UNIQUE (node, prev),
    CONSTRAINT tongban_audit_link_target UNIQUE (node, seq, hash),
    -- no gap: every record but the first follows the record numbered one less, by its hash
    CONSTRAINT tongban_audit_follows FOREIGN KEY (node, parent_seq, prev)
        REFERENCES tongban_audit (node, seq, hash)
);

COMMENT ON TABLE tongban_audit IS
    'tongban audit records, one hash chain per gateway node; append-only (tongban audit verify --database)';

-- Append-only: records are never changed or removed by the gateway, and nobody else should.
CREATE FUNCTION tongban_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'tongban_audit is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER tongban_audit_no_update_or_delete
    BEFORE UPDATE OR DELETE ON tongban_audit
    FOR EACH ROW EXECUTE FUNCTION tongban_audit_append_only();

CREATE TRIGGER tongban_audit_no_truncate
    BEFORE TRUNCATE ON tongban_audit
    FOR EACH STATEMENT EXECUTE FUNCTION tongban_audit_append_only();

-- The statistics centre's counts (contract section 5), per day (Asia/Shanghai) and node, written
-- in the same statement as the records they count. Only what the figures count is here:
-- permitted exchanges and licence verifications.
CREATE TABLE tongban_daily_counts (
    day date NOT NULL,
    node text NOT NULL,
    kind text NOT NULL,
    decision text NOT NULL,
    caller_city text NOT NULL,
    item text NOT NULL,
    ltype text NOT NULL,
    n bigint NOT NULL CHECK (n >= 0),
    CONSTRAINT tongban_daily_counts_pkey
        PRIMARY KEY (day, node, kind, decision, caller_city, item, ltype)
);

-- Who holds each node's lease (an advisory lock held by the node's audit writer), for messages.
CREATE TABLE tongban_nodes (
    node text PRIMARY KEY CHECK (node ~ '^[A-Za-z0-9._-]{1,64}$'),
    holder text NOT NULL,
    since timestamptz NOT NULL
);
