#!/usr/bin/env node
// Drive the appview's Subsonic API with the `subsonic-api` npm client and check what it reads.
//
// Usage: node subsonic-check.mjs --base http://127.0.0.1:PORT --expect expect.json
//
// The expectation file is written by the Rust test (same keys as tests/py/subsonic_check.py:
// handle, did, artist_name, artist_count, album_id, album_name, album_song_ids, album_count,
// song_id, song_title, audio_url, cover_url, playlist_id, playlist_name, playlist_song_ids,
// starred_song_ids, search_query, search_song_id, gated_song_id, newest_album_id, password).
//
// `new SubsonicAPI({ url, auth: { username, password } })` sends GET /rest/<method>.view with
// f=json, v=1.16.1, c=subsonic-api and token auth (u, t = md5(password + salt), s = a fresh
// 22-character base64url salt per request). Its JSON methods return the "subsonic-response"
// object without looking at status, and turn created/changed/starred strings into Date objects;
// stream/download/getCoverArt return the raw fetch Response. We give it a fetch that never
// follows redirects, because stream/download/getCoverArt answer 302 to audio/image hosts that
// are not ours.
//
// The scripted session (ping, getLicense, getOpenSubsonicExtensions, getMusicFolders,
// getArtists, getIndexes, getArtist, getArtistInfo2, getAlbum, getAlbumInfo2, getAlbumList2
// for every type plus paging, getSong, getRandomSongs, search3, getPlaylists, getPlaylist,
// getStarred2, getGenres, getUser, getNowPlaying, stream/download/getCoverArt redirects, the
// gated stream (50), errors 10/70/0, read-only writes (50)) checks the envelope of every
// answer (status, version 1.16.1, type plyr-appview, serverVersion, openSubsonic true), and
// then: the same client in POST mode (formPost), apiKey auth (when the server has no
// password) or a wrong password (40, when it has one), u = the DID, and an anonymous user.
//
// Prints one line per step passed; on the first wrong fact prints
// `FAIL: [client] step "...": what was wrong` and exits 1.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SubsonicAPI } from 'subsonic-api';

const API_VERSION = '1.16.1';
const SERVER_TYPE = 'plyr-appview';
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const COVER_ART = /^(tr|al|ar|pl)-.+$/;
const READ_ONLY = /read[- ]?only/i;
const USER_FLAGS = ['scrobblingEnabled', 'adminRole', 'settingsRole', 'downloadRole', 'uploadRole',
  'playlistRole', 'coverArtRole', 'commentRole', 'podcastRole', 'streamRole', 'jukeboxRole',
  'shareRole', 'videoConversionRole'];
const ALBUM_LIST_TYPES = ['newest', 'random', 'frequent', 'highest', 'alphabeticalByName',
  'alphabeticalByArtist', 'byYear'];
const EXPECT_KEYS = ['handle', 'did', 'artist_name', 'artist_count', 'album_id', 'album_name',
  'album_song_ids', 'album_count', 'song_id', 'song_title', 'audio_url', 'cover_url',
  'playlist_id', 'playlist_name', 'playlist_song_ids', 'starred_song_ids', 'search_query',
  'search_song_id', 'gated_song_id', 'newest_album_id', 'password'];

class CheckFailed extends Error {}

/** The server answered status="failed". */
class Failed extends Error {
  constructor(code, message) {
    super(`status=failed code=${code} message=${JSON.stringify(message)}`);
    this.code = code;
    this.serverMessage = message;
  }
}

function fail(message) {
  throw new CheckFailed(message);
}

const show = (v) => {
  const s = v instanceof Date ? v.toISOString() : JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 160 ? `${s.slice(0, 160)}...` : s;
};

function expectEqual(actual, expected, what) {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    fail(`${what}: expected ${show(expected)}, got ${show(actual)}`);
  }
}

// --- typed field access ------------------------------------------------------------------

