#!/usr/bin/env python3
"""Drive the appview's Subsonic API with a real Subsonic client and check what it reads.

Usage:
    python subsonic_check.py --base http://127.0.0.1:PORT --expect expect.json

The expectation file is written by the Rust test for the dataset it indexed (keys:
handle, did, artist_name, artist_count, album_id, album_name, album_song_ids,
album_count, song_id, song_title, audio_url, cover_url, playlist_id, playlist_name,
playlist_song_ids, starred_song_ids, search_query, search_song_id, gated_song_id,
newest_album_id, password).

The same scripted session runs twice:

* JSON, through py-sonic's ``libsonic.Connection`` (what Python Subsonic clients
  use).  py-sonic always POSTs a form to ``/rest/<method>.view`` with ``f=json``
  and token auth (``u``, ``t`` = md5(password + salt), ``s``).
* XML, through plain urllib GETs of ``/rest/<method>`` (no ``f``, so XML is the
  default) with ``u`` + plain ``p``, parsed with xml.etree in the
  ``http://subsonic.org/restapi`` namespace.

Every response must carry the envelope (status, version 1.16.1, type
plyr-appview, serverVersion, openSubsonic true).  The session covers ping,
getLicense, getOpenSubsonicExtensions, getMusicFolders, getArtists, getIndexes,
getArtist, getArtistInfo2, getAlbum, getAlbumInfo2, getAlbumList2 (every type,
plus paging), getSong, getRandomSongs, search3, getPlaylists, getPlaylist,
getStarred2, getGenres, getUser, getNowPlaying, stream / download / getCoverArt
(302 to the audio / image URL, not followed), and the error codes: 10 missing
parameter, 40 wrong password (only when the server has one), 50 gated stream and
read-only writes, 70 not found, 0 unknown method.  It then tries the other
credential forms (``p=enc:``, ``t``+``s``, ``apiKey``), the user's DID as ``u``,
an anonymous user name, POST forms and the ``.view`` suffix.

Prints one line per step passed; on the first wrong fact it prints
``FAIL: [format] step "...": what was wrong`` and exits 1.
"""

import argparse
import contextlib
import hashlib
import json
import math
import re
import secrets
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import libsonic
from libsonic import errors as sonic_errors

NS = '{http://subsonic.org/restapi}'
API_VERSION = '1.16.1'
SERVER_TYPE = 'plyr-appview'
APP_NAME = 'plyr-subsonic-check'
ISO_TIME = re.compile(r'^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$')
UUID = re.compile(r'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')
COVER_ART = re.compile(r'^(tr|al|ar|pl)-.+$')
READ_ONLY = re.compile(r'read[- ]?only', re.I)
USER_FLAGS = ['scrobblingEnabled', 'adminRole', 'settingsRole', 'downloadRole', 'uploadRole',
              'playlistRole', 'coverArtRole', 'commentRole', 'podcastRole', 'streamRole',
              'jukeboxRole', 'shareRole', 'videoConversionRole']
ALBUM_LIST_TYPES = ['newest', 'random', 'frequent', 'highest', 'alphabeticalByName',
                    'alphabeticalByArtist', 'byYear']
EXPECT_KEYS = ['handle', 'did', 'artist_name', 'artist_count', 'album_id', 'album_name',
               'album_song_ids', 'album_count', 'song_id', 'song_title', 'audio_url', 'cover_url',
               'playlist_id', 'playlist_name', 'playlist_song_ids', 'starred_song_ids',
               'search_query', 'search_song_id', 'gated_song_id', 'newest_album_id', 'password']


class CheckFailed(Exception):
    """A fact about the server's answer was wrong."""


class Failed(Exception):
    """The server answered status="failed"."""

    def __init__(self, code, message):
        super().__init__(f'status=failed code={code} message={message!r}')
        self.code, self.message = code, message


class Redirected(Exception):
    """The server answered with an HTTP redirect (never followed: the target is not ours)."""

    def __init__(self, code, location):
        super().__init__(f'HTTP {code} redirect to {location}')
        self.code, self.location = code, location


def fail(message):
    raise CheckFailed(message)


def expect_equal(actual, expected, what):
    if actual != expected:
        fail(f'{what}: expected {expected!r}, got {actual!r}')


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Turn any 30x into a Redirected exception instead of following it."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        fp.close()
        raise Redirected(code, headers.get('Location'))


# ---------------------------------------------------------------------------
# The two ways of talking to the server.  Both expose the Subsonic methods with
# Subsonic parameter names, return the inner "subsonic-response" as a dict (XML
# converted by the rules of the Subsonic JSON mapping), return the Location of
# redirects for stream/download/getCoverArt, and raise Failed for status=failed.
# ---------------------------------------------------------------------------

