/* The pairing page (screens/pairing.py): ask the daemon every few seconds whether an admin has
   claimed this page's code. The status answers 204 (still waiting), 410 (the code expired or was
   used: reload for a new one), or a 303 to the screen's page, which fetch follows and we then open.
   Plain ES5-style script with fetch, like player.js, for old smart-TV browsers. */
(function () {
  'use strict';

  var body = document.body;
  var status = body.getAttribute('data-status');
  var every = Number(body.getAttribute('data-poll')) * 1000;

  function later() {
    setTimeout(poll, every);
  }

  function poll() {
    fetch(status, {credentials: 'same-origin', cache: 'no-store'}).then(function (response) {
      if (response.redirected) {
        location.replace(response.url);  // paired: this TV is the screen now
      } else if (response.status === 410) {
        location.reload();
      } else {
        later();
      }
    }).catch(later);  // the daemon or the network is away: keep asking
  }

  later();
})();
