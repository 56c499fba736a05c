/*!
 * Support bot — shopper chat widget.
 *
 * Plain JavaScript, no dependencies, no build step. Embed with one tag:
 *
 *   <script src="https://bot.example.com/static/support_bot/widget.js"
 *           data-server="https://bot.example.com" data-customer-token="..."
 *           data-shop-name="Demo Outfitters" data-language="en" defer></script>
 *
 * See docs/widget.md for the attributes and docs/protocol.md for the wire protocol.
 * Message text is never parsed as HTML: every node is built with createElement and
 * textContent (a small markdown subset is rendered by hand, see renderRich()).
 */
(function () {
  'use strict';

  if (typeof window === 'undefined' || typeof document === 'undefined') return;
  // Loaded twice on the same page: keep the first instance.
  if (window.SupportBotWidget && window.SupportBotWidget.__sbw) return;

  var VERSION = '1.0.0';
  var MAX_TEXT_CHARS = 4000; // protocol: a message text over 4,000 characters is refused
  var MAX_FRAME_BYTES = 8192; // protocol: a frame over 8 KB is refused
  var PING_INTERVAL_MS = 25000;
  var PONG_TIMEOUT_MS = 10000;
  var RESEND_AFTER_MS = 20000; // an unacked message is re-sent (same client_id) after this
  var BACKOFF_BASE_MS = 500;
  var BACKOFF_MAX_MS = 15000;
  var OFFLINE_AFTER_ATTEMPTS = 4; // failed reconnects before the header says "Offline"
  // The server's close code for "too many connections from this address this minute".
  var CLOSE_TOO_MANY = 4029;
  var TOO_MANY_WAIT_MS = 60000;
  var TYPING_SEND_INTERVAL_MS = 3000;
  var TYPING_HIDE_BOT_MS = 60000;
  var TYPING_HIDE_AGENT_MS = 8000;
  var VERIFY_TIMEOUT_MS = 15000;
  var NOTICE_HIDE_MS = 9000;
  var COUNTER_FROM_CHARS = 3500;
  var SVG_NS = 'http://www.w3.org/2000/svg';

  var STRINGS = {
    defaultTitle: 'Support',
    launcher: 'Open support chat',
    launcherUnread: function (n) {
      return 'Open support chat (' + n + (n === 1 ? ' new message)' : ' new messages)');
    },
    dialog: function (shop) {
      return shop ? 'Chat with ' + shop : 'Support chat';
    },
    close: 'Close chat',
    log: 'Conversation',
    empty: 'Hi! Ask us about products, shipping, returns or your order.',
    inputLabel: 'Your message',
    inputPlaceholder: 'Write a message…',
    send: 'Send message',
    connection: {
      connecting: 'Connecting…',
      open: 'Online',
      reconnecting: 'Reconnecting…',
      offline: 'Offline'
    },
    retry: 'Retry now',
    roles: { shopper: 'You', bot: 'Assistant', agent: 'Support agent', system: 'Notice' },
    pendingOnline: 'Sending…',
    pendingOffline: 'Waiting for connection…',
    failed: 'Not sent',
    typing: { bot: 'Assistant is typing…', agent: 'Support agent is typing…' },
    state: {
      bot: 'You are chatting with our virtual assistant',
      waiting: 'Waiting for a person to join…',
      agent: 'You are chatting with a person from our support team',
      resolved: 'This conversation is resolved'
    },
    verifyLink: 'Ask about an order? Verify it first',
    verifyTitle: 'Verify your order',
    verifyHint: 'Enter your order number and the email address or postal code used for the order.',
    verifyOrder: 'Order number',
    verifyContact: 'Email or postal code',
    verifySubmit: 'Verify',
    verifyCancel: 'Cancel',
    verifyMissing: 'Please fill in both fields.',
    verifySignedIn: function (name) {
      return name ? 'Signed in as ' + name : 'Signed in';
    },
    verifiedAs: function (name) {
      return name ? 'Order verified — ' + name : 'Order verified';
    },
    verifiedNotice: function (name) {
      return name ? 'Thanks, ' + name + '! Your order is verified.' : 'Thanks! Your order is verified.';
    },
    ratingTitle: 'How did we do?',
    ratingStar: function (n) {
      return n === 1 ? '1 star' : n + ' stars';
    },
    ratingComment: 'Anything to add? (optional)',
    ratingSubmit: 'Send feedback',
    ratingDismiss: 'Not now',
    ratingThanks: 'Thanks for your feedback!',
    dismiss: 'Dismiss',
    offlineAction: 'You are offline right now. Please try again when the connection is back.',
    tooLong: 'That message is too long. Please shorten it to 4,000 characters or fewer.',
    guestFallback: 'We could not sign you in, so you are chatting as a guest.',
    tooManyConnections: 'Too many chats were opened from your network just now. We will reconnect in a minute.',
    errors: {
      bad_json: 'Something went wrong sending that. Please try again.',
      bad_frame: 'Something went wrong sending that. Please try again.',
      unknown_type: 'Something went wrong sending that. Please try again.',
      too_large: 'That message is too long. Please shorten it and send it again.',
      rate_limited: 'You are sending messages a little too quickly. Please wait a moment and try again.',
      hello_required: 'Reconnecting to the chat…',
      forbidden: 'That is not allowed in this conversation.',
      verification_failed: 'We could not verify that order. Please check the order number and the email or postal code.',
      verification_locked: 'Too many verification attempts. Please try again later.',
      reply_failed: 'Sorry, we could not answer just now. Please try again in a moment.',
      generic: 'Something went wrong. Please try again.'
    }
  };

  // ---------------------------------------------------------------------------
  // Configuration from the script tag
  // ---------------------------------------------------------------------------

  function findScript() {
    var scripts = document.getElementsByTagName('script');
    var i;
    for (i = scripts.length - 1; i >= 0; i--) {
      if (/\/support_bot\/widget\.js(?:[?#]|$)/.test(scripts[i].src || '')) return scripts[i];
    }
    for (i = scripts.length - 1; i >= 0; i--) {
      if (/widget\.js(?:[?#]|$)/.test(scripts[i].src || '')) return scripts[i];
    }
    return null;
  }

  function parseUrl(value, base) {
    try {
      return new URL(value, base);
    } catch (e) {
      return null;
    }
  }

  var scriptEl = document.currentScript || findScript();
  var scriptUrl = scriptEl && scriptEl.src ? parseUrl(scriptEl.src, window.location.href) : null;

  function dataAttr(name) {
    var v = scriptEl ? scriptEl.getAttribute('data-' + name) : null;
    if (v == null) return null;
    v = String(v).trim();
    return v === '' ? null : v;
  }

  var serverUrl = parseUrl(
    dataAttr('server') || (scriptUrl ? scriptUrl.origin : window.location.origin),
    window.location.href
  );
  if (!serverUrl || !/^https?:$/.test(serverUrl.protocol)) {
    if (window.console) window.console.warn('[support bot] data-server must be an http(s) URL; widget not started.');
    return;
  }
  var serverPath = serverUrl.pathname.replace(/\/+$/, '');
  var serverOrigin = serverUrl.origin;
  var serverBase = serverOrigin + serverPath; // namespace for storage keys
  var wsUrl = (serverUrl.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + serverUrl.host + serverPath + '/ws/chat/';

  var customerToken = dataAttr('customer-token');
  var language = dataAttr('language');
  var shopName = dataAttr('shop-name');
  var openAtLoad = /^(?:true|1|yes|open)$/i.test(dataAttr('open') || '');

  // ---------------------------------------------------------------------------
  // Small utilities
  // ---------------------------------------------------------------------------

  function has(obj, key) {
    return Object.prototype.hasOwnProperty.call(obj, key);
  }

  function makeStore(kind) {
    var memory = {};
    var backend = null;
    try {
      backend = window[kind];
      var probe = '__sbw_probe__';
      backend.setItem(probe, '1');
      backend.removeItem(probe);
    } catch (e) {
      backend = null; // private mode, blocked storage, sandboxed iframe…
    }
    return {
      get: function (key) {
        if (backend) {
          try {
            var v = backend.getItem(key);
            if (v !== null) return v;
          } catch (e) { /* fall through to memory */ }
        }
        return has(memory, key) ? memory[key] : null;
      },
      set: function (key, value) {
        memory[key] = value;
        if (backend) {
          try { backend.setItem(key, value); } catch (e) { /* quota: memory copy is enough */ }
        }
      },
      remove: function (key) {
        delete memory[key];
        if (backend) {
          try { backend.removeItem(key); } catch (e) { /* ignore */ }
        }
      }
    };
  }

  var local = makeStore('localStorage');
  var session = makeStore('sessionStorage');

  // cyrb53: a small, fast, non-cryptographic 53-bit string hash. Only used to keep the
  // customer token itself out of storage key names.
  function shortHash(str) {
    var h1 = 0xdeadbeef;
    var h2 = 0x41c6ce57;
    for (var i = 0; i < str.length; i++) {
      var ch = str.charCodeAt(i);
      h1 = Math.imul(h1 ^ ch, 2654435761);
      h2 = Math.imul(h2 ^ ch, 1597334677);
    }
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
  }

  function identityKey() {
    return customerToken ? 'c-' + shortHash(customerToken) : 'anon';
  }

  // kind: "conversation" / "rated" (localStorage), "queue" (sessionStorage)
  function storageKey(kind) {
    return 'sbw:' + kind + ':' + serverBase + ':' + identityKey();
  }

  function uuid() {
    var c = window.crypto || window.msCrypto;
    try {
      if (c && typeof c.randomUUID === 'function') return c.randomUUID();
    } catch (e) { /* insecure context */ }
    var b = new Uint8Array(16);
    if (c && typeof c.getRandomValues === 'function') {
      c.getRandomValues(b);
    } else {
      for (var j = 0; j < 16; j++) b[j] = Math.floor(Math.random() * 256);
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var hex = [];
    for (var i = 0; i < 16; i++) hex.push((b[i] + 0x100).toString(16).slice(1));
    return (
      hex.slice(0, 4).join('') + '-' + hex.slice(4, 6).join('') + '-' + hex.slice(6, 8).join('') + '-' +
      hex.slice(8, 10).join('') + '-' + hex.slice(10, 16).join('')
    );
  }

  function byteLength(str) {
    if (typeof TextEncoder !== 'undefined') return new TextEncoder().encode(str).length;
    return unescape(encodeURIComponent(str)).length;
  }

  function charLength(str) {
    return Array.from(str).length; // code points, like the server's len()
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      for (var key in attrs) {
        if (!has(attrs, key)) continue;
        var value = attrs[key];
        if (value == null || value === false) continue;
        if (key === 'class') node.className = value;
        else if (key === 'text') node.textContent = value;
        else if (key === 'hidden') node.hidden = true;
        else node.setAttribute(key, value === true ? '' : String(value));
      }
    }
    if (children) {
      for (var i = 0; i < children.length; i++) {
        var child = children[i];
        if (child == null) continue;
        node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
      }
    }
    return node;
  }

  function icon(paths, extraClass) {
    var svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('class', 'sbw-icon' + (extraClass ? ' ' + extraClass : ''));
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', '20');
    svg.setAttribute('height', '20');
    svg.setAttribute('fill', 'none');
    svg.setAttribute('stroke', 'currentColor');
    svg.setAttribute('stroke-width', '2');
    svg.setAttribute('stroke-linecap', 'round');
    svg.setAttribute('stroke-linejoin', 'round');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    for (var i = 0; i < paths.length; i++) {
      var p = document.createElementNS(SVG_NS, 'path');
      p.setAttribute('d', paths[i]);
      svg.appendChild(p);
    }
    return svg;
  }

  var ICON_CHAT = ['M21 11.5a8.4 8.4 0 0 1-9 8.4 8.9 8.9 0 0 1-4.1-1L3 20l1.2-4.3A8 8 0 0 1 3 11.5 8.5 8.5 0 0 1 12 3a8.5 8.5 0 0 1 9 8.5z'];
  var ICON_CLOSE = ['M6 6l12 12', 'M18 6L6 18'];
  var ICON_SEND = ['M22 2L11 13', 'M22 2l-7 20-4-9-9-4 20-7z'];

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  var idCounter = 0;
  function uid(name) {
    idCounter += 1;
    return 'sbw-' + name + '-' + idCounter + '-' + Math.random().toString(36).slice(2, 7);
  }

  // ---------------------------------------------------------------------------
  // Safe rich text: line breaks, "- " / "* " / "1. " lists, **bold**, same-origin links
  // ---------------------------------------------------------------------------

  function safeHref(href) {
    var url = parseUrl(href, window.location.href);
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) return null;
    if (url.origin === window.location.origin || url.origin === serverOrigin) return url.href;
    return null;
  }

  function makeLink(href, label) {
    return el('a', {
      class: 'sbw-link',
      href: href,
      target: '_blank',
      rel: 'noopener noreferrer',
      text: label
    });
  }

  function trimUrl(raw) {
    // Drop trailing punctuation that belongs to the sentence, keeping balanced ")".
    var url = raw;
    for (;;) {
      var last = url.charAt(url.length - 1);
      if (/[.,;:!?'"\]}>*]/.test(last)) {
        url = url.slice(0, -1);
      } else if (last === ')' && (url.split('(').length < url.split(')').length)) {
        url = url.slice(0, -1);
      } else {
        break;
      }
    }
    return url;
  }

  function appendLinks(parent, text) {
    var re = /\[([^\]\n]+)\]\(\s*([^()\s]+)\s*\)|\bhttps?:\/\/[^\s<>"'`]+/gi;
    var last = 0;
    var m;
    while ((m = re.exec(text))) {
      var start = m.index;
      if (m[1] !== undefined) {
        if (start > last) parent.appendChild(document.createTextNode(text.slice(last, start)));
        var href = safeHref(m[2]);
        if (href) parent.appendChild(makeLink(href, m[1]));
        else parent.appendChild(document.createTextNode(m[1] + ' (' + m[2] + ')'));
        last = re.lastIndex;
      } else {
        var raw = trimUrl(m[0]);
        if (!raw || raw.length < 9) continue;
        if (start > last) parent.appendChild(document.createTextNode(text.slice(last, start)));
        var bare = safeHref(raw);
        if (bare) parent.appendChild(makeLink(bare, raw));
        else parent.appendChild(document.createTextNode(raw));
        last = start + raw.length;
        re.lastIndex = last;
      }
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function appendInline(parent, text) {
    var re = /\*\*(\S(?:[^\n]*?\S)?)\*\*/g;
    var last = 0;
    var m;
    while ((m = re.exec(text))) {
      if (m.index > last) appendLinks(parent, text.slice(last, m.index));
      var strong = el('strong', { class: 'sbw-md-bold' });
      appendLinks(strong, m[1]);
      parent.appendChild(strong);
      last = re.lastIndex;
    }
    if (last < text.length) appendLinks(parent, text.slice(last));
  }

  function renderRich(container, text) {
    clear(container);
    var lines = String(text).replace(/\r\n?/g, '\n').split('\n');
    var para = null;
    var list = null;
    var listType = null;
    var lastItem = null;
    for (var i = 0; i < lines.length; i++) {
      var line = lines[i];
      var ul = /^\s{0,6}[-*\u2022]\s+(.*)$/.exec(line);
      var ol = ul ? null : /^\s{0,6}(\d{1,4})[.)]\s+(.*)$/.exec(line);
      if (ul || ol) {
        var type = ul ? 'ul' : 'ol';
        para = null;
        if (!list || listType !== type) {
          list = el(type, { class: 'sbw-md-list sbw-md-' + type });
          if (ol && ol[1] !== '1') list.setAttribute('start', String(parseInt(ol[1], 10)));
          container.appendChild(list);
          listType = type;
        }
        lastItem = el('li');
        appendInline(lastItem, ul ? ul[1] : ol[2]);
        list.appendChild(lastItem);
        continue;
      }
      if (/^\s*$/.test(line)) {
        para = null;
        list = null;
        lastItem = null;
        continue;
      }
      if (list && lastItem && /^\s{2,}\S/.test(line)) {
        // indented continuation of a list item
        lastItem.appendChild(el('br'));
        appendInline(lastItem, line.trim());
        continue;
      }
      list = null;
      lastItem = null;
      var heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
      if (heading) {
        para = null;
        var h = el('p', { class: 'sbw-md-p sbw-md-heading' });
        var strong = el('strong', { class: 'sbw-md-bold' });
        appendInline(strong, heading[1]);
        h.appendChild(strong);
        container.appendChild(h);
        continue;
      }
      if (!para) {
        para = el('p', { class: 'sbw-md-p' });
        container.appendChild(para);
      } else {
        para.appendChild(el('br'));
      }
      appendInline(para, line);
    }
  }

  // ---------------------------------------------------------------------------
  // DOM
  // ---------------------------------------------------------------------------

  var ids = {
    panel: uid('panel'),
    title: uid('title'),
    input: uid('input'),
    verifyOrder: uid('verify-order'),
    verifyContact: uid('verify-contact'),
    verifyTitle: uid('verify-title'),
    ratingTitle: uid('rating-title'),
    ratingComment: uid('rating-comment'),
    counter: uid('counter')
  };

  var root = el('div', { class: 'sbw-root', 'data-sbw-version': VERSION });

  // Launcher
  var badge = el('span', { class: 'sbw-badge', 'aria-hidden': 'true', hidden: true });
  var launcher = el('button', {
    type: 'button',
    class: 'sbw-launcher',
    'data-testid': 'sbw-launcher',
    'aria-label': STRINGS.launcher,
    'aria-expanded': 'false',
    'aria-controls': ids.panel
  }, [icon(ICON_CHAT, 'sbw-icon--launcher'), badge]);

  // Header
  var connText = el('span', { class: 'sbw-connection__text', text: STRINGS.connection.connecting });
  var retryBtn = el('button', { type: 'button', class: 'sbw-retry', text: STRINGS.retry, hidden: true });
  var connEl = el('div', {
    class: 'sbw-connection',
    'data-testid': 'sbw-connection',
    'data-state': 'connecting'
  }, [el('span', { class: 'sbw-connection__dot', 'aria-hidden': 'true' }), connText, retryBtn]);
  var closeBtn = el('button', {
    type: 'button',
    class: 'sbw-close',
    'aria-label': STRINGS.close,
    'data-testid': 'sbw-close'
  }, [icon(ICON_CLOSE)]);
  var header = el('div', { class: 'sbw-header' }, [
    el('div', { class: 'sbw-header__text' }, [
      el('h2', { class: 'sbw-title', id: ids.title, text: shopName || STRINGS.defaultTitle }),
      connEl
    ]),
    closeBtn
  ]);

  // Conversation state line and notices
  var stateEl = el('div', { class: 'sbw-state', 'data-testid': 'sbw-state', hidden: true });
  var noticeText = el('span', { class: 'sbw-notice__text' });
  var noticeClose = el('button', {
    type: 'button',
    class: 'sbw-notice__close',
    'aria-label': STRINGS.dismiss
  }, [icon(ICON_CLOSE, 'sbw-icon--small')]);
  var noticeBox = el('div', { class: 'sbw-notice', hidden: true }, [noticeText, noticeClose]);
  // The live region stays in the DOM; only its child is shown or hidden.
  var noticeRegion = el('div', {
    class: 'sbw-notice-region',
    role: 'status',
    'aria-live': 'polite',
    'data-testid': 'sbw-notice'
  }, [noticeBox]);

  // Messages
  var emptyEl = el('p', { class: 'sbw-empty', text: STRINGS.empty });
  var logEl = el('div', {
    class: 'sbw-log',
    role: 'log',
    'aria-live': 'polite',
    'aria-relevant': 'additions',
    'aria-label': STRINGS.log,
    'data-testid': 'sbw-log'
  });
  var typingLabel = el('span', { class: 'sbw-typing__label', text: STRINGS.typing.bot });
  var typingEl = el('div', {
    class: 'sbw-typing',
    'data-testid': 'sbw-typing',
    'data-role': 'bot',
    hidden: true
  }, [
    el('span', { class: 'sbw-typing__dots', 'aria-hidden': 'true' }, [
      el('span', { class: 'sbw-typing__dot' }),
      el('span', { class: 'sbw-typing__dot' }),
      el('span', { class: 'sbw-typing__dot' })
    ]),
    typingLabel
  ]);

  // Rating prompt
  var stars = [];
  var starGroup = el('div', { class: 'sbw-stars', role: 'group', 'aria-labelledby': ids.ratingTitle });
  for (var s = 1; s <= 5; s++) {
    var star = el('button', {
      type: 'button',
      class: 'sbw-star',
      'data-score': String(s),
      'data-testid': 'sbw-rating-star',
      'aria-pressed': 'false',
      'aria-label': STRINGS.ratingStar(s)
    }, [el('span', { 'aria-hidden': 'true', text: '\u2605' })]);
    stars.push(star);
    starGroup.appendChild(star);
  }
  var ratingComment = el('textarea', {
    id: ids.ratingComment,
    class: 'sbw-field__input sbw-field__input--area',
    rows: '2',
    maxlength: '1000',
    'data-testid': 'sbw-rating-comment'
  });
  var ratingSubmit = el('button', {
    type: 'submit',
    class: 'sbw-btn sbw-btn--primary',
    'data-testid': 'sbw-rating-submit',
    text: STRINGS.ratingSubmit
  });
  var ratingDismiss = el('button', { type: 'button', class: 'sbw-btn sbw-btn--ghost', text: STRINGS.ratingDismiss });
  var ratingFields = el('div', { class: 'sbw-rating__fields' }, [
    starGroup,
    el('div', { class: 'sbw-field' }, [
      el('label', { class: 'sbw-field__label', for: ids.ratingComment, text: STRINGS.ratingComment }),
      ratingComment
    ]),
    el('div', { class: 'sbw-actions' }, [ratingSubmit, ratingDismiss])
  ]);
  var ratingThanks = el('p', { class: 'sbw-rating__thanks', text: STRINGS.ratingThanks, hidden: true });
  var ratingForm = el('form', {
    class: 'sbw-card sbw-rating',
    'data-testid': 'sbw-rating',
    'aria-labelledby': ids.ratingTitle,
    novalidate: true,
    hidden: true
  }, [
    el('p', { class: 'sbw-card__title', id: ids.ratingTitle, text: STRINGS.ratingTitle }),
    ratingFields,
    ratingThanks
  ]);

  // Order verification
  var verifyOrder = el('input', {
    id: ids.verifyOrder,
    class: 'sbw-field__input',
    type: 'text',
    name: 'order_number',
    autocomplete: 'off',
    maxlength: '64',
    required: true,
    'data-testid': 'sbw-verify-order'
  });
  var verifyContact = el('input', {
    id: ids.verifyContact,
    class: 'sbw-field__input',
    type: 'text',
    name: 'contact',
    autocomplete: 'email',
    maxlength: '254',
    required: true,
    'data-testid': 'sbw-verify-contact'
  });
  var verifyError = el('p', { class: 'sbw-form-error', role: 'alert', 'data-testid': 'sbw-verify-error', hidden: true });
  var verifySubmit = el('button', {
    type: 'submit',
    class: 'sbw-btn sbw-btn--primary',
    'data-testid': 'sbw-verify-submit',
    text: STRINGS.verifySubmit
  });
  var verifyCancel = el('button', { type: 'button', class: 'sbw-btn sbw-btn--ghost', text: STRINGS.verifyCancel });
  var verifyForm = el('form', {
    id: uid('verify'),
    class: 'sbw-card sbw-verify',
    'data-testid': 'sbw-verify',
    'aria-labelledby': ids.verifyTitle,
    novalidate: true,
    hidden: true
  }, [
    el('p', { class: 'sbw-card__title', id: ids.verifyTitle, text: STRINGS.verifyTitle }),
    el('p', { class: 'sbw-card__hint', text: STRINGS.verifyHint }),
    el('div', { class: 'sbw-field' }, [
      el('label', { class: 'sbw-field__label', for: ids.verifyOrder, text: STRINGS.verifyOrder }),
      verifyOrder
    ]),
    el('div', { class: 'sbw-field' }, [
      el('label', { class: 'sbw-field__label', for: ids.verifyContact, text: STRINGS.verifyContact }),
      verifyContact
    ]),
    verifyError,
    el('div', { class: 'sbw-actions' }, [verifySubmit, verifyCancel])
  ]);

  var scrollEl = el('div', { class: 'sbw-scroll' }, [emptyEl, logEl, typingEl, ratingForm, verifyForm]);

  var verifyLink = el('button', {
    type: 'button',
    class: 'sbw-verify-link',
    'data-testid': 'sbw-verify-link',
    'aria-controls': verifyForm.id || null,
    text: STRINGS.verifyLink
  });
  var identityEl = el('p', { class: 'sbw-identity', 'data-testid': 'sbw-identity', hidden: true });
  var footerBar = el('div', { class: 'sbw-bar' }, [verifyLink, identityEl]);

  // Composer
  var input = el('textarea', {
    id: ids.input,
    class: 'sbw-input',
    rows: '1',
    placeholder: STRINGS.inputPlaceholder,
    'data-testid': 'sbw-input',
    'aria-describedby': ids.counter,
    autocomplete: 'off'
  });
  var sendBtn = el('button', {
    type: 'submit',
    class: 'sbw-send',
    'data-testid': 'sbw-send',
    'aria-label': STRINGS.send
  }, [icon(ICON_SEND)]);
  var counterEl = el('div', { class: 'sbw-counter', id: ids.counter, hidden: true });
  var composer = el('form', { class: 'sbw-composer', novalidate: true }, [
    el('label', { class: 'sbw-sr-only', for: ids.input, text: STRINGS.inputLabel }),
    input,
    sendBtn,
    counterEl
  ]);

  var panel = el('div', {
    id: ids.panel,
    class: 'sbw-panel',
    role: 'dialog',
    'aria-label': STRINGS.dialog(shopName),
    'data-testid': 'sbw-panel',
    hidden: true
  }, [header, stateEl, noticeRegion, scrollEl, footerBar, composer]);

  root.appendChild(panel);
  root.appendChild(launcher);

  // ---------------------------------------------------------------------------
  // State
  // ---------------------------------------------------------------------------

  var isOpen = false;
  var started = false;
  var ws = null;
  var welcomed = false;
  var everWelcomed = false;
  var connState = 'connecting';
  var attempts = 0;
  var reconnectTimer = null;
  var retryNotBefore = 0; // no reconnect before this time (ms), after a 4029 close
  var pingTimer = null;
  var pongTimer = null;
  var helloRetries = 0;
  var sentConversation = null;

  var conversationToken = local.get(storageKey('conversation'));
  var convState = null;
  var customer = null;
  var unread = 0;

  var messages = Object.create(null); // message id -> entry
  var pending = Object.create(null); // client_id -> entry
  var queue = loadQueue(); // [{client_id, text, ts}] unacked shopper messages

  var typingTimer = null;
  var lastTypingSent = 0;
  var noticeTimer = null;

  var verifyOpen = false;
  var verifyBusyTimer = null;
  var ratingScore = 0;
  var ratingSent = false;
  var ratingDismissedFor = null;

  // ---------------------------------------------------------------------------
  // Queue of unacked shopper messages (survives reloads in sessionStorage)
  // ---------------------------------------------------------------------------

  function loadQueue() {
    var raw = session.get(storageKey('queue'));
    if (!raw) return [];
    try {
      var data = JSON.parse(raw);
      if (!Array.isArray(data)) return [];
      return data.filter(function (q) {
        return q && typeof q.client_id === 'string' && typeof q.text === 'string' && q.text;
      }).map(function (q) {
        return { client_id: q.client_id, text: q.text, ts: q.ts || Date.now(), sentAt: 0 };
      });
    } catch (e) {
      return [];
    }
  }

  function saveQueue() {
    var key = storageKey('queue');
    if (!queue.length) {
      session.remove(key);
      return;
    }
    session.set(key, JSON.stringify(queue.map(function (q) {
      return { client_id: q.client_id, text: q.text, ts: q.ts };
    })));
  }

  function removeFromQueue(clientId) {
    for (var i = 0; i < queue.length; i++) {
      if (queue[i].client_id === clientId) {
        var item = queue.splice(i, 1)[0];
        saveQueue();
        return item;
      }
    }
    return null;
  }

  // ---------------------------------------------------------------------------
  // Message bubbles
  // ---------------------------------------------------------------------------

  function normRole(role) {
    return role === 'shopper' || role === 'agent' || role === 'system' || role === 'bot' ? role : 'bot';
  }

  function createEntry(role) {
    role = normRole(role);
    var label = el('div', {
      class: 'sbw-msg__label' + (role === 'agent' ? '' : ' sbw-sr-only'),
      text: STRINGS.roles[role]
    });
    var bubble = el('div', {
      class: 'sbw-msg sbw-msg--' + role,
      'data-testid': 'sbw-message',
      'data-role': role,
      'data-status': 'done'
    });
    var meta = el('div', { class: 'sbw-msg__meta', hidden: true });
    var row = el('div', { class: 'sbw-row sbw-row--' + role }, [label, bubble, meta]);
    return {
      id: null,
      clientId: null,
      role: role,
      status: 'done',
      text: '',
      lastSeq: 0,
      buffer: Object.create(null),
      row: row,
      label: label,
      bubble: bubble,
      meta: meta
    };
  }

  function setRole(entry, role) {
    role = normRole(role);
    if (entry.role === role) return;
    entry.row.className = 'sbw-row sbw-row--' + role;
    entry.bubble.className = 'sbw-msg sbw-msg--' + role;
    entry.bubble.setAttribute('data-role', role);
    entry.label.className = 'sbw-msg__label' + (role === 'agent' ? '' : ' sbw-sr-only');
    entry.label.textContent = STRINGS.roles[role];
    entry.role = role;
    renderText(entry);
  }

  function setId(entry, id) {
    entry.id = String(id);
    entry.bubble.setAttribute('data-message-id', entry.id);
    messages[entry.id] = entry;
  }

  function renderMeta(entry) {
    var text = '';
    if (entry.status === 'pending') {
      text = connState === 'open' ? STRINGS.pendingOnline : STRINGS.pendingOffline;
    } else if (entry.status === 'failed' && entry.role === 'shopper') {
      text = STRINGS.failed;
    }
    entry.meta.textContent = text;
    entry.meta.hidden = !text;
  }

  function setStatus(entry, status) {
    entry.status = status;
    entry.bubble.setAttribute('data-status', status);
    if (status === 'streaming') entry.bubble.setAttribute('aria-busy', 'true');
    else entry.bubble.removeAttribute('aria-busy');
    renderMeta(entry);
    renderText(entry);
  }

  function renderText(entry) {
    // Streaming text and shopper text are shown as plain text (pre-wrap); finished
    // replies get the markdown subset. Either way only text nodes carry the content.
    var plain = entry.role === 'shopper' || entry.status === 'streaming';
    entry.bubble.classList.toggle('sbw-msg--plain', plain);
    if (plain) {
      if (entry.text) entry.bubble.textContent = entry.text;
      else clear(entry.bubble);
    } else {
      renderRich(entry.bubble, entry.text);
    }
  }

  function setText(entry, text) {
    entry.text = text == null ? '' : String(text);
    renderText(entry);
  }

  function appendEntry(entry) {
    logEl.appendChild(entry.row);
    updateEmpty();
  }

  function removeEntry(entry) {
    if (entry.row.parentNode) entry.row.parentNode.removeChild(entry.row);
    if (entry.id && messages[entry.id] === entry) delete messages[entry.id];
    updateEmpty();
  }

  function updateEmpty() {
    emptyEl.hidden = logEl.childNodes.length > 0;
  }

  function addPendingBubble(item) {
    var entry = createEntry('shopper');
    entry.clientId = item.client_id;
    entry.bubble.setAttribute('data-client-id', item.client_id);
    entry.text = item.text;
    setStatus(entry, 'pending');
    pending[item.client_id] = entry;
    appendEntry(entry);
    return entry;
  }

  function ensureReply(id, role) {
    var key = String(id);
    var entry = messages[key];
    if (!entry) {
      entry = createEntry(role || 'bot');
      setId(entry, key);
      setStatus(entry, 'streaming');
      appendEntry(entry);
    }
    return entry;
  }

  function refreshPendingMeta() {
    for (var cid in pending) renderMeta(pending[cid]);
  }

  function isNearBottom() {
    return scrollEl.scrollHeight - scrollEl.scrollTop - scrollEl.clientHeight < 80;
  }

  function scrollToBottom() {
    scrollEl.scrollTop = scrollEl.scrollHeight;
  }

  // Run a DOM update, keeping the view pinned to the bottom if it was there.
  function sticky(fn) {
    var pinned = isNearBottom();
    fn();
    if (pinned) scrollToBottom();
  }

  function bumpUnread() {
    if (isOpen) return;
    unread += 1;
    updateBadge();
  }

  function updateBadge() {
    badge.textContent = unread > 9 ? '9+' : String(unread);
    badge.hidden = unread === 0;
    launcher.setAttribute('aria-label', unread ? STRINGS.launcherUnread(unread) : STRINGS.launcher);
  }

  // ---------------------------------------------------------------------------
  // Header pieces: connection, conversation state, typing, notices
  // ---------------------------------------------------------------------------

  function setConnection(state) {
    connState = state;
    connEl.setAttribute('data-state', state);
    connText.textContent = STRINGS.connection[state] || state;
    root.setAttribute('data-connection', state);
    retryBtn.hidden = !(state === 'offline' || (state === 'reconnecting' && attempts > 1));
    refreshPendingMeta();
  }

  function applyState(state, detail, fromWelcome) {
    var prev = convState;
    convState = typeof state === 'string' ? state : null;
    var text = convState && has(STRINGS.state, convState) ? STRINGS.state[convState] : '';
    stateEl.textContent = text;
    stateEl.hidden = !text;
    stateEl.setAttribute('data-state', convState || '');
    if (typeof detail === 'string' && detail) stateEl.setAttribute('title', detail);
    else stateEl.removeAttribute('title');
    if (prev !== convState) hideTyping();
    if (convState === 'waiting' || convState === 'agent') {
      // A person took over mid-reply: that reply is stopped and never completes.
      for (var id in messages) {
        if (messages[id].role === 'bot' && messages[id].status === 'streaming') removeEntry(messages[id]);
      }
    }

    if (convState === 'resolved') {
      if (fromWelcome) {
        // A reconnect leaves a prompt that is already showing alone.
        var done = local.get(storageKey('rated')) === conversationToken || ratingDismissedFor === conversationToken;
        if (done) hideRating();
        else if (ratingForm.hidden) showRating();
      } else if (prev !== 'resolved') {
        showRating();
      }
    } else {
      hideRating();
    }
  }

  function showTyping(role) {
    role = role === 'agent' ? 'agent' : 'bot';
    sticky(function () {
      typingEl.setAttribute('data-role', role);
      typingLabel.textContent = STRINGS.typing[role];
      typingEl.hidden = false;
    });
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, role === 'agent' ? TYPING_HIDE_AGENT_MS : TYPING_HIDE_BOT_MS);
  }

  function hideTyping() {
    clearTimeout(typingTimer);
    typingTimer = null;
    typingEl.hidden = true;
  }

  function showNotice(text, kind) {
    clearTimeout(noticeTimer);
    noticeText.textContent = text;
    noticeBox.setAttribute('data-kind', kind || 'info');
    noticeBox.hidden = false;
    noticeTimer = setTimeout(hideNotice, NOTICE_HIDE_MS);
  }

  function hideNotice() {
    clearTimeout(noticeTimer);
    noticeBox.hidden = true;
    noticeText.textContent = '';
  }

  // ---------------------------------------------------------------------------
  // Verification and rating
  // ---------------------------------------------------------------------------

  function setCustomer(c) {
    customer = c && typeof c === 'object' ? c : null;
    updateVerifyUi();
  }

  function customerName() {
    return customer && typeof customer.name === 'string' ? customer.name : '';
  }

  function updateVerifyUi() {
    var canVerify = !customerToken && !customer;
    if (!canVerify) verifyOpen = false;
    verifyLink.hidden = !canVerify || verifyOpen;
    verifyLink.setAttribute('aria-expanded', verifyOpen ? 'true' : 'false');
    verifyForm.hidden = !canVerify || !verifyOpen;
    if (customer) {
      identityEl.textContent = customerToken ? STRINGS.verifySignedIn(customerName()) : STRINGS.verifiedAs(customerName());
      identityEl.hidden = false;
    } else {
      identityEl.hidden = true;
    }
    footerBar.hidden = verifyLink.hidden && identityEl.hidden;
  }

  function openVerify() {
    verifyOpen = true;
    verifyError.hidden = true;
    updateVerifyUi();
    scrollToBottom(); // the form is the last thing in the scroll area
    verifyOrder.focus();
  }

  function closeVerify(focusInput) {
    var hadFocus = verifyForm.contains(document.activeElement);
    verifyOpen = false;
    setVerifyBusy(false);
    updateVerifyUi();
    if (hadFocus || focusInput) {
      if (!verifyLink.hidden) verifyLink.focus();
      else input.focus();
    }
  }

  function setVerifyBusy(busy) {
    clearTimeout(verifyBusyTimer);
    verifySubmit.disabled = !!busy;
    verifyForm.setAttribute('aria-busy', busy ? 'true' : 'false');
    if (busy) verifyBusyTimer = setTimeout(function () { setVerifyBusy(false); }, VERIFY_TIMEOUT_MS);
  }

  function showVerifyError(text) {
    verifyError.textContent = text;
    verifyError.hidden = false;
  }

  function submitVerify() {
    var order = verifyOrder.value.trim();
    var contact = verifyContact.value.trim();
    if (!order || !contact) {
      showVerifyError(STRINGS.verifyMissing);
      (order ? verifyContact : verifyOrder).focus();
      return;
    }
    verifyError.hidden = true;
    if (!welcomed || !sendFrame({ type: 'verify', order_number: order, contact: contact })) {
      showVerifyError(STRINGS.offlineAction);
      start();
      return;
    }
    setVerifyBusy(true);
  }

  function setScore(score) {
    ratingScore = score;
    for (var i = 0; i < stars.length; i++) {
      var on = i < score;
      stars[i].classList.toggle('sbw-star--on', on);
      stars[i].setAttribute('aria-pressed', i === score - 1 ? 'true' : 'false');
    }
    ratingSubmit.disabled = !score;
  }

  function showRating() {
    ratingSent = false;
    setScore(0);
    ratingComment.value = '';
    ratingFields.hidden = false;
    ratingThanks.hidden = true;
    sticky(function () { ratingForm.hidden = false; });
  }

  function hideRating() {
    ratingForm.hidden = true;
  }

  function submitRating() {
    if (ratingSent || !ratingScore) return;
    var frame = { type: 'rating', score: ratingScore };
    var comment = ratingComment.value.trim();
    if (comment) frame.comment = comment;
    if (!welcomed || !sendFrame(frame)) {
      showNotice(STRINGS.offlineAction, 'error');
      start();
      return;
    }
    ratingSent = true;
    if (conversationToken) local.set(storageKey('rated'), conversationToken);
    var hadFocus = ratingForm.contains(document.activeElement);
    ratingFields.hidden = true;
    ratingThanks.hidden = false;
    if (hadFocus) input.focus();
  }

  // ---------------------------------------------------------------------------
  // Connection
  // ---------------------------------------------------------------------------

  function isBrowserOffline() {
    return typeof navigator !== 'undefined' && navigator.onLine === false;
  }

  function start() {
    if (started) {
      if (!ws && reconnectTimer === null) connect();
      return;
    }
    started = true;
    connect();
  }

  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (ws) return;
    welcomed = false;
    helloRetries = 0;
    if (connState !== 'offline') setConnection(everWelcomed || attempts > 0 ? 'reconnecting' : 'connecting');
    var sock;
    try {
      sock = new WebSocket(wsUrl);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    ws = sock;
    sock.onopen = function () {
      if (ws !== sock) return;
      sendHello();
      startPing();
    };
    sock.onmessage = function (event) {
      if (ws !== sock) return;
      clearTimeout(pongTimer); // any frame proves the connection is alive
      var frame;
      try {
        frame = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      if (!frame || typeof frame !== 'object' || typeof frame.type !== 'string') return;
      try {
        onFrame(frame);
      } catch (err) {
        if (window.console) window.console.error('[support bot]', err);
      }
    };
    sock.onclose = function (event) {
      if (ws !== sock) return;
      if (event && event.code === CLOSE_TOO_MANY) {
        // The server counts connections per address per minute: trying again sooner
        // is refused again, so wait out the minute and say why.
        showNotice(STRINGS.tooManyConnections, 'error');
        retryNotBefore = Date.now() + TOO_MANY_WAIT_MS * (1 + Math.random() * 0.25);
      }
      connectionLost();
    };
    sock.onerror = function () { /* a close event follows */ };
  }

  function connectionLost() {
    var sock = ws;
    ws = null;
    welcomed = false;
    stopPing();
    hideTyping();
    setVerifyBusy(false);
    if (sock) {
      sock.onopen = sock.onmessage = sock.onclose = sock.onerror = null;
      try { sock.close(); } catch (e) { /* already closed */ }
    }
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (reconnectTimer !== null) return;
    attempts += 1;
    var cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * Math.pow(2, attempts - 1));
    var delay = cap / 2 + Math.random() * (cap / 2); // "equal jitter"
    delay = Math.max(delay, retryNotBefore - Date.now());
    setConnection(isBrowserOffline() || attempts > OFFLINE_AFTER_ATTEMPTS ? 'offline' : 'reconnecting');
    reconnectTimer = setTimeout(function () {
      reconnectTimer = null;
      connect();
    }, delay);
  }

  // Drop the current socket (if any) and connect again at once.
  function reconnectNow() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (ws) {
      var sock = ws;
      ws = null;
      stopPing();
      sock.onopen = sock.onmessage = sock.onclose = sock.onerror = null;
      try { sock.close(); } catch (e) { /* ignore */ }
    }
    started = true;
    connect();
  }

  function startPing() {
    stopPing();
    pingTimer = setInterval(function () {
      if (!ws || ws.readyState !== 1) return;
      if (sendFrame({ type: 'ping' })) armPongTimer();
      resendStale();
    }, PING_INTERVAL_MS);
  }

  function armPongTimer() {
    clearTimeout(pongTimer);
    var sock = ws;
    pongTimer = setTimeout(function () {
      if (ws === sock && sock) connectionLost(); // no answer: the socket is dead
    }, PONG_TIMEOUT_MS);
  }

  function stopPing() {
    clearInterval(pingTimer);
    clearTimeout(pongTimer);
    pingTimer = null;
    pongTimer = null;
  }

  function sendFrame(frame) {
    if (!ws || ws.readyState !== 1) return false;
    try {
      ws.send(JSON.stringify(frame));
      return true;
    } catch (e) {
      return false;
    }
  }

  function sendHello() {
    sentConversation = conversationToken || null;
    var frame = { type: 'hello', conversation: sentConversation, customer_token: customerToken || null };
    if (language) frame.language = language;
    sendFrame(frame);
  }

  function sendQueued(item) {
    if (sendFrame({ type: 'message', text: item.text, client_id: item.client_id })) {
      item.sentAt = Date.now();
      return true;
    }
    return false;
  }

  function flushQueue() {
    var sent = 0;
    for (var i = 0; i < queue.length; i++) {
      if (sendQueued(queue[i])) sent += 1;
    }
    return sent;
  }

  function resendStale() {
    if (!welcomed) return;
    var now = Date.now();
    for (var i = 0; i < queue.length; i++) {
      if (queue[i].sentAt && now - queue[i].sentAt > RESEND_AFTER_MS) sendQueued(queue[i]);
    }
  }

  // ---------------------------------------------------------------------------
  // Incoming frames
  // ---------------------------------------------------------------------------

  function onFrame(f) {
    switch (f.type) {
      case 'welcome': return onWelcome(f);
      case 'ack': return onAck(f);
      case 'typing': return showTyping(f.role);
      case 'delta': return onDelta(f);
      case 'reset': return onReset(f);
      case 'done': return onDone(f);
      case 'message': return onMessage(f);
      case 'state': return applyState(f.state, f.detail, false);
      case 'verified': return onVerified(f);
      case 'error': return onError(f);
      case 'pong': return undefined;
      default: return undefined; // unknown frames are ignored (forward compatible)
    }
  }

  function historyStatus(status) {
    if (status === 'generating' || status === 'streaming') return 'streaming';
    if (status === 'failed' || status === 'error') return 'failed';
    return 'done';
  }

  function onWelcome(f) {
    welcomed = true;
    everWelcomed = true;
    attempts = 0;
    helloRetries = 0;
    if (typeof f.conversation === 'string' && f.conversation) {
      conversationToken = f.conversation;
      local.set(storageKey('conversation'), conversationToken);
    }

    // Replace the list entirely: a reconnect must never double messages. Mute the
    // live region meanwhile so screen readers don't re-read the whole history.
    logEl.setAttribute('aria-live', 'off');
    clear(logEl);
    messages = Object.create(null);
    pending = Object.create(null);

    var history = Array.isArray(f.messages) ? f.messages : [];
    var recentShopperTexts = [];
    for (var i = 0; i < history.length; i++) {
      var m = history[i];
      if (!m || typeof m !== 'object') continue;
      // A reply stopped by a handoff before it said anything.
      if (m.role === 'bot' && historyStatus(m.status) === 'failed' && !m.text) continue;
      var entry = createEntry(m.role);
      if (m.id != null) setId(entry, m.id);
      entry.text = m.text == null ? '' : String(m.text);
      var status = historyStatus(m.status);
      if (status === 'streaming') entry.lastSeq = Number(m.seq) || 0;
      setStatus(entry, status);
      appendEntry(entry);
      if (entry.role === 'shopper' && i >= history.length - 10) recentShopperTexts.push(entry.text);
    }

    // Unacked messages come back as pending and are re-sent with the same client_id.
    // One that evidently made it into the history already (the ack was lost) stays
    // hidden until its ack says which stored message it is.
    for (var j = 0; j < queue.length; j++) {
      var p = addPendingBubble(queue[j]);
      var k = recentShopperTexts.indexOf(queue[j].text);
      if (k !== -1) {
        recentShopperTexts.splice(k, 1);
        p.row.hidden = true;
        p.hiddenDuplicate = true;
      }
    }
    updateEmpty();

    setCustomer(f.customer || null);
    applyState(f.state, f.detail, true);
    hideTyping();
    setConnection('open');
    flushQueue();
    scrollToBottom();
    setTimeout(function () { logEl.setAttribute('aria-live', 'polite'); }, 60);
  }

  function onAck(f) {
    var cid = typeof f.client_id === 'string' ? f.client_id : null;
    if (!cid) return;
    removeFromQueue(cid);
    var entry = pending[cid];
    if (!entry) return;
    delete pending[cid];
    var mid = f.message_id != null ? String(f.message_id) : null;
    if (mid && messages[mid] && messages[mid] !== entry) {
      // Already shown from the history (the first ack was lost before a reconnect).
      removeEntry(entry);
      if (!queue.length && typingEl.getAttribute('data-role') === 'bot') hideTyping();
      return;
    }
    sticky(function () {
      entry.row.hidden = false;
      entry.hiddenDuplicate = false;
      if (mid) setId(entry, mid);
      setStatus(entry, 'done');
    });
  }

  function onDelta(f) {
    if (f.message_id == null) return;
    hideTyping();
    sticky(function () {
      var entry = ensureReply(f.message_id, f.role);
      if (entry.status === 'done') return; // the complete text is already there
      if (entry.status !== 'streaming') setStatus(entry, 'streaming');
      var piece = f.text == null ? '' : String(f.text);
      var seq = Number(f.seq);
      if (!isFinite(seq)) {
        setText(entry, entry.text + piece);
        return;
      }
      if (seq <= entry.lastSeq || has(entry.buffer, seq)) return; // already have it
      entry.buffer[seq] = piece;
      var added = '';
      var next = entry.lastSeq + 1;
      while (has(entry.buffer, next)) {
        added += entry.buffer[next];
        delete entry.buffer[next];
        entry.lastSeq = next;
        next += 1;
      }
      if (added) setText(entry, entry.text + added);
    });
  }

  function onReset(f) {
    if (f.message_id == null) return;
    var entry = ensureReply(f.message_id, f.role);
    entry.text = '';
    entry.lastSeq = 0;
    entry.buffer = Object.create(null);
    setStatus(entry, 'streaming');
  }

  function onDone(f) {
    if (f.message_id == null) return;
    hideTyping();
    sticky(function () {
      var entry = ensureReply(f.message_id, f.role || 'bot');
      if (f.role) setRole(entry, f.role);
      entry.buffer = Object.create(null);
      entry.text = f.text == null ? '' : String(f.text);
      setStatus(entry, 'done');
    });
    bumpUnread();
  }

  function onMessage(f) {
    hideTyping();
    sticky(function () {
      var entry = f.message_id != null ? messages[String(f.message_id)] : null;
      if (!entry) {
        entry = createEntry(f.role || 'system');
        if (f.message_id != null) setId(entry, f.message_id);
        appendEntry(entry);
      } else if (f.role) {
        setRole(entry, f.role);
      }
      entry.text = f.text == null ? '' : String(f.text);
      setStatus(entry, 'done');
    });
    bumpUnread();
  }

  function onVerified(f) {
    setVerifyBusy(false);
    verifyOrder.value = '';
    verifyContact.value = '';
    var hadFocus = verifyForm.contains(document.activeElement);
    setCustomer(f.customer || { name: '' });
    showNotice(STRINGS.verifiedNotice(customerName()), 'success');
    if (hadFocus) input.focus();
  }

  function failPending(cid) {
    removeFromQueue(cid);
    var entry = pending[cid];
    if (!entry) return;
    delete pending[cid];
    entry.row.hidden = false;
    setStatus(entry, 'failed');
    // Keep the draft: put the text back so the shopper can edit and resend it.
    if (!input.value.trim()) {
      input.value = entry.text;
      autoGrow();
      updateCounter();
    }
  }

  function onError(f) {
    var code = typeof f.code === 'string' ? f.code : '';
    hideTyping();

    if (code === 'hello_required') {
      if (ws && helloRetries < 1) {
        helloRetries += 1;
        sendHello();
      } else {
        connectionLost();
      }
      return;
    }

    if (code === 'forbidden' && !welcomed) {
      // The hello was refused.
      if (sentConversation) {
        // The stored conversation is not ours (any more): start a fresh one.
        conversationToken = null;
        local.remove(storageKey('conversation'));
        reconnectNow();
        return;
      }
      if (customerToken) {
        // The shop's customer token was refused (expired?): continue as a guest.
        session.remove(storageKey('queue'));
        customerToken = null;
        conversationToken = local.get(storageKey('conversation'));
        saveQueue();
        updateVerifyUi();
        showNotice(STRINGS.guestFallback, 'info');
        reconnectNow();
        return;
      }
    }

    var cid = typeof f.client_id === 'string' ? f.client_id : null;
    if (cid && pending[cid]) failPending(cid);

    if (code === 'verification_failed' || code === 'verification_locked') {
      setVerifyBusy(false);
      if (verifyOpen) {
        showVerifyError(STRINGS.errors[code]);
        return;
      }
    }

    if (code === 'reply_failed') {
      for (var id in messages) {
        var entry = messages[id];
        if (entry.status === 'streaming' && entry.role !== 'shopper') {
          if (entry.text) setStatus(entry, 'failed');
          else removeEntry(entry);
        }
      }
    }

    var text = has(STRINGS.errors, code)
      ? STRINGS.errors[code]
      : (typeof f.message === 'string' && f.message ? f.message : STRINGS.errors.generic);
    showNotice(text, 'error');
  }

  // ---------------------------------------------------------------------------
  // Composer
  // ---------------------------------------------------------------------------

  function autoGrow() {
    input.style.height = 'auto';
    var h = Math.min(input.scrollHeight, 140);
    if (h > 0) input.style.height = h + 'px';
  }

  function updateCounter() {
    var n = input.value.length > COUNTER_FROM_CHARS ? charLength(input.value) : 0;
    if (n > COUNTER_FROM_CHARS) {
      counterEl.textContent = n + ' / ' + MAX_TEXT_CHARS;
      counterEl.hidden = false;
      counterEl.classList.toggle('sbw-counter--over', n > MAX_TEXT_CHARS);
    } else {
      counterEl.hidden = true;
    }
  }

  function submitMessage() {
    var text = input.value.replace(/^\s+|\s+$/g, '');
    if (!text) return;
    if (charLength(text) > MAX_TEXT_CHARS) {
      showNotice(STRINGS.tooLong, 'error');
      return; // keep the draft
    }
    var item = { client_id: uuid(), text: text, ts: Date.now(), sentAt: 0 };
    if (byteLength(JSON.stringify({ type: 'message', text: text, client_id: item.client_id })) > MAX_FRAME_BYTES) {
      showNotice(STRINGS.errors.too_large, 'error');
      return; // keep the draft
    }
    queue.push(item);
    saveQueue();
    addPendingBubble(item);
    scrollToBottom();
    input.value = '';
    autoGrow();
    updateCounter();
    if (welcomed && sendQueued(item)) {
      if (!convState || convState === 'bot' || convState === 'resolved') showTyping('bot');
    } else {
      start();
    }
  }

  function onInputTyping() {
    autoGrow();
    updateCounter();
    if (!welcomed || (convState !== 'agent' && convState !== 'waiting')) return;
    if (!input.value.trim()) return;
    var now = Date.now();
    if (now - lastTypingSent < TYPING_SEND_INTERVAL_MS) return;
    lastTypingSent = now;
    sendFrame({ type: 'typing' });
  }

  // ---------------------------------------------------------------------------
  // Open / close
  // ---------------------------------------------------------------------------

  function openPanel(options) {
    var focus = !options || options.focus !== false;
    if (!isOpen) {
      isOpen = true;
      panel.hidden = false;
      launcher.setAttribute('aria-expanded', 'true');
      root.classList.add('sbw-is-open');
      unread = 0;
      updateBadge();
      start();
      scrollToBottom();
    }
    if (focus) {
      setTimeout(function () { input.focus(); }, 0);
    }
  }

  function closePanel(options) {
    if (!isOpen) return;
    var returnFocus = options && options.returnFocus;
    if (!returnFocus && panel.contains(document.activeElement)) returnFocus = true;
    isOpen = false;
    panel.hidden = true;
    launcher.setAttribute('aria-expanded', 'false');
    root.classList.remove('sbw-is-open');
    if (returnFocus) launcher.focus();
  }

  // ---------------------------------------------------------------------------
  // Events
  // ---------------------------------------------------------------------------

  launcher.addEventListener('click', function () {
    if (isOpen) closePanel({ returnFocus: true });
    else openPanel();
  });
  closeBtn.addEventListener('click', function () { closePanel({ returnFocus: true }); });
  panel.addEventListener('keydown', function (e) {
    if ((e.key === 'Escape' || e.key === 'Esc') && !e.isComposing) {
      e.preventDefault();
      e.stopPropagation();
      closePanel({ returnFocus: true });
    }
  });
  root.addEventListener('keydown', function (e) {
    // Escape on the launcher itself also closes an open panel.
    if ((e.key === 'Escape' || e.key === 'Esc') && e.target === launcher && isOpen) {
      e.preventDefault();
      closePanel({ returnFocus: true });
    }
  });

  composer.addEventListener('submit', function (e) {
    e.preventDefault();
    submitMessage();
    input.focus();
  });
  input.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      submitMessage();
    }
  });
  input.addEventListener('input', onInputTyping);

  retryBtn.addEventListener('click', function () {
    attempts = 0;
    reconnectNow();
  });
  noticeClose.addEventListener('click', function () {
    hideNotice();
    input.focus();
  });

  verifyLink.addEventListener('click', openVerify);
  verifyCancel.addEventListener('click', function () { closeVerify(true); });
  verifyForm.addEventListener('submit', function (e) {
    e.preventDefault();
    submitVerify();
  });

  stars.forEach(function (btn, index) {
    btn.addEventListener('click', function () { setScore(index + 1); });
  });
  ratingForm.addEventListener('submit', function (e) {
    e.preventDefault();
    submitRating();
  });
  ratingDismiss.addEventListener('click', function () {
    var hadFocus = ratingForm.contains(document.activeElement);
    ratingDismissedFor = conversationToken;
    hideRating();
    if (hadFocus) input.focus();
  });

  window.addEventListener('online', function () {
    if (started && !ws) {
      attempts = 0;
      reconnectNow();
    }
  });
  window.addEventListener('offline', function () {
    if (ws && ws.readyState === 1) {
      // The socket may be dead without knowing it yet: probe it.
      if (sendFrame({ type: 'ping' })) armPongTimer();
    } else if (started) {
      setConnection('offline');
    }
  });
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'visible' && started && !ws) reconnectNow();
  });

  // ---------------------------------------------------------------------------
  // Mount
  // ---------------------------------------------------------------------------

  function injectStylesheet() {
    var existing = document.querySelector('link[rel~="stylesheet"][href*="support_bot/widget.css"]');
    if (existing) return;
    var base = scriptUrl || parseUrl(serverBase + '/static/support_bot/widget.js', window.location.href);
    var cssUrl = parseUrl('widget.css', base.href);
    if (scriptUrl && scriptUrl.search) cssUrl.search = scriptUrl.search; // same cache-busting query
    var link = el('link', { rel: 'stylesheet', href: cssUrl.href, 'data-sbw': 'stylesheet' });
    // Hide the widget until its styles are in, so it never flashes unstyled.
    root.style.display = 'none';
    var shown = false;
    function show() {
      if (shown) return;
      shown = true;
      root.style.removeProperty('display');
    }
    link.addEventListener('load', show);
    link.addEventListener('error', show);
    setTimeout(show, 4000);
    (document.head || document.documentElement).appendChild(link);
  }

  function mount() {
    injectStylesheet();
    document.body.appendChild(root);
    updateEmpty();
    updateVerifyUi();
    updateBadge();
    setConnection('connecting');
    // Show what we have right away (messages typed before a reload, still unacked).
    for (var i = 0; i < queue.length; i++) addPendingBubble(queue[i]);
    updateEmpty();
    // Connect at load only if there is a conversation to resume or something to send;
    // otherwise wait until the shopper opens the panel (no conversation per page view).
    if (openAtLoad) openPanel({ focus: false });
    else if (conversationToken || queue.length) start();
  }

  window.SupportBotWidget = {
    __sbw: true,
    version: VERSION,
    open: function () { openPanel(); },
    close: function () { closePanel(); },
    toggle: function () {
      if (isOpen) closePanel();
      else openPanel();
    },
    isOpen: function () { return isOpen; }
  };

  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount);
})();
