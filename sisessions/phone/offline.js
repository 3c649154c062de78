// The companion page with the computer off (SPEC §9): the kept session, answers queued on the
// phone and sent once, resume where it stopped, and "keep the screen on". Loaded by page.html.
"use strict";
const sisOffline = (() => {
  const PAGE = "sis-page", SESSION = "sis-session", KEPT = "/offline/kept.json";
  const secure = window.isSecureContext && "serviceWorker" in navigator && "caches" in window;
  const RETRY_MS = 5000;  // while something waits in the queue, the computer is asked this often
  const WAIT_MS = 6000;   // an answer that takes longer: the computer is taken as away

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);  // over http
  }

  async function fetchWait(path, opts) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), WAIT_MS);
    try { return await fetch(path, Object.assign({ credentials: "same-origin", signal: ctl.signal }, opts || {})); }
    finally { clearTimeout(timer); }
  }

  // ------------------------------------------------------------ the kept session

  async function register() {
    if (!secure) return null;
    try { return await navigator.serviceWorker.register("/sw.js", { scope: "/" }); }
    catch (e) { return null; }
  }

  async function kept() {
    if (!secure) return null;
    const r = await caches.open(SESSION).then((c) => c.match(KEPT)).catch(() => null);
    return r ? r.json() : null;
  }

  function ready(k) {
    document.body.dataset.offline = "ready";
    document.body.dataset.keptId = k.render.id;
  }

  // Keep the page and this render (audio, transcript, chapters) on the phone; the session kept
  // before is removed once this one is whole (the phone's storage is the person's).
  async function keep(render, today) {
    if (!secure) return false;
    const before = await kept();
    const c = await caches.open(SESSION);
    const urls = [render.audio, render.transcript].filter(Boolean);
    const have = await Promise.all(urls.map((u) => c.match(new URL(u, location.href).pathname)));
    for (let i = 0; i < urls.length; i++) {
      if (have[i]) continue;
      const r = await fetch(urls[i], { credentials: "same-origin" });
      if (!r.ok) return false;
      await c.put(new URL(urls[i], location.href).pathname, r);
    }
    const record = { render: render, today: today || null, at: new Date().toISOString() };
    await c.put(KEPT, new Response(JSON.stringify(record), { headers: { "Content-Type": "application/json" } }));
    const keepPaths = new Set(urls.map((u) => new URL(u, location.href).pathname).concat([KEPT]));
    for (const req of await c.keys()) {
      if (!keepPaths.has(new URL(req.url).pathname)) await c.delete(req);
    }
    const p = await caches.open(PAGE);
    for (const path of ["/", "/offline.js"]) {
      const r = await fetch(path, { credentials: "same-origin" }).catch(() => null);
      if (r && r.ok) await p.put(path, r);
    }
    if (before && before.render.id !== render.id) forget(before.render.id);
    ready(record);
    return true;
  }

  // ------------------------------------------------------------ answers queued on the phone

  function db() {
    return new Promise((ok, fail) => {
      const open = indexedDB.open("sisessions", 1);
      open.onupgradeneeded = () => open.result.createObjectStore("outbox", { keyPath: "id" });
      open.onsuccess = () => ok(open.result);
      open.onerror = () => fail(open.error);
    });
  }

  async function store(mode, fn) {
    const d = await db();
    return new Promise((ok, fail) => {
      const tx = d.transaction("outbox", mode);
      const req = fn(tx.objectStore("outbox"));
      tx.oncomplete = () => { d.close(); ok(req && req.result); };
      tx.onerror = () => { d.close(); fail(tx.error); };
    });
  }

  const waiting = () => store("readonly", (s) => s.getAll()).then((all) => all.sort((a, b) => a.at - b.at));
  const listeners = [], outcome = new Map();
  let flushing = null;

  // Send what waits, oldest first. Written (2xx), or refused for good (4xx): gone from the queue;
  // no answer or a 5xx: it stays, and is tried again.
  function flush() {
    if (flushing) return flushing;
    flushing = (async () => {
      let sent = 0;
      for (const item of await waiting()) {
        let r;
        try {
          r = await fetchWait(item.path, { method: "POST", headers: { "Content-Type": "application/json" },
                                           body: JSON.stringify(item.body) });
        } catch (e) { break; }
        if (r.status >= 500 || r.status === 408 || r.status === 429) break;
        await store("readwrite", (s) => s.delete(item.id));
        sent++;
        const answer = await r.json().catch(() => ({}));
        outcome.set(item.id, { ok: r.ok, answer: answer });
        listeners.forEach((fn) => fn(item, r.ok, answer));
      }
      return sent;
    })().finally(() => { flushing = null; });
    return flushing;
  }

  // Queue an answer with a client-made id (the companion writes each id once; the page's own id
  // when it gave one), then try to send it. Resolves to the companion's answer when it reached
  // the log now, null when it waits on the phone; throws the companion's sentence when it refused it.
  async function send(path, body) {
    const item = { id: body.id || newId(), path: path, body: Object.assign({}, body), at: Date.now() };
    item.body.id = item.id;
    await store("readwrite", (s) => s.put(item));
    await flush();
    if (!outcome.has(item.id)) await flush();  // a send already under way began before this one
    const done = outcome.get(item.id);
    if (!done) return null;
    outcome.delete(item.id);
    if (!done.ok) throw new Error(done.answer.error || "The computer refused it.");
    return done.answer;
  }

  function onSent(fn) { listeners.push(fn); }

  window.addEventListener("online", () => flush());
  setInterval(() => { waiting().then((w) => { if (w.length) flush(); }).catch(() => {}); }, RETRY_MS);

  // ------------------------------------------------------------ resume where it stopped

  function resume(id, audio) {
    const key = "at:" + id;
    const saved = Number(localStorage.getItem(key) || 0);
    const apply = () => { if (saved > 1 && saved < audio.duration - 5) audio.currentTime = saved; };
    if (audio.readyState >= 1) apply(); else audio.addEventListener("loadedmetadata", apply, { once: true });
    let last = 0;
    const save = () => {
      if (audio.src.indexOf(id) < 0) return;
      if (Math.abs(audio.currentTime - last) < 2 && !audio.paused) return;
      last = audio.currentTime;
      localStorage.setItem(key, String(Math.floor(audio.currentTime)));
    };
    audio.addEventListener("timeupdate", save);
    audio.addEventListener("pause", save);
    audio.addEventListener("ended", () => localStorage.removeItem(key));
    return saved;
  }

  function forget(id) { localStorage.removeItem("at:" + id); }

  // ------------------------------------------------------------ keep the screen on

  function wakeLock(box, audio) {
    if (!("wakeLock" in navigator)) { box.closest("label").hidden = true; return; }
    let lock = null;
    const want = () => box.checked && !audio.paused && document.visibilityState === "visible";
    const update = async () => {
      if (want() && !lock) {
        try {
          lock = await navigator.wakeLock.request("screen");
          document.body.dataset.wake = "on";
          lock.addEventListener("release", () => { lock = null; delete document.body.dataset.wake; });
        } catch (e) { lock = null; }
      } else if (!want() && lock) { lock.release(); lock = null; delete document.body.dataset.wake; }
    };
    box.checked = localStorage.getItem("wake") === "1";
    box.addEventListener("change", () => { localStorage.setItem("wake", box.checked ? "1" : "0"); update(); });
    ["play", "pause", "ended"].forEach((e) => audio.addEventListener(e, update));
    document.addEventListener("visibilitychange", update);
  }

  return { secure, register, kept, keep, ready, send, flush, onSent, waiting, resume, forget, wakeLock, fetchWait };
})();