const KIND_OK = {
  str: (v) => typeof v === 'string' && v !== '',
  int: (v) => Number.isInteger(v),
  num: (v) => typeof v === 'number' && Number.isFinite(v),
  bool: (v) => typeof v === 'boolean',
  // subsonic-api revives some time fields into Date objects (Invalid Date if unparseable).
  time: (v) => (v instanceof Date ? !Number.isNaN(v.getTime()) : typeof v === 'string' && ISO_TIME.test(v)),
  obj: (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
  list: (v) => Array.isArray(v),
};

function field(obj, key, kind, where, optional = false) {
  if (!KIND_OK.obj(obj)) fail(`${where} should be an object, got ${show(obj)}`);
  if (!(key in obj)) {
    if (optional) return undefined;
    fail(`${where} has no "${key}" (it has: ${Object.keys(obj).sort().join(', ')})`);
  }
  const v = obj[key];
  if (!KIND_OK[kind](v)) fail(`${where}.${key} should be ${kind === 'time' ? 'an ISO 8601 time' : kind}, got ${show(v)}`);
  return v;
}

/** A list member that may be absent (Subsonic JSON omits empty arrays). */
function items(obj, key, where) {
  return field(obj, key, 'list', where, true) ?? [];
}

// --- envelopes ---------------------------------------------------------------------------

function checkEnvelope(res, what) {
  if (!KIND_OK.obj(res)) fail(`${what}: no "subsonic-response" object in the answer, got ${show(res)}`);
  expectEqual(res.version, API_VERSION, 'envelope version');
  expectEqual(res.type, SERVER_TYPE, 'envelope type');
  expectEqual(res.openSubsonic, true, 'envelope openSubsonic');
  if (!KIND_OK.str(res.serverVersion)) fail(`envelope serverVersion should be a non-empty string, got ${show(res.serverVersion)}`);
  if (res.status === 'failed') {
    if (!KIND_OK.obj(res.error) || !Number.isInteger(res.error.code) || typeof res.error.message !== 'string') {
      fail(`failed envelope needs error {code: int, message: string}, got ${show(res.error)}`);
    }
    throw new Failed(res.error.code, res.error.message);
  }
  if (res.status !== 'ok') fail(`envelope status should be ok or failed, got ${show(res.status)}`);
  return res;
}

/** A client wrapper: every JSON answer is envelope-checked; binary methods return the redirect target. */
function makeClient(base, auth, extra = {}) {
  let last = null; // the last HTTP response, to check status and Content-Type
  const api = new SubsonicAPI({
    url: base,
    auth,
    fetch: async (url, init) => {
      last = null;
      try {
        last = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(30_000) });
      } catch (e) {
        fail(`request to ${String(url).split('?')[0]} failed: ${e.message}${e.cause ? ` (${e.cause.message ?? e.cause})` : ''}`);
      }
      return last;
    },
    ...extra,
  });
  const json = async (what, promise) => {
    let res;
    try {
      res = await promise;
    } catch (e) {
      if (e instanceof CheckFailed) throw e;
      fail(`${what}: the client could not read the answer (HTTP ${last?.status} ${last?.headers.get('content-type')}): ${e.message}`);
    }
    if (last.status !== 200) fail(`${what}: HTTP ${last.status}, Subsonic answers (errors too) must be HTTP 200`);
    const ctype = last.headers.get('content-type') ?? '';
    if (!ctype.includes('json')) fail(`${what}: Content-Type ${show(ctype)} for f=json`);
    return checkEnvelope(res, what);
  };
  const redirect = async (what, promise) => {
    const r = await promise;
    if (r.status >= 300 && r.status < 400) {
      const location = r.headers.get('location');
      if (!location) fail(`${what}: HTTP ${r.status} without a Location header`);
      return location;
    }
    const ctype = r.headers.get('content-type') ?? '';
    if (r.status === 200 && ctype.includes('json')) {
      const body = await r.json();
      checkEnvelope(body['subsonic-response'], what);
      fail(`${what}: expected a redirect, got an ok JSON envelope`);
    }
    fail(`${what}: expected a redirect, got HTTP ${r.status} ${show(ctype)}`);
  };
  const call = (name) => (args) => json(name, api[name](args));
  const wrapped = {};
  for (const name of ['ping', 'getLicense', 'getOpenSubsonicExtensions', 'getMusicFolders', 'getIndexes',
    'getArtists', 'getArtist', 'getArtistInfo2', 'getAlbum', 'getAlbumInfo2', 'getAlbumList2', 'getSong',
    'getRandomSongs', 'search3', 'getPlaylists', 'getPlaylist', 'getStarred2', 'getGenres', 'getUser',
    'getNowPlaying', 'star', 'scrobble', 'createPlaylist']) {
    wrapped[name] = call(name);
  }
  for (const name of ['stream', 'download', 'getCoverArt']) {
    wrapped[name] = (args) => redirect(name, api[name](args));
  }
  wrapped.unknown = (method) => json(method, api.customJSON(method, {}));
  return wrapped;
}

