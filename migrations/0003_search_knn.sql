-- Nearest-neighbour trigram indexes for track search. A common word shares trigrams with tens of
-- thousands of titles, and ranking every one of them took 200-520 ms per query on the benchmark
-- dataset (1,000,000 tracks). Search now takes its candidates from these indexes, the few hundred
-- titles and artists nearest to the query by word similarity (`q <<-> lower(col)`, an ordered
-- GiST scan), and ranks only those.
CREATE INDEX tracks_title_knn ON tracks USING gist (lower(title) gist_trgm_ops);
CREATE INDEX tracks_artist_knn ON tracks USING gist (lower(artist) gist_trgm_ops);