class Api:
    fmt = None

    def field(self, obj, key, kind, where, optional=False):
        """obj[key] checked to be of `kind` (str/int/bool/num/time/dict/list); XML attributes are parsed."""
        if not isinstance(obj, dict):
            fail(f'{where} should be an object, got {obj!r:.120}')
        if key not in obj:
            if optional:
                return None
            fail(f'{where} has no "{key}" (it has: {", ".join(sorted(obj))})')
        return self.value(obj[key], kind, f'{where}.{key}')

    def value(self, v, kind, where):
        if self.fmt == 'xml' and isinstance(v, str):
            if kind == 'int':
                if not re.fullmatch(r'-?\d+', v):
                    fail(f'{where} should be an integer, got {v!r}')
                return int(v)
            if kind == 'num':
                try:
                    return float(v)
                except ValueError:
                    fail(f'{where} should be a number, got {v!r}')
            if kind == 'bool':
                if v not in ('true', 'false'):
                    fail(f'{where} should be true/false, got {v!r}')
                return v == 'true'
        ok = {
            'str': lambda: isinstance(v, str) and v != '',
            'int': lambda: isinstance(v, int) and not isinstance(v, bool),
            'num': lambda: isinstance(v, (int, float)) and not isinstance(v, bool),
            'bool': lambda: isinstance(v, bool),
            'time': lambda: isinstance(v, str) and ISO_TIME.match(v),
            'dict': lambda: isinstance(v, dict),
            'list': lambda: isinstance(v, list),
        }[kind]()
        if not ok:
            label = {'str': 'a non-empty string', 'time': 'an ISO 8601 time string'}.get(kind, f'of type {kind}')
            fail(f'{where} should be {label}, got {v!r:.120}')
        return v

    def items(self, obj, key, where):
        """A list member that may be absent (Subsonic JSON omits empty arrays)."""
        v = self.field(obj, key, 'list', where, optional=True)
        return [] if v is None else v


class PySonicApi(Api):
    """JSON, through py-sonic's libsonic.Connection."""
    fmt = 'json'

    def __init__(self, base, username, password, legacy_auth=False):
        url = urllib.parse.urlsplit(base)
        # py-sonic wants scheme://host, the port and the path to /rest separately.
        self.conn = libsonic.Connection(
            f'{url.scheme}://{url.hostname}', username, password,
            port=url.port or (443 if url.scheme == 'https' else 80),
            serverPath=url.path.rstrip('/') + '/rest',
            appName=APP_NAME, apiVersion=API_VERSION, legacyAuth=legacy_auth)
        # stream/download/getCoverArt answer 302 to a host that is not ours: never follow.
        self.conn._opener = urllib.request.build_opener(NoRedirect())
        # Every py-sonic method except ping() hands the parsed response to _checkStatus:
        # check the envelope there, and keep the error code its exception drops.
        original = self.conn._checkStatus

        def check_status(res):
            check_json_envelope(res)
            try:
                return original(res)
            except sonic_errors.SonicError:
                raise Failed(res['error']['code'], res['error'].get('message'))
        self.conn._checkStatus = check_status

    def raw(self, method, **params):
        """A method py-sonic has no wrapper for, sent the way py-sonic sends everything."""
        params = {k: v for k, v in params.items() if v is not None}
        res = self.conn._doInfoReq(self.conn._getRequest(f'{method}.view', params))
        self.conn._checkStatus(res)
        return res

    def binary(self, call):
        try:
            res = call()
        except Redirected as r:
            return r.location
        if isinstance(res, dict):
            fail(f'expected a redirect, got a JSON body {res!r:.200}')
        fail(f'expected a redirect, got HTTP {res.status} Content-Type {res.headers.get("Content-Type")!r}')

    def ping(self):
        if self.conn.ping() is not True:  # py-sonic's ping() swallows errors and returns False
            fail('libsonic ping() returned False')
        return self.raw('ping')

    def getLicense(self): return self.conn.getLicense()
    def getOpenSubsonicExtensions(self): return self.raw('getOpenSubsonicExtensions')
    def getMusicFolders(self): return self.conn.getMusicFolders()
    def getIndexes(self): return self.conn.getIndexes()
    def getArtists(self): return self.conn.getArtists()
    def getArtist(self, id): return self.conn.getArtist(id)
    def getArtistInfo2(self, id): return self.conn.getArtistInfo2(id)
    def getAlbum(self, id): return self.conn.getAlbum(id)
    def getAlbumInfo2(self, id): return self.conn.getAlbumInfo2(id)
    def getSong(self, id=None): return self.conn.getSong(id)
    def getRandomSongs(self, size): return self.conn.getRandomSongs(size=size)
    def getPlaylists(self): return self.conn.getPlaylists()
    def getPlaylist(self, id): return self.conn.getPlaylist(id)
    def getStarred2(self): return self.conn.getStarred2()
    def getGenres(self): return self.conn.getGenres()
    def getUser(self, username): return self.conn.getUser(username)
    def getNowPlaying(self): return self.conn.getNowPlaying()
    def stream(self, id): return self.binary(lambda: self.conn.stream(id))
    def download(self, id): return self.binary(lambda: self.conn.download(id))
    def getCoverArt(self, id): return self.binary(lambda: self.conn.getCoverArt(id))
    def star(self, id): return self.conn.star(sids=[id])
    def scrobble(self, id): return self.conn.scrobble(id)
    def createPlaylist(self, name): return self.conn.createPlaylist(name=name)
    def unknown(self, method): return self.raw(method)

    def getAlbumList2(self, type=None, size=10, offset=0, fromYear=None, toYear=None):
        return self.conn.getAlbumList2(type, size=size, offset=offset, fromYear=fromYear, toYear=toYear)

    def search3(self, query, artistCount=20, albumCount=20, songCount=20):
        return self.conn.search3(query, artistCount=artistCount, albumCount=albumCount, songCount=songCount)