// --- shapes the client reads -------------------------------------------------------------

function checkChild(c, where) {
  field(c, 'id', 'str', where);
  expectEqual(field(c, 'isDir', 'bool', where), false, `${where}.isDir`);
  for (const key of ['title', 'artist', 'suffix', 'artistId']) field(c, key, 'str', where);
  if (!field(c, 'contentType', 'str', where).includes('/')) fail(`${where}.contentType should be a MIME type, got ${show(c.contentType)}`);
  if (!COVER_ART.test(field(c, 'coverArt', 'str', where))) fail(`${where}.coverArt should be tr-/al-/ar-/pl-<id>, got ${show(c.coverArt)}`);
  field(c, 'duration', 'int', where);
  field(c, 'playCount', 'int', where);
  field(c, 'created', 'time', where);
  expectEqual(field(c, 'type', 'str', where), 'music', `${where}.type`);
  for (const key of ['parent', 'album', 'albumId']) field(c, key, 'str', where, true);
  field(c, 'year', 'int', where, true);
  field(c, 'starred', 'time', where, true);
  return c.id;
}

function checkAlbum(a, where) {
  if (!UUID.test(field(a, 'id', 'str', where))) fail(`${where}.id should be a UUID, got ${show(a.id)}`);
  for (const key of ['name', 'artist', 'artistId']) field(a, key, 'str', where);
  if (!COVER_ART.test(field(a, 'coverArt', 'str', where))) fail(`${where}.coverArt should be al-<id> or similar, got ${show(a.coverArt)}`);
  for (const key of ['songCount', 'duration', 'playCount']) field(a, key, 'int', where);
  field(a, 'created', 'time', where);
  field(a, 'year', 'int', where, true);
  return a.id;
}

function checkArtist(a, where, id3 = true) {
  if (!field(a, 'id', 'str', where).startsWith('did:')) fail(`${where}.id should be the account DID, got ${show(a.id)}`);
  field(a, 'name', 'str', where);
  if (id3) {
    field(a, 'albumCount', 'int', where);
    field(a, 'coverArt', 'str', where, true);
  }
  return a.id;
}

function checkPlaylist(p, where) {
  if (!UUID.test(field(p, 'id', 'str', where))) fail(`${where}.id should be a UUID, got ${show(p.id)}`);
  field(p, 'name', 'str', where);
  field(p, 'owner', 'str', where);
  field(p, 'public', 'bool', where);
  field(p, 'songCount', 'int', where);
  field(p, 'duration', 'int', where);
  field(p, 'created', 'time', where);
  field(p, 'changed', 'time', where);
  field(p, 'coverArt', 'str', where, true);
  return p.id;
}

