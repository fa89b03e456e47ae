-- Room on each page for the write path's frequent updates of the same rows: an actor's repo rev
-- and update time move with every batch that carries one of its commits, and its counters with
-- every like, track or list it makes. With full pages almost none of these updates were HOT
-- (1 % on a 200,000-event replay), so each also wrote new entries into every index of the table
-- (for actors: two trigram indexes). Space left free lets the new row version stay on its page.
-- Applies to pages written from now on; existing ones follow as they are rewritten.
ALTER TABLE actors SET (fillfactor = 50);
ALTER TABLE actor_stats SET (fillfactor = 50);