# Elements that the Subsonic JSON mapping turns into arrays (below the root), and
# elements whose content is text.
XML_LIST_ELEMENTS = {'openSubsonicExtensions', 'versions', 'musicFolder', 'index', 'artist', 'album',
                     'song', 'entry', 'playlist', 'genre', 'folder', 'child', 'similarArtist', 'shortcut'}
XML_TEXT_ELEMENTS = {'versions', 'folder', 'biography', 'musicBrainzId', 'lastFmUrl', 'smallImageUrl',
                     'mediumImageUrl', 'largeImageUrl', 'notes'}


def xml_to_dict(el, top=True):
    name = el.tag[len(NS):]
    if name in XML_TEXT_ELEMENTS:
        return el.text or ''
    out = dict(el.attrib)
    if el.text and el.text.strip():
        out['value'] = el.text
    for kid in el:
        if not kid.tag.startswith(NS):
            fail(f'<{kid.tag}> inside <{name}> is not in the {NS[1:-1]} namespace')
        kid_name = kid.tag[len(NS):]
        value = xml_to_dict(kid, top=False)
        if kid_name in XML_LIST_ELEMENTS and (not top or kid_name == 'openSubsonicExtensions'):
            out.setdefault(kid_name, []).append(value)
        elif kid_name in out:
            fail(f'<{name}> has <{kid_name}> twice (or as attribute and element)')
        else:
            out[kid_name] = value
    return out


class XmlApi(Api):
    """XML, through plain urllib GETs of /rest/<method> (POST and .view on request)."""
    fmt = 'xml'

    def __init__(self, base, username, password, auth='p'):
        self.base = base.rstrip('/')
        self.username, self.password, self.auth = username, password, auth
        self.opener = urllib.request.build_opener(NoRedirect())

    def credentials(self):
        if self.auth == 'apiKey':
            return {'apiKey': self.password}
        if self.auth == 'p':
            return {'u': self.username, 'p': self.password}
        if self.auth == 'enc':
            return {'u': self.username, 'p': 'enc:' + self.password.encode('utf-8').hex()}
        if self.auth == 'token':
            salt = secrets.token_hex(6)
            return {'u': self.username, 's': salt,
                    't': hashlib.md5((self.password + salt).encode('utf-8')).hexdigest()}
        raise ValueError(self.auth)

    def request(self, method, params=None, post=False, suffix='', redirect=False):
        query = {'v': API_VERSION, 'c': APP_NAME + '-xml', **self.credentials()}
        query.update({k: v for k, v in (params or {}).items() if v is not None})
        url = f'{self.base}/rest/{method}{suffix}'
        body = urllib.parse.urlencode(query)
        if post:
            req = urllib.request.Request(url, data=body.encode(), method='POST',
                                         headers={'Content-Type': 'application/x-www-form-urlencoded'})
        else:
            req = urllib.request.Request(f'{url}?{body}')
        try:
            resp = self.opener.open(req, timeout=30)
        except Redirected as r:
            if redirect:
                return r.location
            fail(f'{method} answered {r}; only stream/download/getCoverArt may redirect')
        except urllib.error.HTTPError as e:
            fail(f'{method} answered HTTP {e.code} {e.reason} (Subsonic errors must be HTTP 200 envelopes)')
        with resp:
            ctype = resp.headers.get('Content-Type', '')
            data = resp.read()
        if redirect and 'xml' not in ctype:
            fail(f'{method} should redirect, got HTTP {resp.status} {ctype!r} ({len(data)} bytes)')
        if 'xml' not in ctype:
            fail(f'{method} answered Content-Type {ctype!r}, expected XML')
        try:
            root = ET.fromstring(data)
        except ET.ParseError as e:
            fail(f'{method} answered malformed XML ({e}): {data[:200]!r}')
        check_xml_envelope(root)
        res = xml_to_dict(root)
        if res['status'] == 'failed':
            raise Failed(int(res['error']['code']), res['error'].get('message'))
        return res

    def __getattr__(self, method):
        if method.startswith('_'):
            raise AttributeError(method)
        return lambda **params: self.request(method, params)

    def stream(self, id): return self.request('stream', {'id': id}, redirect=True)
    def download(self, id): return self.request('download', {'id': id}, redirect=True)
    def getCoverArt(self, id): return self.request('getCoverArt', {'id': id}, redirect=True)
    def unknown(self, method): return self.request(method)