function albumList(res, where) {
  const body = field(res, 'albumList2', 'obj', where);
  return items(body, 'album', where).map((a, i) => ({ id: checkAlbum(a, `${where}.album[${i}]`), album: a }));
}

/** call() must answer status=failed with a code in `codes` (null: any code). */
async function expectFailure(call, codes, what) {
  let result;
  try {
    result = await call();
  } catch (e) {
    if (!(e instanceof Failed)) throw e;
    if (codes && !codes.includes(e.code)) fail(`${what}: expected error code ${codes}, got ${e.code} (${show(e.serverMessage)})`);
    return e;
  }
  fail(`${what}: expected status=failed${codes ? ` with code ${codes}` : ''}, but it succeeded: ${show(result)}`);
}

let passed = 0;
async function step(label, name, body) {
  try {
    await body();
  } catch (e) {
    const why = e instanceof CheckFailed ? e.message
      : e instanceof Failed ? `server answered ${e.message}`
        : `${e.name}: ${e.message}${e.cause ? ` (${e.cause.message ?? e.cause})` : ''}`;
    throw new CheckFailed(`[${label}] step "${name}": ${why}`);
  }
  passed += 1;
  console.log(`ok  [${label}] ${name}`);
}

// --- the scripted session ----------------------------------------------------------------

