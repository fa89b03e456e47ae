-- A list's totals over its indexed tracks, leaving out hidden accounts' tracks: how many,
-- their known durations (seconds), plays and likes, and the first cover among them in list
-- order. One definition for every reader of album and playlist totals (the Subsonic API);
-- plain SQL, so the planner inlines it into a LATERAL join.
CREATE FUNCTION list_totals(list TEXT)
RETURNS TABLE (songs BIGINT, duration BIGINT, plays BIGINT, likes BIGINT, image_url TEXT)
LANGUAGE sql STABLE AS $$
    SELECT count(*)::BIGINT, COALESCE(sum(t.duration), 0)::BIGINT,
           COALESCE(sum(s.plays), 0)::BIGINT, COALESCE(sum(s.likes), 0)::BIGINT,
           (array_agg(t.image_url ORDER BY li.position) FILTER (WHERE t.image_url IS NOT NULL))[1]
      FROM list_items li
      JOIN tracks t ON t.uri = li.subject_uri
      LEFT JOIN subject_stats s ON s.subject_uri = t.uri
     WHERE li.list_uri = list
       AND NOT EXISTS (SELECT 1 FROM actors a WHERE a.did = t.did AND a.hidden)
$$;
