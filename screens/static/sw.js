/* The player's service worker (issue 6: "a reload during an outage still
   shows the last content"). Scope /screens/; registered by player.js where
   the browser allows it (HTTPS or localhost).

   - the player page and playlist.json: network first, the last good copy
     when the daemon or the network is gone;
   - the player's files, theme.css, /media/ images and QR codes: from the
     cache at once, refreshed in the background. The page links its files
     and theme with ?v=<hash>, so a change is a new URL, never a stale hit.

   Events, heartbeats and everything not a GET pass through untouched. */
'use strict';

var VERSION = 1;  // bump when what is cached, or how, changes: activation drops older caches
var PAGES = 'intracast-pages-v' + VERSION;
var ASSETS = 'intracast-assets-v' + VERSION;
var MAX_ASSETS = 300;  // images rotate out over months: keep the cache from growing without end

self.addEventListener('install', function () {
  self.skipWaiting();
});

self.addEventListener('activate', function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name !== PAGES && name !== ASSETS;
      }).map(function (name) {
        return caches.delete(name);
      }));
    }).then(function () {
      return self.clients.claim();
    })
  );
});

self.addEventListener('fetch', function (event) {
  var request = event.request;
  if (request.method !== 'GET') {
    return;
  }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) {
    return;
  }
  if (request.mode === 'navigate' || /^\/screens\/[^/]+\/playlist\.json$/.test(url.pathname)) {
    event.respondWith(networkFirst(request));
  } else if (/^\/screens\/(static\/|[^/]+\/(theme\.css|qr)$)|^\/media\//.test(url.pathname)) {
    event.respondWith(staleWhileRevalidate(event, request));
  }
});

function networkFirst(request) {
  return fetch(request).then(function (response) {
    if (response.status === 200) {
      var copy = response.clone();
      caches.open(PAGES).then(function (cache) {
        return cache.put(request, copy);
      });
    }
    return response;
  }, function (error) {
    return caches.match(request, {cacheName: PAGES}).then(function (cached) {
      if (cached) {
        return cached;
      }
      throw error;
    });
  });
}

function staleWhileRevalidate(event, request) {
  return caches.open(ASSETS).then(function (cache) {
    return cache.match(request).then(function (cached) {
      var fresh = fetch(request).then(function (response) {
        if (response.status === 200) {
          return cache.put(request, response.clone()).then(function () {
            return trim(cache);
          }).then(function () {
            return response;
          });
        }
        return response;
      });
      if (cached) {
        event.waitUntil(fresh.catch(function () {
          // Offline: the cached copy is what we have.
        }));
        return cached;
      }
      return fresh;
    });
  });
}

// Oldest first: a put moves an entry to the end, so what is still shown stays.
function trim(cache) {
  return cache.keys().then(function (keys) {
    return Promise.all(keys.slice(0, Math.max(0, keys.length - MAX_ASSETS)).map(function (key) {
      return cache.delete(key);
    }));
  });
}
