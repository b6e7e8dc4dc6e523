/* The screen player (issue 6, "The player"). Plain ES5-style script with
   fetch and Promise: old smart-TV browsers run it without a build step.

   It rotates the slides of the screen's playlist with a cross-fade, keeps
   the last playlist in localStorage and keeps rotating it when the daemon
   or the network is gone, follows the daemon's server-sent events, and
   reports a heartbeat. Slide and alert HTML is rendered and escaped by the
   server; it is the only markup this script inserts.

   State for tests and operators, on <html>: data-state (online|offline),
   data-slide (the key shown), data-playlist-etag.

   With data-preview on <body> it is the admin's preview of the screen, not
   the screen: it sends no heartbeat (the screen's health would be the
   admin's), opens no event stream (it would take one of the screen's), and
   polls its playlist instead. */
(function () {
  'use strict';

  var FADE_MS = 800;
  var SAFETY_REFETCH_MS = 5 * 60 * 1000;  // in case an event was lost
  var BANNER_MS = 8000;                   // per banner, when several share the strip
  var RELOAD_AFTER_MS = 20 * 3600 * 1000; // shed leaks once a day...
  var RELOAD_HOUR = 3;                    // ...at a quiet hour
  var MAX_BACKOFF_MS = 30000;
  var PREVIEW_POLL_MS = 5000;             // conditional: mostly a 304

  var root = document.documentElement;
  var body = document.body;
  var screenId = body.getAttribute('data-screen');
  var version = body.getAttribute('data-version');
  var heartbeatMs = Number(body.getAttribute('data-heartbeat')) * 1000;
  var base = body.getAttribute('data-base');  // where playlist.json, events and heartbeat are
  var preview = body.hasAttribute('data-preview');
  var storageKey = 'intracast.playlist.' + screenId;
  var startedAt = Date.now();

  var etag = null;
  var fetchedAt = null;  // when the daemon last confirmed the playlist, ms
  var playlistText = null;

  /* ---- the playlist: inline, stored, fetched ---- */

  function usable(data) {
    return !!data && data.format === 1 && Array.isArray(data.slides) && data.slides.length > 0;
  }

  function readStored() {
    try {
      var stored = JSON.parse(localStorage.getItem(storageKey));
      return stored && usable(JSON.parse(stored.body)) ? stored : null;
    } catch (e) {
      return null;  // none yet, or storage disabled or corrupt: the inline playlist will do
    }
  }

  function store() {
    try {
      localStorage.setItem(storageKey, JSON.stringify({etag: etag, body: playlistText, fetched_at: fetchedAt}));
    } catch (e) {
      // Storage full or disabled: the screen still rotates, it only cannot survive a reload offline.
    }
  }

  // The inline playlist, or the stored one when that is newer: a page a
  // service worker kept during an outage carries an old inline playlist.
  function initialPlaylist() {
    var element = document.getElementById('playlist');
    var stored = readStored();
    var inline = null;
    try {
      inline = JSON.parse(element.textContent);
    } catch (e) {
      inline = null;
    }
    var generated = Math.min(Number(element.getAttribute('data-generated')) || 0, Date.now());
    if (usable(inline) && (!stored || stored.fetched_at <= generated)) {
      return {etag: element.getAttribute('data-etag'), body: element.textContent, fetched_at: generated};
    }
    return stored;
  }

  function apply(text, newEtag, when) {
    var data = JSON.parse(text);
    if (!usable(data)) {
      return;
    }
    etag = newEtag;
    fetchedAt = when;
    playlistText = text;
    store();
    rotation.update(data.slides);
    root.setAttribute('data-playlist-etag', etag || '');
    alerts.update(data.alerts || []);
  }

  var fetching = null;
  var again = false;

  // GET playlist.json (conditional); resolves true when the daemon answered. Asked
  // again while a fetch is under way, it fetches once more after it: the answer
  // under way may predate the change we were told about.
  function refresh() {
    if (fetching) {
      again = true;
      return fetching;
    }
    fetching = fetchPlaylist().then(function (answered) {
      fetching = null;
      if (answered) {
        events.serverAnswered();
      }
      if (again) {
        again = false;
        return refresh();
      }
      return answered;
    });
    return fetching;
  }

  function fetchPlaylist() {
    var headers = etag ? {'If-None-Match': etag} : {};
    return fetch(base + 'playlist.json', {credentials: 'same-origin', cache: 'no-store', headers: headers})
      .then(function (response) {
        if (response.status === 304) {
          fetchedAt = Date.now();
          store();
          return true;
        }
        if (!response.ok) {
          return false;
        }
        var tag = response.headers.get('ETag');
        return response.text().then(function (text) {
          apply(text, tag, Date.now());
          return true;
        });
      })
      .catch(function () {
        return false;  // the daemon or the network is gone: keep rotating what we have
      });
  }

  /* ---- the rotation ---- */

  var rotation = (function () {
    var layers = document.querySelectorAll('#stage .layer');
    var front = 0;
    var slides = [];
    var current = null;   // the slide on screen
    var anchor = {index: -1, key: null};  // the in-order slide the rotation continues after
    var fresh = [];       // keys new in a playlist update: shown next, fresh news first
    var freshShown = {};  // fresh keys already shown, skipped once at their place in the order
    var timer = null;
    var clearTimer = null;

    function indexOf(key) {
      for (var i = 0; i < slides.length; i++) {
        if (slides[i].key === key) {
          return i;
        }
      }
      return -1;
    }

    // The next slide and how it was chosen, without moving on.
    function pick() {
      if (fresh.length) {
        return {slide: slides[indexOf(fresh[0])], fresh: true};
      }
      for (var step = 1; step <= slides.length; step++) {
        var index = (anchor.index + step) % slides.length;
        if (!freshShown[slides[index].key] || step === slides.length) {
          return {slide: slides[index], fresh: false, index: index, skipped: step - 1};
        }
      }
      return null;
    }

    function advance() {
      clearTimeout(timer);
      var next = pick();
      if (!next) {
        return;  // no slides yet: the first playlist starts the rotation
      }
      if (next.fresh) {
        freshShown[fresh.shift()] = true;
      } else {
        for (var s = 1; s <= next.skipped; s++) {
          delete freshShown[slides[(anchor.index + s) % slides.length].key];
        }
        anchor = {index: next.index, key: next.slide.key};
      }
      show(next.slide);
    }

    function show(slide) {
      var incoming = layers[1 - front];
      var outgoing = layers[front];
      incoming.innerHTML = slide.html;  // rendered and escaped by the server
      hideBrokenImages(incoming);
      clocks.tick(incoming);
      incoming.classList.add('is-current');
      outgoing.classList.remove('is-current');
      front = 1 - front;
      current = slide;
      root.setAttribute('data-slide', slide.key);
      clearTimeout(clearTimer);
      // Empty the faded-out layer: a hidden iframe would keep running.
      clearTimer = setTimeout(function () {
        outgoing.innerHTML = '';
      }, FADE_MS + 100);
      timer = setTimeout(advance, Math.max(1, Number(slide.duration) || 10) * 1000);
      preload(pick());
    }

    // An image that cannot load (the intranet is down, the file is gone) leaves no broken icon:
    // its box goes, and the slide's text has the room.
    function hideBrokenImages(layer) {
      var images = layer.querySelectorAll('img');
      for (var i = 0; i < images.length; i++) {
        images[i].addEventListener('error', function (event) {
          var image = event.target;
          var box = image.parentNode;
          if (image.classList.contains('logo') || box.tagName === 'SECTION') {
            box = image;  // a footer keeps its note, an image slide its caption
          }
          box.hidden = true;
          if (box !== image && box.parentNode && box.parentNode.classList) {
            box.parentNode.classList.remove(box.classList.contains('qr') ? 'has-qr' : 'has-media');
          }
        });
      }
    }

    function preload(next) {
      var images = next && next.slide.images ? next.slide.images : [];
      for (var i = 0; i < images.length; i++) {
        new Image().src = images[i];
      }
    }

    // "item:news:42#2" is the second showing of "item:news:42": not news twice.
    function showing(key) {
      return String(key).split('#')[0];
    }

    // A new playlist: the slide on screen stays; slides with new keys come
    // next, then the order resumes after the slide it had reached.
    function update(newSlides) {
      var first = slides.length === 0;
      var known = {};
      for (var i = 0; i < slides.length; i++) {
        known[showing(slides[i].key)] = true;
      }
      var newKeys = [];
      for (var j = 0; j < newSlides.length && !first; j++) {
        var key = showing(newSlides[j].key);
        if (!known[key]) {
          known[key] = true;
          newKeys.push(newSlides[j].key);
        }
      }
      var oldIndex = anchor.index;
      slides = newSlides;
      fresh = newKeys.concat(fresh).filter(function (key) { return indexOf(key) >= 0; });
      var kept = indexOf(anchor.key);
      // The anchor slide is gone: its successor now stands where it stood.
      anchor.index = kept >= 0 ? kept : Math.max(-1, Math.min(oldIndex, slides.length) - 1);
      if (first) {
        advance();
      } else {
        preload(pick());
      }
    }

    return {update: update, current: function () { return current; }};
  })();

  /* ---- clocks: the time on clock and idle slides stays right offline ---- */

  var clocks = {
    tick: function (scope) {
      var times = scope.querySelectorAll('.slide-clock time.time, .slide-idle time.time');
      for (var i = 0; i < times.length; i++) {
        // The server's time zone is the offset it wrote: "2024-05-08T12:00+02:00".
        var offset = /([+-])(\d\d):(\d\d)$/.exec(times[i].getAttribute('datetime') || '');
        if (!offset) {
          continue;
        }
        var minutes = (offset[1] === '-' ? -1 : 1) * (Number(offset[2]) * 60 + Number(offset[3]));
        var local = new Date(Date.now() + minutes * 60000);
        var text = pad(local.getUTCHours()) + ':' + pad(local.getUTCMinutes());
        if (times[i].textContent !== text) {
          times[i].textContent = text;
        }
      }
    }
  };

  function pad(n) {
    return (n < 10 ? '0' : '') + n;
  }

  /* ---- alerts: a takeover over everything, banners in a strip ---- */

  var alerts = (function () {
    var takeover = document.getElementById('takeover');
    var banner = document.getElementById('banner');
    var all = [];
    var shownTakeover = '';
    var shownBanners = '';
    var bannerIndex = 0;
    var bannerSince = 0;

    function expired(alert, now) {
      if (!alert.expires) {
        return false;
      }
      // Python writes microseconds; older engines parse at most milliseconds.
      var when = Date.parse(String(alert.expires).replace(/(\.\d{3})\d+/, '$1'));
      return !isNaN(when) && when <= now;
    }

    function signature(list) {
      return list.map(function (alert) { return alert.key + '\n' + alert.html; }).join('\n');
    }

    // Called every second: an alert leaves when it expires by this screen's clock, server or no server.
    function render() {
      var now = Date.now();
      var live = all.filter(function (alert) { return !expired(alert, now); });
      var top = live.filter(function (alert) { return alert.mode === 'takeover'; }).slice(0, 1);
      if (signature(top) !== shownTakeover) {
        takeover.innerHTML = top.length ? top[0].html : '';  // rendered and escaped by the server
        takeover.hidden = !top.length;
        shownTakeover = signature(top);
      }
      var strip = live.filter(function (alert) { return alert.mode === 'banner'; });
      var changed = signature(strip) !== shownBanners;
      if (changed || (strip.length > 1 && now - bannerSince >= BANNER_MS)) {
        bannerIndex = changed ? 0 : (bannerIndex + 1) % strip.length;
        bannerSince = now;
        banner.innerHTML = strip.length ? strip[bannerIndex].html : '';  // rendered and escaped by the server
        banner.hidden = !strip.length;
        root.classList.toggle('has-banner', strip.length > 0);
        shownBanners = signature(strip);
      }
    }

    function update(list) {
      all = list;
      render();
    }

    return {update: update, tick: render};
  })();

  /* ---- live updates: server-sent events with our own backoff ---- */

  var events = (function () {
    var source = null;
    var attempts = 0;
    var retry = null;

    function connect() {
      retry = null;
      source = new EventSource(base + 'events');
      source.addEventListener('hello', function (event) {
        attempts = 0;
        root.setAttribute('data-state', 'online');
        var hello = {};
        try {
          hello = JSON.parse(event.data);
        } catch (e) {
          hello = {};
        }
        if (hello.version && hello.version !== version) {
          location.reload();  // the daemon was upgraded: load its page and script
          return;
        }
        refresh();  // changes may have happened while we were away
      });
      source.addEventListener('playlist', refresh);
      source.addEventListener('reload', function () {
        location.reload();  // the theme or the config changed
      });
      source.onerror = function () {
        // EventSource retries on its own, without backoff; we take over.
        source.close();
        source = null;
        root.setAttribute('data-state', 'offline');
        var delay = Math.min(MAX_BACKOFF_MS, 1000 * Math.pow(2, attempts)) * (0.5 + Math.random());
        attempts += 1;
        retry = setTimeout(connect, delay);
      };
    }

    // A heartbeat or fetch got through while the stream is down: the daemon is back, no need to wait out the backoff.
    function serverAnswered() {
      if (retry !== null) {
        clearTimeout(retry);
        connect();
      }
    }

    return {connect: connect, serverAnswered: serverAnswered};
  })();

  /* ---- heartbeat, safety net, daily reload, service worker ---- */

  function heartbeat() {
    var memory = window.performance && performance.memory;
    var beat = {
      width: window.innerWidth,
      height: window.innerHeight,
      slide: rotation.current() ? rotation.current().key : null,
      playlist_age: fetchedAt === null ? null : Math.max(0, Date.now() - fetchedAt) / 1000,
      version: version,
      heap: memory && memory.usedJSHeapSize ? Math.round(memory.usedJSHeapSize) : null
    };
    fetch(base + 'heartbeat', {
      method: 'POST',
      credentials: 'same-origin',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify(beat)
    }).then(function (response) {
      if (response.ok) {
        events.serverAnswered();
      }
    }).catch(function () {
      // Offline: the next beat tries again.
    });
  }

  // Reload only into a working daemon: without a service worker a reload during an outage is a blank screen.
  function dailyReload() {
    if (Date.now() - startedAt > RELOAD_AFTER_MS && new Date().getHours() === RELOAD_HOUR) {
      refresh().then(function (answered) {
        if (answered) {
          location.reload();
        }
      });
    }
  }

  function registerWorker() {
    if ('serviceWorker' in navigator && window.isSecureContext) {
      navigator.serviceWorker.register('/screens/sw.js', {scope: '/screens/'}).catch(function () {
        // No worker: the HTTP cache and localStorage still carry the screen through an outage.
      });
    }
  }

  function pollPreview() {
    refresh().then(function (answered) {
      root.setAttribute('data-state', answered ? 'online' : 'offline');
    });
  }

  function start() {
    root.setAttribute('data-state', 'offline');
    var initial = initialPlaylist();
    if (initial) {
      apply(initial.body, initial.etag, initial.fetched_at);
    }
    setInterval(function () {
      alerts.tick();
      clocks.tick(document.getElementById('stage'));
    }, 1000);
    if (preview) {
      pollPreview();
      setInterval(pollPreview, PREVIEW_POLL_MS);
      return;
    }
    events.connect();
    heartbeat();
    setInterval(heartbeat, heartbeatMs);
    setInterval(refresh, SAFETY_REFETCH_MS);
    setInterval(dailyReload, 60000);
    registerWorker();
  }

  start();
})();
