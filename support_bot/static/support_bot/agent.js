/*!
 * Support bot — agent console.
 *
 * Plain JavaScript, no dependencies, no build step. Talks to /ws/agent/ (see
 * docs/agent_protocol.md). Every piece of data is rendered with textContent, never as HTML.
 */
(function () {
  'use strict';

  var PING_INTERVAL_MS = 20000; // the heartbeat that keeps this agent "on duty"
  var TYPING_SEND_INTERVAL_MS = 3000;
  var TYPING_HIDE_MS = 6000;
  var BACKOFF_MAX_MS = 10000;
  var TOAST_MS = 5000;
  var STATE_LABELS = {
    bot: 'With the bot',
    waiting: 'Waiting for an agent',
    agent: 'With an agent',
    resolved: 'Resolved'
  };
  var ROLE_LABELS = { shopper: 'Shopper', bot: 'Bot', agent: 'Agent', system: 'System' };
  var LANGUAGE_NAMES = { en: 'English', de: 'German', fr: 'French', es: 'Spanish' };

  function $(id) { return document.getElementById(id); }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = String(text);
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  var ui = {
    connection: $('ac-connection'),
    available: $('ac-available'),
    availableLabel: $('ac-available-label'),
    alerts: $('ac-alerts'),
    waiting: $('ac-waiting'),
    waitingCount: $('ac-waiting-count'),
    waitingEmpty: $('ac-waiting-empty'),
    active: $('ac-active'),
    activeCount: $('ac-active-count'),
    activeEmpty: $('ac-active-empty'),
    team: $('ac-team'),
    dutyCount: $('ac-duty-count'),
    placeholder: $('ac-placeholder'),
    view: $('ac-view'),
    side: $('ac-side'),
    title: $('ac-title'),
    state: $('ac-state'),
    holder: $('ac-holder'),
    claim: $('ac-claim'),
    resolve: $('ac-resolve'),
    handBack: $('ac-hand-back'),
    reassignBox: $('ac-reassign-box'),
    reassignTo: $('ac-reassign-to'),
    reassign: $('ac-reassign'),
    transcript: $('ac-transcript'),
    typing: $('ac-typing'),
    typingLabel: $('ac-typing-label'),
    composer: $('ac-composer'),
    canned: $('ac-canned'),
    hint: $('ac-hint'),
    reply: $('ac-reply'),
    send: $('ac-send'),
    reasons: $('ac-reasons'),
    wants: $('ac-wants'),
    tried: $('ac-tried'),
    customer: $('ac-customer'),
    orders: $('ac-orders'),
    ratingCard: $('ac-rating-card'),
    rating: $('ac-rating'),
    notes: $('ac-notes'),
    noteForm: $('ac-note-form'),
    note: $('ac-note'),
    toast: $('ac-toast')
  };

  var ws = null;
  var everOpened = false;
  var failures = 0;
  var pingTimer = null;
  var reconnectTimer = null;
  var me = null; // {id, name}
  var board = { waiting: [], active: [], on_duty: [] };
  var cannedReplies = [];
  var current = null; // the open conversation's detail
  var currentId = null;
  var entries = Object.create(null); // message id -> {node, body, text, seq}
  var typingTimer = null;
  var lastTypingSent = 0;
  var toastTimer = null;
  var audio = null;
  var seenWaiting = null; // ids already waiting, to alert on new ones only

  // ---------------------------------------------------------------------------
  // Connection
  // ---------------------------------------------------------------------------

  function socketUrl() {
    return (location.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + location.host + '/ws/agent/';
  }

  function setConnection(state, text) {
    ui.connection.setAttribute('data-state', state);
    ui.connection.textContent = text;
  }

  function connect() {
    clearTimeout(reconnectTimer);
    var sock = new WebSocket(socketUrl());
    ws = sock;
    setConnection('connecting', everOpened ? 'Reconnecting…' : 'Connecting…');
    sock.onopen = function () {
      everOpened = true;
      failures = 0;
      setConnection('open', 'Live');
      clearInterval(pingTimer);
      pingTimer = setInterval(function () { send({ type: 'ping' }); }, PING_INTERVAL_MS);
    };
    sock.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame && typeof frame.type === 'string') onFrame(frame);
    };
    sock.onclose = function () {
      if (ws !== sock) return;
      ws = null;
      clearInterval(pingTimer);
      failures += 1;
      if (!everOpened && failures >= 3) {
        // Refused before it ever opened: most likely the session ended.
        setConnection('offline', 'Signed out? Reload the page to log in again');
      } else {
        setConnection('reconnecting', 'Reconnecting…');
      }
      var delay = Math.min(BACKOFF_MAX_MS, 500 * Math.pow(2, Math.min(failures, 5)));
      reconnectTimer = setTimeout(connect, delay);
    };
  }

  function send(frame) {
    if (!ws || ws.readyState !== 1) {
      showToast('Not connected. Trying again in a moment…', 'error');
      return false;
    }
    ws.send(JSON.stringify(frame));
    return true;
  }

  // ---------------------------------------------------------------------------
  // Incoming frames
  // ---------------------------------------------------------------------------

  function onFrame(f) {
    switch (f.type) {
      case 'welcome': return onWelcome(f);
      case 'board': return onBoard(f);
      case 'conversation': return renderConversation(f.conversation);
      case 'conversation_frame':
        if (f.conversation_id === currentId) onConversationFrame(f.frame || {});
        return undefined;
      case 'ok': return onOk(f);
      case 'error': return showToast(f.message || 'That did not work.', 'error');
      default: return undefined;
    }
  }

  function onWelcome(f) {
    me = f.agent;
    cannedReplies = Array.isArray(f.canned_replies) ? f.canned_replies : [];
    renderBoard(f.board, null);
    renderCanned();
    if (currentId != null) send({ type: 'open', conversation_id: currentId });
  }

  function onBoard(f) {
    var change = f.change || null;
    renderBoard(f.board, change);
    if (!change || !me) return;
    if (change.change === 'reassigned' && change.to_agent_id === me.id) {
      var item = findItem(change.conversation_id);
      alertAgent('A conversation was passed to you', item ? itemTitle(item) : '', change.conversation_id);
    }
  }

  function onOk(f) {
    if (f.action === 'claim') showToast(f.claimed === false ? 'You already have this conversation.' : 'Claimed. The shopper knows you are here.', 'success');
    else if (f.action === 'resolve') showToast('Resolved. The shopper is asked for a rating.', 'success');
    else if (f.action === 'hand_back') showToast('Handed back to the bot.', 'success');
    else if (f.action === 'reassign') showToast('Reassigned.', 'success');
    else if (f.action === 'reply') {
      ui.reply.value = '';
      // Back to the reply box, unless the agent has moved on (to a note, say) while the
      // reply was on its way: stealing the focus would send their typing elsewhere.
      var active = document.activeElement;
      if (!active || active === document.body || active === ui.reply) ui.reply.focus();
    } else if (f.action === 'note') {
      ui.note.value = '';
    } else if (f.action === 'availability') {
      setAvailable(f.available);
    }
  }

  // ---------------------------------------------------------------------------
  // The queue
  // ---------------------------------------------------------------------------

  function findItem(id) {
    var all = board.waiting.concat(board.active);
    for (var i = 0; i < all.length; i++) if (all[i].conversation_id === id) return all[i];
    return null;
  }

  function itemTitle(item) {
    return item.customer_name || 'Anonymous shopper #' + item.reference;
  }

  function waitedText(iso) {
    if (!iso) return '';
    var seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
    if (seconds < 60) return 'just now';
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + ' min';
    var hours = Math.floor(minutes / 60);
    if (hours < 24) return hours + ' h ' + (minutes % 60) + ' min';
    return Math.floor(hours / 24) + ' d';
  }

  function money(value, currency) {
    if (value == null) return '';
    var n = Number(value);
    try {
      return new Intl.NumberFormat(undefined, { style: 'currency', currency: currency || 'USD' }).format(n);
    } catch (e) {
      return value + ' ' + (currency || '');
    }
  }

  function queueItem(item, section) {
    var li = el('li', 'ac-item');
    var button = el('button', 'ac-item__button');
    button.type = 'button';
    button.setAttribute('data-testid', 'ac-queue-item');
    button.setAttribute('data-conversation-id', String(item.conversation_id));
    if (item.conversation_id === currentId) button.classList.add('is-current');
    if (section === 'active' && me && item.assigned_agent_id === me.id) button.classList.add('is-mine');

    var top = el('span', 'ac-item__top');
    if (section === 'waiting') {
      top.appendChild(el('span', 'ac-prio ac-prio--' + item.priority_label.toLowerCase(), item.priority_label));
    }
    top.appendChild(el('span', 'ac-item__name', itemTitle(item)));
    var waited = el('span', 'ac-item__time', waitedText(item.escalated_at));
    waited.setAttribute('data-since', item.escalated_at || '');
    top.appendChild(waited);
    button.appendChild(top);

    if (item.reason_labels && item.reason_labels.length) {
      button.appendChild(el('span', 'ac-item__reasons', item.reason_labels.join(' · ')));
    }
    if (item.last_shopper_text) {
      button.appendChild(el('span', 'ac-item__quote', item.last_shopper_text));
    }
    var meta = el('span', 'ac-item__meta');
    if (item.order_value != null) meta.appendChild(el('span', 'ac-tag', 'Last order ' + money(item.order_value, item.order_currency)));
    meta.appendChild(el('span', 'ac-tag', (item.language || 'en').toUpperCase()));
    if (item.contact_email) meta.appendChild(el('span', 'ac-tag ac-tag--mail', '✉ ' + item.contact_email));
    if (section === 'active') {
      var mine = me && item.assigned_agent_id === me.id;
      meta.appendChild(el('span', 'ac-tag ac-tag--holder', mine ? 'You' : (item.assigned_agent_name || '')));
    }
    button.appendChild(meta);
    button.addEventListener('click', function () { openConversation(item.conversation_id); });
    li.appendChild(button);
    return li;
  }

  function renderBoard(next, change) {
    board = next || { waiting: [], active: [], on_duty: [] };
    var waitingIds = board.waiting.map(function (i) { return i.conversation_id; });
    if (seenWaiting) {
      for (var i = 0; i < board.waiting.length; i++) {
        var item = board.waiting[i];
        if (seenWaiting.indexOf(item.conversation_id) === -1 && change && change.change === 'escalated') {
          alertAgent('New escalation: ' + itemTitle(item), (item.reason_labels || []).join(', ') || 'Waiting for an agent', item.conversation_id);
        }
      }
    }
    seenWaiting = waitingIds;

    clear(ui.waiting);
    board.waiting.forEach(function (item) { ui.waiting.appendChild(queueItem(item, 'waiting')); });
    ui.waitingCount.textContent = String(board.waiting.length);
    ui.waitingCount.classList.toggle('ac-count--hot', board.waiting.length > 0);
    ui.waitingEmpty.hidden = board.waiting.length > 0;

    clear(ui.active);
    board.active.forEach(function (item) { ui.active.appendChild(queueItem(item, 'active')); });
    ui.activeCount.textContent = String(board.active.length);
    ui.activeEmpty.hidden = board.active.length > 0;

    clear(ui.team);
    board.on_duty.forEach(function (agent) {
      var li = el('li', 'ac-team__member');
      li.appendChild(el('span', 'ac-dot', ''));
      li.appendChild(el('span', null, agent.name + (me && agent.id === me.id ? ' (you)' : '')));
      ui.team.appendChild(li);
    });
    ui.dutyCount.textContent = String(board.on_duty.length);
    if (me) {
      var onDuty = board.on_duty.some(function (a) { return a.id === me.id; });
      if (ui.available.checked !== onDuty && !ui.available.disabled) setAvailable(onDuty);
    }
    document.title = (board.waiting.length ? '(' + board.waiting.length + ') ' : '') + 'Support console';
    renderReassignOptions();
  }

  function tickWaitingTimes() {
    var nodes = document.querySelectorAll('.ac-item__time[data-since]');
    for (var i = 0; i < nodes.length; i++) {
      nodes[i].textContent = waitedText(nodes[i].getAttribute('data-since'));
    }
  }

  // ---------------------------------------------------------------------------
  // Alerts: a Web Audio beep and a browser notification
  // ---------------------------------------------------------------------------

  function unlockAudio() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    if (!audio) audio = new Ctx();
    if (audio.state === 'suspended') audio.resume();
  }

  function beep() {
    if (!audio || audio.state !== 'running') return;
    var start = audio.currentTime;
    [880, 1320].forEach(function (freq, i) {
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      var t = start + i * 0.16;
      osc.type = 'sine';
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.18, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.22);
      osc.connect(gain);
      gain.connect(audio.destination);
      osc.start(t);
      osc.stop(t + 0.25);
    });
  }

  function alertAgent(title, body, conversationId) {
    beep();
    showToast(title, 'info');
    if (!('Notification' in window) || Notification.permission !== 'granted') return;
    try {
      var n = new Notification(title, { body: body, tag: 'conversation-' + conversationId });
      n.onclick = function () {
        window.focus();
        openConversation(conversationId);
        n.close();
      };
    } catch (e) { /* some browsers only notify from a service worker */ }
  }

  function updateAlertsButton() {
    var granted = 'Notification' in window && Notification.permission === 'granted';
    var sound = audio && audio.state === 'running';
    ui.alerts.textContent = granted && sound ? 'Alerts on' : sound ? 'Sound on' : 'Enable alerts';
    ui.alerts.classList.toggle('is-on', !!sound);
  }

  ui.alerts.addEventListener('click', function () {
    unlockAudio(); // browsers allow audio only after a user gesture: this is one
    if ('Notification' in window && Notification.permission === 'default') {
      Notification.requestPermission().then(updateAlertsButton, updateAlertsButton);
    }
    setTimeout(function () {
      updateAlertsButton();
      beep();
    }, 50);
  });
  // Any click also unlocks the sound, so a forgotten button still beeps.
  document.addEventListener('click', function () {
    if (!audio) {
      unlockAudio();
      setTimeout(updateAlertsButton, 50);
    }
  }, { once: true });

  // ---------------------------------------------------------------------------
  // The conversation
  // ---------------------------------------------------------------------------

  function openConversation(id) {
    if (id !== currentId) {
      currentId = id;
      current = null;
      clear(ui.transcript);
      entries = Object.create(null);
      hideTyping();
      ui.reply.value = '';
    }
    markCurrent();
    send({ type: 'open', conversation_id: id });
  }

  function markCurrent() {
    var buttons = document.querySelectorAll('.ac-item__button');
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].classList.toggle('is-current', Number(buttons[i].getAttribute('data-conversation-id')) === currentId);
    }
  }

  function holdsIt() {
    return !!(current && me && current.state === 'agent' && current.assigned_agent_id === me.id);
  }

  function timeText(iso) {
    var d = iso ? new Date(iso) : new Date();
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  function addEntry(id, role, text, status, createdAt) {
    var key = id != null ? String(id) : null;
    if (key && entries[key]) {
      setEntryText(entries[key], text, status);
      return entries[key];
    }
    var nearBottom = ui.transcript.scrollHeight - ui.transcript.scrollTop - ui.transcript.clientHeight < 80;
    var node = el('div', 'ac-msg ac-msg--' + role);
    node.setAttribute('data-testid', 'ac-message');
    node.setAttribute('data-role', role);
    var meta = el('div', 'ac-msg__meta', (ROLE_LABELS[role] || role) + ' · ' + timeText(createdAt));
    var body = el('div', 'ac-msg__body');
    node.appendChild(meta);
    node.appendChild(body);
    ui.transcript.appendChild(node);
    var entry = { node: node, body: body, text: '', seq: 0 };
    if (key) entries[key] = entry;
    setEntryText(entry, text, status);
    if (nearBottom || role !== 'bot') ui.transcript.scrollTop = ui.transcript.scrollHeight;
    return entry;
  }

  function setEntryText(entry, text, status) {
    entry.text = text == null ? '' : String(text);
    entry.body.textContent = entry.text;
    entry.node.setAttribute('data-status', status || 'done');
    entry.node.classList.toggle('is-streaming', status === 'generating');
    entry.node.classList.toggle('is-failed', status === 'failed');
  }

  function renderConversation(c) {
    if (!c || c.conversation_id !== currentId) return;
    current = c;
    ui.placeholder.hidden = true;
    ui.view.hidden = false;
    ui.side.hidden = false;

    var customer = c.summary && c.summary.customer;
    ui.title.textContent = customer ? customer.name : 'Anonymous shopper #' + c.reference;
    renderState();

    clear(ui.transcript);
    entries = Object.create(null);
    (c.transcript || []).forEach(function (m) { addEntry(m.id, m.role, m.text, m.status, m.created_at); });
    ui.transcript.scrollTop = ui.transcript.scrollHeight;

    renderSummary(c.summary || {});
    renderCustomer(c);
    clear(ui.notes);
    (c.notes || []).forEach(addNote);
    renderRating(c.rating);
    renderCanned();
    markCurrent();
  }

  function renderState() {
    var c = current;
    ui.state.textContent = STATE_LABELS[c.state] || c.state;
    ui.state.setAttribute('data-state', c.state);
    var mine = holdsIt();
    ui.holder.textContent = c.state === 'agent' ? (mine ? 'You have this conversation' : 'With ' + (c.assigned_agent_name || 'another agent')) : '';
    ui.claim.hidden = c.state !== 'waiting';
    ui.resolve.hidden = !mine;
    ui.handBack.hidden = !mine;
    ui.reassignBox.hidden = !mine;
    renderReassignOptions();
    ui.reply.disabled = !mine;
    ui.send.disabled = !mine;
    ui.canned.disabled = !mine;
    var hints = {
      waiting: 'Claim the conversation to reply.',
      bot: 'The bot has this conversation. You can read along.',
      resolved: 'This conversation is resolved.'
    };
    ui.hint.textContent = mine ? '' : c.state === 'agent' ? 'Only ' + (c.assigned_agent_name || 'the holder') + ' can reply.' : (hints[c.state] || '');
  }

  function renderReassignOptions() {
    clear(ui.reassignTo);
    var others = board.on_duty.filter(function (a) { return !me || a.id !== me.id; });
    if (!others.length) {
      var none = el('option', null, 'No colleague on duty');
      none.value = '';
      ui.reassignTo.appendChild(none);
    }
    others.forEach(function (a) {
      var option = el('option', null, a.name);
      option.value = String(a.id);
      ui.reassignTo.appendChild(option);
    });
    ui.reassignTo.disabled = !others.length;
    ui.reassign.disabled = !others.length;
  }

  function renderSummary(s) {
    clear(ui.reasons);
    (s.reasons || []).forEach(function (r) { ui.reasons.appendChild(el('span', 'ac-chip', r)); });
    if (!(s.reasons || []).length) ui.reasons.appendChild(el('span', 'ac-chip ac-chip--muted', 'Not escalated'));
    fillQuotes(ui.wants, s.shopper_wants, 'Nothing yet.');
    fillQuotes(ui.tried, s.bot_tried, 'The bot has not answered yet.');
  }

  function fillQuotes(list, items, empty) {
    clear(list);
    if (!items || !items.length) {
      list.appendChild(el('li', 'ac-quotes__empty', empty));
      return;
    }
    items.forEach(function (t) { list.appendChild(el('li', null, t)); });
  }

  function fact(term, value, testid) {
    if (!value) return;
    ui.customer.appendChild(el('dt', null, term));
    var dd = el('dd', null, value);
    if (testid) dd.setAttribute('data-testid', testid);
    ui.customer.appendChild(dd);
  }

  function renderCustomer(c) {
    clear(ui.customer);
    var customer = c.summary && c.summary.customer;
    if (customer) {
      fact('Name', customer.name);
      fact('Email', customer.email);
      fact('Customer id', customer.external_id);
    } else {
      fact('Identity', 'Anonymous (not signed in, no verified order)');
    }
    fact('Language', LANGUAGE_NAMES[c.language] || c.language);
    fact('Contact', c.contact_email, 'ac-contact');
    fact('Reference', c.reference);
    ui.orders.textContent = c.summary && c.summary.orders_text ? c.summary.orders_text : 'No orders we could match to this shopper.';
  }

  function renderRating(rating) {
    if (!rating) {
      ui.ratingCard.hidden = true;
      return;
    }
    ui.ratingCard.hidden = false;
    var score = Number(rating[0]);
    clear(ui.rating);
    ui.rating.appendChild(el('span', 'ac-stars', '★★★★★'.slice(0, score) + '☆☆☆☆☆'.slice(0, 5 - score)));
    ui.rating.appendChild(el('span', 'ac-rating__score', ' ' + score + '/5'));
    if (rating[1]) ui.rating.appendChild(el('span', 'ac-rating__comment', rating[1]));
  }

  function addNote(note) {
    var li = el('li', 'ac-note');
    li.appendChild(el('div', 'ac-note__meta', note.author + ' · ' + timeText(note.created_at)));
    li.appendChild(el('div', 'ac-note__text', note.text));
    ui.notes.appendChild(li);
  }

  function onConversationFrame(f) {
    switch (f.type) {
      case 'message':
        hideTyping();
        addEntry(f.message_id, f.role || 'system', f.text, 'done');
        return;
      case 'delta': {
        var entry = entries[String(f.message_id)] || addEntry(f.message_id, 'bot', '', 'generating');
        if (Number(f.seq) > entry.seq) {
          entry.seq = Number(f.seq);
          setEntryText(entry, entry.text + (f.text || ''), 'generating');
        }
        return;
      }
      case 'reset': {
        var restarted = entries[String(f.message_id)];
        if (restarted) {
          restarted.seq = 0;
          setEntryText(restarted, '', 'generating');
        }
        return;
      }
      case 'done':
        hideTyping();
        addEntry(f.message_id, f.role || 'bot', f.text, 'done');
        return;
      case 'typing':
        if (f.role === 'agent' && holdsIt()) return; // that is us
        showTyping(f.role);
        return;
      case 'state':
        if (current) {
          current.state = f.state;
          renderState();
        }
        return;
      case 'note':
        if (f.note) addNote(f.note);
        return;
      case 'rating':
        renderRating([f.score, f.comment]);
        return;
      case 'contact':
        if (current) {
          current.contact_email = f.email;
          renderCustomer(current);
        }
        return;
      default:
        return;
    }
  }

  function showTyping(role) {
    var labels = { shopper: 'The shopper is typing…', bot: 'The bot is writing…', agent: 'A colleague is typing…' };
    ui.typingLabel.textContent = labels[role] || labels.shopper;
    ui.typing.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, TYPING_HIDE_MS);
  }

  function hideTyping() {
    clearTimeout(typingTimer);
    ui.typing.hidden = true;
  }

  // ---------------------------------------------------------------------------
  // Canned replies, composer, actions
  // ---------------------------------------------------------------------------

  function renderCanned() {
    clear(ui.canned);
    var first = el('option', null, 'Insert a canned reply…');
    first.value = '';
    ui.canned.appendChild(first);
    var language = current ? current.language : null;
    var groups = Object.create(null);
    var order = [];
    cannedReplies.forEach(function (r) {
      if (!groups[r.language]) {
        groups[r.language] = [];
        order.push(r.language);
      }
      groups[r.language].push(r);
    });
    order.sort(function (a, b) { return (a === language ? -1 : 0) - (b === language ? -1 : 0); });
    order.forEach(function (lang) {
      var group = document.createElement('optgroup');
      group.label = LANGUAGE_NAMES[lang] || lang;
      groups[lang].forEach(function (r) {
        var option = el('option', null, r.title);
        option.value = String(r.id);
        group.appendChild(option);
      });
      ui.canned.appendChild(group);
    });
  }

  ui.canned.addEventListener('change', function () {
    var id = Number(ui.canned.value);
    ui.canned.value = '';
    var reply = cannedReplies.filter(function (r) { return r.id === id; })[0];
    if (!reply) return;
    var box = ui.reply;
    var start = box.selectionStart == null ? box.value.length : box.selectionStart;
    var end = box.selectionEnd == null ? start : box.selectionEnd;
    var before = box.value.slice(0, start);
    var spacer = before && !/\s$/.test(before) ? ' ' : '';
    box.value = before + spacer + reply.text + box.value.slice(end);
    box.focus();
    var caret = (before + spacer + reply.text).length;
    box.setSelectionRange(caret, caret);
  });

  function act(type, extra) {
    if (currentId == null) return;
    var frame = { type: type, conversation_id: currentId };
    for (var key in extra || {}) frame[key] = extra[key];
    send(frame);
  }

  ui.claim.addEventListener('click', function () { act('claim'); });
  ui.resolve.addEventListener('click', function () { act('resolve'); });
  ui.handBack.addEventListener('click', function () { act('hand_back'); });
  ui.reassign.addEventListener('click', function () {
    var to = Number(ui.reassignTo.value);
    if (to) act('reassign', { to_agent_id: to });
  });

  function submitReply() {
    var text = ui.reply.value.trim();
    if (!text || !holdsIt()) return;
    act('reply', { text: text });
  }

  ui.composer.addEventListener('submit', function (e) {
    e.preventDefault();
    submitReply();
  });
  ui.reply.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submitReply();
    }
  });
  ui.reply.addEventListener('input', function () {
    if (!holdsIt() || !ui.reply.value.trim()) return;
    var now = Date.now();
    if (now - lastTypingSent < TYPING_SEND_INTERVAL_MS) return;
    lastTypingSent = now;
    act('typing');
  });

  ui.noteForm.addEventListener('submit', function (e) {
    e.preventDefault();
    var text = ui.note.value.trim();
    if (text) act('note', { text: text });
  });

  function setAvailable(available) {
    ui.available.checked = !!available;
    ui.availableLabel.textContent = available ? 'On duty' : 'Away';
  }

  ui.available.addEventListener('change', function () {
    send({ type: 'availability', available: ui.available.checked });
    setAvailable(ui.available.checked);
  });

  // ---------------------------------------------------------------------------
  // Toasts
  // ---------------------------------------------------------------------------

  function showToast(text, kind) {
    ui.toast.textContent = text;
    ui.toast.setAttribute('data-kind', kind || 'info');
    ui.toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { ui.toast.hidden = true; }, TOAST_MS);
  }
  ui.toast.addEventListener('click', function () { ui.toast.hidden = true; });

  setInterval(tickWaitingTimes, 15000);
  updateAlertsButton();
  connect();
})();
