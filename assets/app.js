// The pages' one script, served from this server (/assets/app.<hash>.js) so that the
// pages' CSP allows no inline script (docs/security-headers.md). Each part acts only
// where its elements are on the page.
(function () {
  'use strict';

  // Language switch: keep the rest of the address (a reset token, where to return).
  document.querySelectorAll('a[data-lang]').forEach(function (a) {
    var q = new URLSearchParams(location.search);
    q.set('lang', a.dataset.lang);
    a.href = location.pathname + '?' + q.toString();
  });

  // A form that asks before it is sent (deleting, disabling): data-confirm holds the
  // question, in the page's language.
  document.querySelectorAll('form[data-confirm]').forEach(function (form) {
    form.addEventListener('submit', function (e) {
      if (!window.confirm(form.dataset.confirm)) { e.preventDefault(); }
    });
  });

  // Admin settings: the warning beside exact redirect matching shows while it is off.
  var exact = document.getElementById('set-exact_redirect_uri');
  var warn = document.getElementById('exact-warning');
  if (exact && warn) {
    exact.addEventListener('change', function () { warn.hidden = exact.checked; });
  }

  // Login page: sign in by scanning a QR code with a phone where one is signed in.
  var start = document.getElementById('scan-start');
  if (start) {
    var box = document.getElementById('scan-box');
    var code = document.getElementById('scan-code');
    var timer = null;
    var stop = function (text) {
      if (timer) { clearInterval(timer); timer = null; }
      box.hidden = true; start.hidden = false; start.textContent = text;
    };
    start.addEventListener('click', function () {
      var form = new URLSearchParams();
      form.set('csrf_token', document.querySelector('input[name=csrf_token]').value);
      form.set('return_to', document.querySelector('input[name=return_to]').value);
      fetch('/login/qr', { method: 'POST', body: form, credentials: 'same-origin' })
        .then(function (r) { if (!r.ok) { throw r; } return r.json(); })
        .then(function (q) {
          // The server's own SVG (it draws the code; nothing in it comes from input).
          code.innerHTML = q.svg; code.dataset.url = q.url; box.hidden = false; start.hidden = true;
          timer = setInterval(function () {
            fetch('/login/qr/' + encodeURIComponent(q.id), { credentials: 'same-origin' })
              .then(function (r) { return r.json(); })
              .then(function (s) {
                if (s.state === 'confirmed') { clearInterval(timer); location.href = s.to; }
                else if (s.state !== 'pending') { stop(start.dataset.again); }
              });
          }, 2000);
        })
        .catch(function () { stop(start.dataset.again); });
    });
  }
})();
