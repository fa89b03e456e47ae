-- Nearest-neighbour trigram indexes for actor and list search, as 0003 did for tracks. Ranking
-- every trigram match of a common word across 500,000 handles, 320,000 display names and 130,000
-- list names took seconds per query on the benchmark dataset; search now takes its candidates
-- from these ordered GiST scans (`q <<-> lower(col)`) and ranks only those.
CREATE INDEX actors_handle_knn ON actors USING gist (lower(handle) gist_trgm_ops);
CREATE INDEX bsky_profiles_name_knn ON bsky_profiles USING gist (lower(display_name) gist_trgm_ops);
CREATE INDEX lists_name_knn ON lists USING gist (lower(name) gist_trgm_ops) WHERE name IS NOT NULL;