def check_json_envelope(res):
    if not isinstance(res, dict):
        fail(f'"subsonic-response" should be an object, got {res!r:.120}')
    for key, want in (('version', API_VERSION), ('type', SERVER_TYPE), ('openSubsonic', True)):
        expect_equal(res.get(key), want, f'envelope "{key}"')
    if not isinstance(res.get('serverVersion'), str) or not res['serverVersion']:
        fail(f'envelope "serverVersion" should be a non-empty string, got {res.get("serverVersion")!r}')
    if res.get('status') == 'failed':
        err = res.get('error')
        if not isinstance(err, dict) or not isinstance(err.get('code'), int) or not isinstance(err.get('message'), str):
            fail(f'failed envelope needs error {{code: int, message: str}} (py-sonic reads both), got {err!r}')
    elif res.get('status') != 'ok':
        fail(f'envelope "status" should be ok or failed, got {res.get("status")!r}')


def check_xml_envelope(root):
    expect_equal(root.tag, NS + 'subsonic-response', 'XML root element')
    attrs = root.attrib
    for key, want in (('version', API_VERSION), ('type', SERVER_TYPE), ('openSubsonic', 'true')):
        expect_equal(attrs.get(key), want, f'envelope attribute "{key}"')
    if not attrs.get('serverVersion'):
        fail('envelope attribute "serverVersion" is missing or empty')
    if attrs.get('status') == 'failed':
        err = root.find(NS + 'error')
        if err is None or not re.fullmatch(r'\d+', err.get('code', '')) or err.get('message') is None:
            fail('failed envelope needs <error code=".." message=".."/>')
    elif attrs.get('status') != 'ok':
        fail(f'envelope attribute "status" should be ok or failed, got {attrs.get("status")!r}')


# ---------------------------------------------------------------------------
# Shapes the clients read.
# ---------------------------------------------------------------------------

def check_child(api, c, where):
    f = api.field
    f(c, 'id', 'str', where)
    expect_equal(f(c, 'isDir', 'bool', where), False, f'{where}.isDir')
    for key in ('title', 'artist', 'suffix', 'artistId'):
        f(c, key, 'str', where)
    if '/' not in f(c, 'contentType', 'str', where):
        fail(f'{where}.contentType should be a MIME type, got {c["contentType"]!r}')
    if not COVER_ART.match(f(c, 'coverArt', 'str', where)):
        fail(f'{where}.coverArt should be tr-/al-/ar-/pl-<id>, got {c["coverArt"]!r}')
    f(c, 'duration', 'int', where)
    f(c, 'playCount', 'int', where)
    f(c, 'created', 'time', where)
    expect_equal(f(c, 'type', 'str', where), 'music', f'{where}.type')
    for key in ('parent', 'album', 'albumId'):
        f(c, key, 'str', where, optional=True)
    f(c, 'year', 'int', where, optional=True)
    f(c, 'starred', 'time', where, optional=True)
    return c['id']


def check_album(api, a, where):
    f = api.field
    if not UUID.match(f(a, 'id', 'str', where)):
        fail(f'{where}.id should be a UUID, got {a["id"]!r}')
    for key in ('name', 'artist', 'artistId'):
        f(a, key, 'str', where)
    if not COVER_ART.match(f(a, 'coverArt', 'str', where)):
        fail(f'{where}.coverArt should be al-<id> or similar, got {a["coverArt"]!r}')
    for key in ('songCount', 'duration', 'playCount'):
        f(a, key, 'int', where)
    f(a, 'created', 'time', where)
    f(a, 'year', 'int', where, optional=True)
    return a['id']


def check_artist(api, a, where, id3=True):
    if not api.field(a, 'id', 'str', where).startswith('did:'):
        fail(f'{where}.id should be the account DID, got {a["id"]!r}')
    api.field(a, 'name', 'str', where)
    if id3:
        api.field(a, 'albumCount', 'int', where)
        api.field(a, 'coverArt', 'str', where, optional=True)
    return a['id']


def check_playlist(api, p, where):
    f = api.field
    if not UUID.match(f(p, 'id', 'str', where)):
        fail(f'{where}.id should be a UUID, got {p["id"]!r}')
    for key in ('name', 'owner'):
        f(p, key, 'str', where)
    f(p, 'public', 'bool', where)
    f(p, 'songCount', 'int', where)
    f(p, 'duration', 'int', where)
    f(p, 'created', 'time', where)
    f(p, 'changed', 'time', where)
    f(p, 'coverArt', 'str', where, optional=True)
    return p['id']


def album_list(api, res, where):
    body = api.field(res, 'albumList2', 'dict', where)
    return [(check_album(api, a, f'{where}.album[{i}]'), a) for i, a in enumerate(api.items(body, 'album', where))]


