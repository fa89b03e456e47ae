-- The live pipeline applies each batch as several transactions at once, one per partition of the
-- batch's DIDs (events of one DID stay in order in one partition). Each transaction stores the
-- batch's cursor under its partition number, and a source resumes from the oldest of its
-- partitions' cursors: anything past it that another partition had already committed is stale
-- when it comes round again, and the write path ignores it.
ALTER TABLE cursors ADD COLUMN part SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE cursors DROP CONSTRAINT cursors_pkey;
ALTER TABLE cursors ADD PRIMARY KEY (source, part);
