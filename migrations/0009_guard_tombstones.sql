-- The ordering guard keeps only tombstones. A live record's newest applied rev is already on its
-- own row (`tracks.rev`, `likes.rev`, ...), so `records` now holds just the records whose newest
-- applied op removed them (a delete, an invalid version, a purged account): the write path looks
-- a record up in its collection's table and in `records`, and a create no longer writes a second
-- row and index entry. On a 200,000-event replay that was 14 % of the statement time
-- (docs/BENCHMARKS.md). The rows dropped here are exactly the ones the typed tables hold.
DELETE FROM records WHERE NOT deleted;