def expect_failure(call, codes, what):
    """Run call(); it must raise Failed with a code in `codes` (None: any code)."""
    try:
        result = call()
    except Failed as e:
        if codes is not None and e.code not in codes:
            fail(f'{what}: expected error code {sorted(codes)}, got {e.code} ({e.message!r})')
        return e
    fail(f'{what}: expected status=failed{"" if codes is None else f" with code {sorted(codes)}"}, '
         f'but it succeeded: {result!r:.200}')


@contextlib.contextmanager
def step(label, name):
    try:
        yield
    except CheckFailed as e:
        raise CheckFailed(f'[{label}] step "{name}": {e}') from None
    except Failed as e:
        raise CheckFailed(f'[{label}] step "{name}": server answered {e}') from None
    except Redirected as e:
        raise CheckFailed(f'[{label}] step "{name}": unexpected {e}') from None
    except urllib.error.URLError as e:
        raise CheckFailed(f'[{label}] step "{name}": request failed: {e}') from None
    except sonic_errors.SonicError as e:  # ping() raises these itself
        raise CheckFailed(f'[{label}] step "{name}": py-sonic raised {type(e).__name__}: {e}') from None
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as e:
        raise CheckFailed(f'[{label}] step "{name}": could not read the answer: {type(e).__name__}: {e}') from None
    print(f'ok  [{label}] {name}', flush=True)
    step.passed += 1


step.passed = 0


# ---------------------------------------------------------------------------
# The scripted session (identical for both formats).
# ---------------------------------------------------------------------------