async function runSession(api, exp, label) {
  const S = (name, body) => step(label, name, body);

  await S('ping', () => api.ping());

  await S('getLicense', async () => {
    const lic = field(await api.getLicense(), 'license', 'obj', 'response');
    expectEqual(field(lic, 'valid', 'bool', 'license'), true, 'license.valid');
  });

  await S('getOpenSubsonicExtensions', async () => {
    const exts = field(await api.getOpenSubsonicExtensions(), 'openSubsonicExtensions', 'list', 'response');
    exts.forEach((ext, i) => {
      field(ext, 'name', 'str', `openSubsonicExtensions[${i}]`);
      field(ext, 'versions', 'list', `openSubsonicExtensions[${i}]`).forEach((v, j) => {
        if (!Number.isInteger(v)) fail(`openSubsonicExtensions[${i}].versions[${j}] should be an integer, got ${show(v)}`);
      });
    });
  });

  await S('getMusicFolders', async () => {
    const folders = items(field(await api.getMusicFolders(), 'musicFolders', 'obj', 'response'), 'musicFolder', 'musicFolders');
    const ids = folders.map((m, i) => field(m, 'id', 'int', `musicFolder[${i}]`));
    folders.forEach((m, i) => field(m, 'name', 'str', `musicFolder[${i}]`));
    if (!ids.includes(1)) fail(`music folder 1 missing, got ids ${show(ids)}`);
  });

  await S(`getArtists: ${exp.artist_count} artists, ${exp.did} among them`, async () => {
    const body = field(await api.getArtists(), 'artists', 'obj', 'response');
    if (typeof body.ignoredArticles !== 'string') fail(`artists.ignoredArticles should be a string, got ${show(body.ignoredArticles)}`);
    const artists = [];
    items(body, 'index', 'artists').forEach((index, i) => {
      field(index, 'name', 'str', `artists.index[${i}]`);
      items(index, 'artist', `artists.index[${i}]`).forEach((a, j) => {
        checkArtist(a, `artists.index[${i}].artist[${j}]`);
        artists.push(a);
      });
    });
    expectEqual(artists.length, exp.artist_count, 'number of artists over all indexes');
    if (new Set(artists.map((a) => a.id)).size !== artists.length) fail('an artist id appears twice in getArtists');
    const ours = artists.find((a) => a.id === exp.did);
    if (!ours) fail(`artist ${exp.did} missing from getArtists`);
    expectEqual(ours.name, exp.artist_name, 'our artist name in getArtists');
  });

  await S('getIndexes', async () => {
    const body = field(await api.getIndexes(), 'indexes', 'obj', 'response');
    field(body, 'lastModified', 'int', 'indexes');
    if (typeof body.ignoredArticles !== 'string') fail(`indexes.ignoredArticles should be a string, got ${show(body.ignoredArticles)}`);
    const ids = [];
    items(body, 'index', 'indexes').forEach((index, i) => {
      field(index, 'name', 'str', `indexes.index[${i}]`);
      items(index, 'artist', `indexes.index[${i}]`).forEach((a, j) => ids.push(checkArtist(a, `indexes.index[${i}].artist[${j}]`, false)));
    });
    if (!ids.includes(exp.did)) fail(`artist ${exp.did} missing from getIndexes`);
  });

  await S(`getArtist ${exp.did} lists album ${exp.album_id}`, async () => {
    const artist = field(await api.getArtist({ id: exp.did }), 'artist', 'obj', 'response');
    checkArtist(artist, 'artist');
    expectEqual(artist.id, exp.did, 'artist.id');
    expectEqual(artist.name, exp.artist_name, 'artist.name');
    field(artist, 'coverArt', 'str', 'artist');
    const albums = items(artist, 'album', 'artist').map((a, i) => checkAlbum(a, `artist.album[${i}]`));
    expectEqual(artist.albumCount, albums.length, 'artist.albumCount vs its albums');
    if (!albums.includes(exp.album_id)) fail(`album ${exp.album_id} not among the artist's albums ${show(albums)}`);
  });

  await S('getArtistInfo2', async () => {
    const info = field(await api.getArtistInfo2({ id: exp.did }), 'artistInfo2', 'obj', 'response');
    for (const key of ['biography', 'smallImageUrl', 'mediumImageUrl', 'largeImageUrl', 'lastFmUrl', 'musicBrainzId']) {
      if (key in info && typeof info[key] !== 'string') fail(`artistInfo2.${key} should be a string, got ${show(info[key])}`);
    }
  });

  await S(`getAlbum ${exp.album_id}: "${exp.album_name}", songs ${show(exp.album_song_ids)}`, async () => {
    const album = field(await api.getAlbum({ id: exp.album_id }), 'album', 'obj', 'response');
    checkAlbum(album, 'album');
    expectEqual(album.id, exp.album_id, 'album.id');
    expectEqual(album.name, exp.album_name, 'album.name');
    expectEqual(album.artistId, exp.did, 'album.artistId');
    const songs = items(album, 'song', 'album').map((s, i) => checkChild(s, `album.song[${i}]`));
    expectEqual(songs, exp.album_song_ids, 'album song ids in order');
    expectEqual(album.songCount, songs.length, 'album.songCount vs its songs');
  });

  await S('getAlbumInfo2', async () => {
    const info = field(await api.getAlbumInfo2({ id: exp.album_id }), 'albumInfo', 'obj', 'response');
    if ('notes' in info && typeof info.notes !== 'string') fail(`albumInfo.notes should be a string, got ${show(info.notes)}`);
  });

  for (const type of ALBUM_LIST_TYPES) {
    await S(`getAlbumList2 type=${type}`, async () => {
      const years = type === 'byYear' ? { fromYear: 1900, toYear: 2100 } : {};
      const albums = albumList(await api.getAlbumList2({ type, size: 50, ...years }), 'albumList2');
      if (type === 'newest') {
        if (albums.length === 0) fail('newest list is empty');
        expectEqual(albums[0].id, exp.newest_album_id, 'first newest album');
      }
    });
  }

  const pageSize = Math.min(500, Math.max(1, Math.ceil(exp.album_count / 3)));
  await S(`getAlbumList2 alphabeticalByName paged by ${pageSize}: ${exp.album_count} albums, sorted`, async () => {
    const seen = [];
    let offset = 0;
    let ended = false;
    for (let n = 0; n < Math.floor(exp.album_count / pageSize) + 2; n += 1) {
      const page = albumList(await api.getAlbumList2({ type: 'alphabeticalByName', size: pageSize, offset }), `albumList2(offset=${offset})`);
      if (page.length > pageSize) fail(`asked for ${pageSize} albums, got ${page.length}`);
      seen.push(...page);
      offset += pageSize;
      if (page.length < pageSize) {
        ended = true;
        break;
      }
    }
    if (!ended) fail('paging never returned a short page');
    expectEqual(seen.length, exp.album_count, 'albums over all pages');
    if (new Set(seen.map((a) => a.id)).size !== seen.length) fail('an album appears on two pages');
    const names = seen.map((a) => a.album.name);
    for (let i = 1; i < names.length; i += 1) {
      if (names[i - 1].toLowerCase() > names[i].toLowerCase()) {
        fail(`not sorted by name (case-insensitive): ${show(names[i - 1])} before ${show(names[i])}`);
      }
    }
  });

  await S('getAlbumList2 errors: no type -> 10, byYear without years -> 10, unknown type -> failed', async () => {
    await expectFailure(() => api.getAlbumList2({}), [10], 'getAlbumList2 without type');
    await expectFailure(() => api.getAlbumList2({ type: 'byYear' }), [10], 'byYear without fromYear/toYear');
    await expectFailure(() => api.getAlbumList2({ type: 'notAListType' }), null, 'unknown list type');
  });

  await S(`getSong ${exp.song_id}: "${exp.song_title}"`, async () => {
    const song = field(await api.getSong({ id: exp.song_id }), 'song', 'obj', 'response');
    checkChild(song, 'song');
    expectEqual(song.id, exp.song_id, 'song.id');
    expectEqual(song.title, exp.song_title, 'song.title');
  });

  await S('getRandomSongs size=3', async () => {
    const body = field(await api.getRandomSongs({ size: 3 }), 'randomSongs', 'obj', 'response');
    const songs = items(body, 'song', 'randomSongs').map((s, i) => checkChild(s, `randomSongs.song[${i}]`));
    if (songs.length < 1 || songs.length > 3) fail(`expected 1 to 3 random songs, got ${songs.length}`);
  });

  await S(`search3 "${exp.search_query}": first song ${exp.search_song_id}`, async () => {
    const body = field(await api.search3({ query: exp.search_query, artistCount: 5, albumCount: 5, songCount: 10 }), 'searchResult3', 'obj', 'response');
    items(body, 'artist', 'searchResult3').forEach((a, i) => checkArtist(a, `searchResult3.artist[${i}]`));
    items(body, 'album', 'searchResult3').forEach((a, i) => checkAlbum(a, `searchResult3.album[${i}]`));
    const songs = items(body, 'song', 'searchResult3').map((s, i) => checkChild(s, `searchResult3.song[${i}]`));
    if (songs.length === 0) fail('no song hits');
    expectEqual(songs[0], exp.search_song_id, 'first song hit');
  });

  await S(`getPlaylists as ${exp.handle} includes ${exp.playlist_id}`, async () => {
    const body = field(await api.getPlaylists(), 'playlists', 'obj', 'response');
    const lists = items(body, 'playlist', 'playlists');
    lists.forEach((p, i) => checkPlaylist(p, `playlists.playlist[${i}]`));
    const ours = lists.find((p) => p.id === exp.playlist_id);
    if (!ours) fail(`playlist ${exp.playlist_id} missing, got ${show(lists.map((p) => p.id))}`);
    expectEqual(ours.name, exp.playlist_name, 'playlist name');
  });

  await S(`getPlaylist ${exp.playlist_id}: entries ${show(exp.playlist_song_ids)}`, async () => {
    const playlist = field(await api.getPlaylist({ id: exp.playlist_id }), 'playlist', 'obj', 'response');
    checkPlaylist(playlist, 'playlist');
    expectEqual(playlist.name, exp.playlist_name, 'playlist.name');
    const entries = items(playlist, 'entry', 'playlist').map((s, i) => checkChild(s, `playlist.entry[${i}]`));
    expectEqual(entries, exp.playlist_song_ids, 'playlist entry ids in order');
    expectEqual(playlist.songCount, entries.length, 'playlist.songCount vs its entries');
  });

  await S(`getStarred2 as ${exp.handle}: songs ${show(exp.starred_song_ids)}`, async () => {
    const body = field(await api.getStarred2(), 'starred2', 'obj', 'response');
    const songs = items(body, 'song', 'starred2').map((s, i) => {
      field(s, 'starred', 'time', `starred2.song[${i}]`);
      return checkChild(s, `starred2.song[${i}]`);
    });
    expectEqual(songs, exp.starred_song_ids, 'starred song ids, newest like first');
    items(body, 'album', 'starred2').forEach((a, i) => checkAlbum(a, `starred2.album[${i}]`));
    items(body, 'artist', 'starred2').forEach((a, i) => checkArtist(a, `starred2.artist[${i}]`));
  });

  await S('getGenres', async () => {
    const body = field(await api.getGenres(), 'genres', 'obj', 'response');
    items(body, 'genre', 'genres').forEach((g, i) => {
      field(g, 'value', 'str', `genre[${i}]`);
      field(g, 'songCount', 'int', `genre[${i}]`);
      field(g, 'albumCount', 'int', `genre[${i}]`);
    });
  });

  await S(`getUser ${exp.handle}`, async () => {
    const user = field(await api.getUser({ username: exp.handle }), 'user', 'obj', 'response');
    expectEqual(field(user, 'username', 'str', 'user'), exp.handle, 'user.username');
    for (const flag of USER_FLAGS) field(user, flag, 'bool', 'user');
    expectEqual(user.scrobblingEnabled, false, 'user.scrobblingEnabled');
    expectEqual(user.adminRole, false, 'user.adminRole');
    expectEqual(user.streamRole, true, 'user.streamRole');
    const folders = items(user, 'folder', 'user');
    if (!folders.includes(1)) fail(`user.folder should include 1, got ${show(folders)}`);
  });

  await S('getNowPlaying', async () => {
    const body = field(await api.getNowPlaying(), 'nowPlaying', 'obj', 'response');
    items(body, 'entry', 'nowPlaying').forEach((e, i) => {
      checkChild(e, `nowPlaying.entry[${i}]`);
      field(e, 'username', 'str', `nowPlaying.entry[${i}]`);
      field(e, 'minutesAgo', 'int', `nowPlaying.entry[${i}]`);
      field(e, 'playerId', 'int', `nowPlaying.entry[${i}]`);
    });
  });

  await S(`stream ${exp.song_id} -> 302 audio URL`, async () => {
    expectEqual(await api.stream({ id: exp.song_id }), exp.audio_url, 'stream Location');
  });
  await S(`download ${exp.song_id} -> 302 audio URL`, async () => {
    expectEqual(await api.download({ id: exp.song_id }), exp.audio_url, 'download Location');
  });
  await S(`getCoverArt tr-${exp.song_id} -> 302 cover URL`, async () => {
    expectEqual(await api.getCoverArt({ id: `tr-${exp.song_id}` }), exp.cover_url, 'getCoverArt Location');
  });
  await S(`stream gated ${exp.gated_song_id} -> 50`, () =>
    expectFailure(() => api.stream({ id: exp.gated_song_id }), [50], 'stream of a supporter-gated track'));
  await S('getSong without id -> 10', () => expectFailure(() => api.getSong({}), [10], 'getSong without id'));
  await S('getSong id=999999999 -> 70', () => expectFailure(() => api.getSong({ id: '999999999' }), [70], 'getSong of an unknown id'));
  await S('getAlbum id=not-a-uuid -> 70', () => expectFailure(() => api.getAlbum({ id: 'not-a-uuid' }), [70], 'getAlbum of a malformed id'));
  await S('unknown method frobnicate -> failed envelope, code 0', () =>
    expectFailure(() => api.unknown('frobnicate'), [0], 'unknown method'));

  const writes = [
    ['star', () => api.star({ id: exp.song_id })],
    ['scrobble', () => api.scrobble({ id: exp.song_id })],
    ['createPlaylist', () => api.createPlaylist({ name: 'plyr-subsonic-check' })],
  ];
  for (const [name, call] of writes) {
    await S(`${name} -> 50 read-only`, async () => {
      const err = await expectFailure(call, [50], name);
      if (!READ_ONLY.test(err.serverMessage ?? '')) fail(`${name}: the message should say the service is read-only, got ${show(err.serverMessage)}`);
    });
  }
}

