-- tongban schema version 2: rate limits held for the whole cluster (contract sections 4, 9).
-- Never edit a migration once released; change the schema with a new numbered file.

-- One bucket per calling organisation and item, as a GCRA: `tat` is the theoretical arrival time
-- (seconds since the Unix epoch, by the database's clock) of the next request that finds the
-- bucket full. UNLOGGED: a bucket is not worth a WAL write; after a crash of the database the
-- table is empty and every bucket starts full, which a row whose `tat` has passed also means.
CREATE UNLOGGED TABLE tongban_rate (
    org text NOT NULL,
    item text NOT NULL,
    tat double precision NOT NULL,
    CONSTRAINT tongban_rate_pkey PRIMARY KEY (org, item)
);

-- Takes one request from the bucket of (`p_org`, `p_item`) of `p_count` requests that refills at
-- `p_count` per `p_period` seconds: the token bucket of contract section 4. Returns 0 when the
-- request may pass, else the seconds until it would. One call is one decision; concurrent calls
-- for one bucket queue on its row.
CREATE FUNCTION tongban_rate_take(p_org text, p_item text, p_count integer, p_period double precision)
RETURNS double precision
LANGUAGE plpgsql AS $$
DECLARE
    step constant double precision := p_period / p_count;
    tolerance constant double precision := step * (p_count - 1);
    t_now constant double precision := extract(epoch FROM clock_timestamp());
    t_tat double precision;
BEGIN
    INSERT INTO tongban_rate AS r (org, item, tat) VALUES (p_org, p_item, t_now + step)
    ON CONFLICT (org, item) DO UPDATE
        SET tat = greatest(r.tat, t_now) + step
        WHERE greatest(r.tat, t_now) - t_now <= tolerance;
    IF FOUND THEN
        RETURN 0;
    END IF;
    -- refused: the upsert above locked the row, so this reads its latest value
    SELECT r.tat INTO t_tat FROM tongban_rate r WHERE r.org = p_org AND r.item = p_item;
    RETURN greatest(coalesce(t_tat, t_now) - t_now - tolerance, step / 1000);
END
$$;

-- A row whose `tat` has passed is a full bucket, the same as no row: such rows can go at any time.
CREATE FUNCTION tongban_rate_sweep() RETURNS bigint
LANGUAGE sql AS $$
    WITH gone AS (
        DELETE FROM tongban_rate WHERE tat < extract(epoch FROM clock_timestamp()) RETURNING 1
    )
    SELECT count(*) FROM gone
$$;