def run_session(api, exp, label):
    f = api.field

    def S(name):
        return step(label, name)

    with S('ping'):
        api.ping()

    with S('getLicense'):
        expect_equal(f(f(api.getLicense(), 'license', 'dict', 'getLicense'), 'valid', 'bool', 'license'),
                     True, 'license.valid')

    with S('getOpenSubsonicExtensions'):
        exts = f(api.getOpenSubsonicExtensions(), 'openSubsonicExtensions', 'list', 'response')
        for i, ext in enumerate(exts):
            f(ext, 'name', 'str', f'openSubsonicExtensions[{i}]')
            for j, v in enumerate(f(ext, 'versions', 'list', f'openSubsonicExtensions[{i}]')):
                api.value(v, 'int', f'openSubsonicExtensions[{i}].versions[{j}]')

    with S('getMusicFolders'):
        folders = api.items(f(api.getMusicFolders(), 'musicFolders', 'dict', 'response'), 'musicFolder', 'musicFolders')
        ids = [f(m, 'id', 'int', f'musicFolder[{i}]') for i, m in enumerate(folders)]
        for i, m in enumerate(folders):
            f(m, 'name', 'str', f'musicFolder[{i}]')
        if 1 not in ids:
            fail(f'music folder 1 missing, got ids {ids}')

    with S(f'getArtists: {exp["artist_count"]} artists, {exp["did"]} among them'):
        body = f(api.getArtists(), 'artists', 'dict', 'response')
        if 'ignoredArticles' not in body or not isinstance(body['ignoredArticles'], str):
            fail(f'artists.ignoredArticles should be a string, got {body.get("ignoredArticles")!r}')
        artists = []
        for i, index in enumerate(api.items(body, 'index', 'artists')):
            f(index, 'name', 'str', f'artists.index[{i}]')
            for j, a in enumerate(api.items(index, 'artist', f'artists.index[{i}]')):
                check_artist(api, a, f'artists.index[{i}].artist[{j}]')
                artists.append(a)
        expect_equal(len(artists), exp['artist_count'], 'number of artists over all indexes')
        if len({a['id'] for a in artists}) != len(artists):
            fail('an artist id appears twice in getArtists')
        ours = [a for a in artists if a['id'] == exp['did']]
        if not ours:
            fail(f'artist {exp["did"]} missing from getArtists')
        expect_equal(ours[0]['name'], exp['artist_name'], 'our artist name in getArtists')

    with S('getIndexes'):
        body = f(api.getIndexes(), 'indexes', 'dict', 'response')
        f(body, 'lastModified', 'num', 'indexes')  # py-sonic divides it by 1000: must be a number
        if not isinstance(body.get('ignoredArticles'), str):
            fail(f'indexes.ignoredArticles should be a string, got {body.get("ignoredArticles")!r}')
        ids = []
        for i, index in enumerate(api.items(body, 'index', 'indexes')):
            f(index, 'name', 'str', f'indexes.index[{i}]')
            for j, a in enumerate(api.items(index, 'artist', f'indexes.index[{i}]')):
                ids.append(check_artist(api, a, f'indexes.index[{i}].artist[{j}]', id3=False))
        if exp['did'] not in ids:
            fail(f'artist {exp["did"]} missing from getIndexes')

    with S(f'getArtist {exp["did"]} lists album {exp["album_id"]}'):
        artist = f(api.getArtist(id=exp['did']), 'artist', 'dict', 'response')
        check_artist(api, artist, 'artist')
        expect_equal(artist['id'], exp['did'], 'artist.id')
        expect_equal(artist['name'], exp['artist_name'], 'artist.name')
        f(artist, 'coverArt', 'str', 'artist')
        albums = [check_album(api, a, f'artist.album[{i}]') for i, a in enumerate(api.items(artist, 'album', 'artist'))]
        expect_equal(f(artist, 'albumCount', 'int', 'artist'), len(albums), 'artist.albumCount vs its albums')
        if exp['album_id'] not in albums:
            fail(f'album {exp["album_id"]} not among the artist\'s albums {albums}')

    with S('getArtistInfo2'):
        info = f(api.getArtistInfo2(id=exp['did']), 'artistInfo2', 'dict', 'response')
        for key in ('biography', 'smallImageUrl', 'mediumImageUrl', 'largeImageUrl', 'lastFmUrl', 'musicBrainzId'):
            if key in info and not isinstance(info[key], str):
                fail(f'artistInfo2.{key} should be a string, got {info[key]!r:.80}')

    with S(f'getAlbum {exp["album_id"]}: "{exp["album_name"]}", songs {exp["album_song_ids"]}'):
        album = f(api.getAlbum(id=exp['album_id']), 'album', 'dict', 'response')
        check_album(api, album, 'album')
        expect_equal(album['id'], exp['album_id'], 'album.id')
        expect_equal(album['name'], exp['album_name'], 'album.name')
        expect_equal(album['artistId'], exp['did'], 'album.artistId')
        songs = [check_child(api, s, f'album.song[{i}]') for i, s in enumerate(api.items(album, 'song', 'album'))]
        expect_equal(songs, exp['album_song_ids'], 'album song ids in order')
        expect_equal(f(album, 'songCount', 'int', 'album'), len(songs), 'album.songCount vs its songs')

    with S('getAlbumInfo2'):
        info = f(api.getAlbumInfo2(id=exp['album_id']), 'albumInfo', 'dict', 'response')
        if 'notes' in info and not isinstance(info['notes'], str):
            fail(f'albumInfo.notes should be a string, got {info["notes"]!r:.80}')

    for list_type in ALBUM_LIST_TYPES:
        with S(f'getAlbumList2 type={list_type}'):
            years = {'fromYear': 1900, 'toYear': 2100} if list_type == 'byYear' else {}
            albums = album_list(api, api.getAlbumList2(type=list_type, size=50, **years), 'albumList2')
            if list_type == 'newest':
                if not albums:
                    fail('newest list is empty')
                expect_equal(albums[0][0], exp['newest_album_id'], 'first newest album')

    page_size = min(500, max(1, math.ceil(exp['album_count'] / 3)))
    with S(f'getAlbumList2 alphabeticalByName paged by {page_size}: {exp["album_count"]} albums, sorted'):
        seen, offset = [], 0
        for _ in range(exp['album_count'] // page_size + 2):
            page = album_list(api, api.getAlbumList2(type='alphabeticalByName', size=page_size, offset=offset),
                              f'albumList2(offset={offset})')
            if len(page) > page_size:
                fail(f'asked for {page_size} albums, got {len(page)}')
            seen += page
            offset += page_size
            if len(page) < page_size:
                break
        else:
            fail('paging never returned a short page')
        expect_equal(len(seen), exp['album_count'], 'albums over all pages')
        if len({i for i, _ in seen}) != len(seen):
            fail('an album appears on two pages')
        names = [a['name'] for _, a in seen]
        for a, b in zip(names, names[1:]):
            if a.lower() > b.lower():
                fail(f'not sorted by name (case-insensitive): {a!r} before {b!r}')

    with S('getAlbumList2 errors: no type -> 10, byYear without years -> 10, unknown type -> failed'):
        expect_failure(lambda: api.getAlbumList2(), {10}, 'getAlbumList2 without type')
        expect_failure(lambda: api.getAlbumList2(type='byYear'), {10}, 'byYear without fromYear/toYear')
        expect_failure(lambda: api.getAlbumList2(type='notAListType'), None, 'unknown list type')

    with S(f'getSong {exp["song_id"]}: "{exp["song_title"]}"'):
        song = f(api.getSong(id=exp['song_id']), 'song', 'dict', 'response')
        check_child(api, song, 'song')
        expect_equal(song['id'], exp['song_id'], 'song.id')
        expect_equal(song['title'], exp['song_title'], 'song.title')

    with S('getRandomSongs size=3'):
        body = f(api.getRandomSongs(size=3), 'randomSongs', 'dict', 'response')
        songs = [check_child(api, s, f'randomSongs.song[{i}]') for i, s in enumerate(api.items(body, 'song', 'randomSongs'))]
        if not 1 <= len(songs) <= 3:
            fail(f'expected 1 to 3 random songs, got {len(songs)}')

    with S(f'search3 "{exp["search_query"]}": first song {exp["search_song_id"]}'):
        body = f(api.search3(query=exp['search_query'], artistCount=5, albumCount=5, songCount=10),
                 'searchResult3', 'dict', 'response')
        for i, a in enumerate(api.items(body, 'artist', 'searchResult3')):
            check_artist(api, a, f'searchResult3.artist[{i}]')
        for i, a in enumerate(api.items(body, 'album', 'searchResult3')):
            check_album(api, a, f'searchResult3.album[{i}]')
        songs = [check_child(api, s, f'searchResult3.song[{i}]') for i, s in enumerate(api.items(body, 'song', 'searchResult3'))]
        if not songs:
            fail('no song hits')
        expect_equal(songs[0], exp['search_song_id'], 'first song hit')

    with S(f'getPlaylists as {exp["handle"]} includes {exp["playlist_id"]}'):
        body = f(api.getPlaylists(), 'playlists', 'dict', 'response')
        playlists = {check_playlist(api, p, f'playlists.playlist[{i}]'): p
                     for i, p in enumerate(api.items(body, 'playlist', 'playlists'))}
        if exp['playlist_id'] not in playlists:
            fail(f'playlist {exp["playlist_id"]} missing, got {list(playlists)}')
        expect_equal(playlists[exp['playlist_id']]['name'], exp['playlist_name'], 'playlist name')

    with S(f'getPlaylist {exp["playlist_id"]}: entries {exp["playlist_song_ids"]}'):
        playlist = f(api.getPlaylist(id=exp['playlist_id']), 'playlist', 'dict', 'response')
        check_playlist(api, playlist, 'playlist')
        expect_equal(playlist['name'], exp['playlist_name'], 'playlist.name')
        entries = [check_child(api, s, f'playlist.entry[{i}]') for i, s in enumerate(api.items(playlist, 'entry', 'playlist'))]
        expect_equal(entries, exp['playlist_song_ids'], 'playlist entry ids in order')
        expect_equal(f(playlist, 'songCount', 'int', 'playlist'), len(entries), 'playlist.songCount vs its entries')

    with S(f'getStarred2 as {exp["handle"]}: songs {exp["starred_song_ids"]}'):
        body = f(api.getStarred2(), 'starred2', 'dict', 'response')
        songs = []
        for i, s in enumerate(api.items(body, 'song', 'starred2')):
            songs.append(check_child(api, s, f'starred2.song[{i}]'))
            f(s, 'starred', 'time', f'starred2.song[{i}]')
        expect_equal(songs, exp['starred_song_ids'], 'starred song ids, newest like first')
        for i, a in enumerate(api.items(body, 'album', 'starred2')):
            check_album(api, a, f'starred2.album[{i}]')
        for i, a in enumerate(api.items(body, 'artist', 'starred2')):
            check_artist(api, a, f'starred2.artist[{i}]')

    with S('getGenres'):
        body = f(api.getGenres(), 'genres', 'dict', 'response')
        for i, g in enumerate(api.items(body, 'genre', 'genres')):
            f(g, 'value', 'str', f'genre[{i}]')
            f(g, 'songCount', 'int', f'genre[{i}]')
            f(g, 'albumCount', 'int', f'genre[{i}]')

    with S(f'getUser {exp["handle"]}'):
        user = f(api.getUser(username=exp['handle']), 'user', 'dict', 'response')
        expect_equal(f(user, 'username', 'str', 'user'), exp['handle'], 'user.username')
        flags = {k: f(user, k, 'bool', 'user') for k in USER_FLAGS}
        expect_equal(flags['scrobblingEnabled'], False, 'user.scrobblingEnabled')
        expect_equal(flags['adminRole'], False, 'user.adminRole')
        expect_equal(flags['streamRole'], True, 'user.streamRole')
        folders = [api.value(v, 'int', f'user.folder[{i}]') for i, v in enumerate(api.items(user, 'folder', 'user'))]
        if 1 not in folders:
            fail(f'user.folder should include 1, got {folders}')

    with S('getNowPlaying'):
        body = f(api.getNowPlaying(), 'nowPlaying', 'dict', 'response')
        for i, e in enumerate(api.items(body, 'entry', 'nowPlaying')):
            check_child(api, e, f'nowPlaying.entry[{i}]')
            f(e, 'username', 'str', f'nowPlaying.entry[{i}]')
            f(e, 'minutesAgo', 'int', f'nowPlaying.entry[{i}]')
            f(e, 'playerId', 'int', f'nowPlaying.entry[{i}]')

    with S(f'stream {exp["song_id"]} -> 302 audio URL'):
        expect_equal(api.stream(id=exp['song_id']), exp['audio_url'], 'stream Location')

    with S(f'download {exp["song_id"]} -> 302 audio URL'):
        expect_equal(api.download(id=exp['song_id']), exp['audio_url'], 'download Location')

    with S(f'getCoverArt tr-{exp["song_id"]} -> 302 cover URL'):
        expect_equal(api.getCoverArt(id=f'tr-{exp["song_id"]}'), exp['cover_url'], 'getCoverArt Location')

    with S(f'stream gated {exp["gated_song_id"]} -> 50'):
        expect_failure(lambda: api.stream(id=exp['gated_song_id']), {50}, 'stream of a supporter-gated track')

    with S('getSong without id -> 10'):
        expect_failure(lambda: api.getSong(), {10}, 'getSong without id')

    with S('getSong id=999999999 -> 70'):
        expect_failure(lambda: api.getSong(id='999999999'), {70}, 'getSong of an unknown id')

    with S('getAlbum id=not-a-uuid -> 70'):
        expect_failure(lambda: api.getAlbum(id='not-a-uuid'), {70}, 'getAlbum of a malformed id')

    with S('unknown method frobnicate -> failed envelope, code 0'):
        expect_failure(lambda: api.unknown('frobnicate'), {0}, 'unknown method')

    for name, call in (('star', lambda: api.star(id=exp['song_id'])),
                       ('scrobble', lambda: api.scrobble(id=exp['song_id'])),
                       ('createPlaylist', lambda: api.createPlaylist(name='plyr-subsonic-check'))):
        with S(f'{name} -> 50 read-only'):
            err = expect_failure(call, {50}, name)
            if not READ_ONLY.search(err.message or ''):
                fail(f'{name}: the message should say the service is read-only, got {err.message!r}')


def run_extras(base, exp, client_password):
    """Credential forms, user identity, POST forms and the .view suffix (XML unless said)."""
    label = 'extra'
    handle, did = exp['handle'], exp['did']

    with step(label, 'py-sonic legacyAuth (p=enc:hex) getLicense'):
        PySonicApi(base, handle, client_password, legacy_auth=True).getLicense()
    for auth in ('enc', 'token'):
        with step(label, f'XML auth {auth} ping'):
            XmlApi(base, handle, client_password, auth=auth).ping()
    if exp['password'] is None:
        with step(label, 'XML apiKey getLicense (no server password: any key)'):
            XmlApi(base, None, 'any-key', auth='apiKey').getLicense()
    else:
        wrong = 'wrong-' + exp['password']
        with step(label, 'py-sonic wrong password -> 40'):
            expect_failure(lambda: PySonicApi(base, handle, wrong).getLicense(), {40}, 'wrong password (token)')
        for auth in ('p', 'enc', 'token'):
            with step(label, f'XML auth {auth} wrong password -> 40'):
                expect_failure(lambda: XmlApi(base, handle, wrong, auth=auth).getLicense(), {40}, f'wrong password ({auth})')

    with step(label, f'getStarred2 with u={did} (the DID) matches the handle'):
        api = XmlApi(base, did, client_password)
        body = api.field(api.getStarred2(), 'starred2', 'dict', 'response')
        expect_equal([s['id'] for s in api.items(body, 'song', 'starred2')], exp['starred_song_ids'],
                     'starred song ids for u=DID')

    with step(label, 'getStarred2 as an unknown user is empty'):
        api = XmlApi(base, 'somebody-else-entirely', client_password)
        body = api.field(api.getStarred2(), 'starred2', 'dict', 'response')
        expect_equal(api.items(body, 'song', 'starred2'), [], 'anonymous starred songs')

    api = XmlApi(base, handle, client_password)
    with step(label, 'XML ping as POST form'):
        api.request('ping', post=True)
    with step(label, 'XML getAlbum as POST form to getAlbum.view'):
        album = api.request('getAlbum', {'id': exp['album_id']}, post=True, suffix='.view')
        expect_equal(api.field(album, 'album', 'dict', 'response').get('id'), exp['album_id'], 'album.id')
    with step(label, 'XML GET ping.view'):
        api.request('ping', suffix='.view')
    with step(label, 'XML unknown method frobnicate.view -> failed envelope'):
        expect_failure(lambda: api.request('frobnicate', suffix='.view'), {0}, 'unknown method')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--base', required=True, help='server root, e.g. http://127.0.0.1:8080')
    parser.add_argument('--expect', required=True, help='expectation JSON written by the Rust test')
    args = parser.parse_args()
    socket.setdefaulttimeout(30)  # py-sonic sets no timeout of its own
    with open(args.expect) as fh:
        exp = json.load(fh)
    missing = [k for k in EXPECT_KEYS if k not in exp]
    if missing:
        print(f'FAIL: expectation file lacks {missing}', file=sys.stderr)
        return 2
    # Both clients insist on some password; with no server password any value is accepted.
    client_password = exp['password'] if exp['password'] is not None else 'no-password-needed'
    try:
        run_session(PySonicApi(args.base, exp['handle'], client_password), exp, 'json/py-sonic')
        run_session(XmlApi(args.base, exp['handle'], client_password), exp, 'xml/urllib')
        run_extras(args.base, exp, client_password)
    except CheckFailed as e:
        print(f'FAIL: {e}', file=sys.stderr)
        return 1
    print(f'subsonic_check: all {step.passed} steps passed')
    return 0


if __name__ == '__main__':
    sys.exit(main())