async function runExtras(base, exp, password) {
  const label = 'extra';
  const post = makeClient(base, { username: exp.handle, password }, { post: true });
  await step(label, 'POST form (post: true) ping', () => post.ping());
  await step(label, 'POST form getAlbum', async () => {
    expectEqual(field(await post.getAlbum({ id: exp.album_id }), 'album', 'obj', 'response').id, exp.album_id, 'album.id');
  });
  await step(label, 'POST form stream -> 302', async () => {
    expectEqual(await post.stream({ id: exp.song_id }), exp.audio_url, 'stream Location');
  });

  if (exp.password === null) {
    const keyed = makeClient(base, { apiKey: 'any-key' });
    await step(label, 'apiKey auth getLicense (no server password: any key)', () => keyed.getLicense());
  } else {
    const wrong = makeClient(base, { username: exp.handle, password: `wrong-${exp.password}` });
    await step(label, 'wrong password -> 40', () => expectFailure(() => wrong.getLicense(), [40], 'wrong password'));
  }
  const fixedSalt = makeClient(base, { username: exp.handle, password }, { salt: 'fixedsalt123', reuseSalt: true });
  await step(label, 'token auth with a fixed, reused salt: ping', () => fixedSalt.ping());

  const byDid = makeClient(base, { username: exp.did, password });
  await step(label, `getStarred2 with u=${exp.did} (the DID) matches the handle`, async () => {
    const body = field(await byDid.getStarred2(), 'starred2', 'obj', 'response');
    expectEqual(items(body, 'song', 'starred2').map((s) => s.id), exp.starred_song_ids, 'starred song ids for u=DID');
  });
  const anonymous = makeClient(base, { username: 'somebody-else-entirely', password });
  await step(label, 'getStarred2 as an unknown user is empty', async () => {
    const body = field(await anonymous.getStarred2(), 'starred2', 'obj', 'response');
    expectEqual(items(body, 'song', 'starred2'), [], 'anonymous starred songs');
  });
}

async function main() {
  const { values } = parseArgs({ options: { base: { type: 'string' }, expect: { type: 'string' } } });
  if (!values.base || !values.expect) {
    console.error('usage: node subsonic-check.mjs --base http://127.0.0.1:PORT --expect expect.json');
    return 2;
  }
  const exp = JSON.parse(readFileSync(values.expect, 'utf8'));
  const missing = EXPECT_KEYS.filter((k) => !(k in exp));
  if (missing.length) {
    console.error(`FAIL: expectation file lacks ${missing.join(', ')}`);
    return 2;
  }
  // The client refuses an empty password; with no server password any value is accepted.
  const password = exp.password ?? 'no-password-needed';
  try {
    await runSession(makeClient(values.base, { username: exp.handle, password }), exp, 'json/subsonic-api');
    await runExtras(values.base, exp, password);
  } catch (e) {
    if (!(e instanceof CheckFailed)) throw e;
    console.error(`FAIL: ${e.message}`);
    return 1;
  }
  console.log(`subsonic-check: all ${passed} steps passed`);
  return 0;
}

process.exitCode = await main();
