// The companion's service worker (SPEC §9): the page and today's kept session answer from the
// phone's own copy when the computer does not. What is kept is decided by the page (offline.js);
// this only answers from it.
"use strict";
const PAGE = "sis-page", SESSION = "sis-session";
const NETWORK_WAIT_MS = 4000;  // a computer that is off does not refuse, it is silent: wait this long

self.addEventListener("install", (ev) => {
  ev.waitUntil(caches.open(PAGE).then((c) => c.addAll(["/", "/offline.js"])).catch(() => {}).then(() => self.skipWaiting()));
});
self.addEventListener("activate", (ev) => ev.waitUntil(self.clients.claim()));

function withTimeout(request) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), NETWORK_WAIT_MS);
  return fetch(request, { signal: ctl.signal }).finally(() => clearTimeout(timer));
}

// A Range request answered from a whole kept file: <audio> asks for parts while it plays and seeks.
async function ranged(request, whole) {
  const range = request.headers.get("range");
  if (!range) return whole;
  const blob = await whole.blob();
  const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
  let start = 0, end = blob.size - 1;
  if (m && m[1] !== "") { start = Number(m[1]); if (m[2] !== "") end = Math.min(Number(m[2]), end); }
  else if (m && m[2] !== "") start = Math.max(0, blob.size - Number(m[2]));
  if (!m || start > end) {
    return new Response(null, { status: 416, headers: { "Content-Range": "bytes */" + blob.size } });
  }
  return new Response(blob.slice(start, end + 1), { status: 206, headers: {
    "Content-Type": whole.headers.get("Content-Type") || "audio/mpeg",
    "Content-Range": "bytes " + start + "-" + end + "/" + blob.size,
    "Content-Length": String(end - start + 1), "Accept-Ranges": "bytes" } });
}

self.addEventListener("fetch", (ev) => {
  const req = ev.request;
  const url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== location.origin) return;
  if (url.pathname.startsWith("/media/")) {  // a render never changes: the kept copy first
    ev.respondWith(caches.open(SESSION).then((c) => c.match(url.pathname)).then(
      (kept) => kept ? ranged(req, kept) : fetch(req)));
  } else if (req.mode === "navigate" || url.pathname === "/offline.js") {  // the newest page when the computer answers
    ev.respondWith(withTimeout(req).then((r) => {
      if (r.ok && url.pathname === "/offline.js") caches.open(PAGE).then((c) => c.put("/offline.js", r.clone()));
      return r;
    }).catch(() => caches.open(PAGE).then((c) => c.match(url.pathname === "/offline.js" ? "/offline.js" : "/"))
      .then((kept) => kept || Response.error())));
  }
});
