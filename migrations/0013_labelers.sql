-- Labels as labelers sign them. A label row is the latest state of (src, uri, val): applied, or
-- negated (`neg`). `cid` pins it to one version of a record; `exp` ends it (both judged when a
-- label is read, not when it is stored). `raw` is the label exactly as received, signature
-- included (DAG-CBOR), so `queryLabels` serves what the labeler signed.
ALTER TABLE labels
    ADD COLUMN cid        TEXT,
    ADD COLUMN exp        TIMESTAMPTZ,
    ADD COLUMN raw        BYTEA,
    ADD COLUMN indexed_at TIMESTAMPTZ NOT NULL DEFAULT now();

-- Who applied or negated each of this service's own labels (operator takedowns), when and why.
CREATE TABLE label_actions (
    id          BIGSERIAL PRIMARY KEY,
    src         TEXT COLLATE "C" NOT NULL,
    uri         TEXT COLLATE "C" NOT NULL,
    val         TEXT NOT NULL,
    neg         BOOLEAN NOT NULL,
    reason      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX label_actions_subject_idx ON label_actions (uri, created_at);
