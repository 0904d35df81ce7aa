/* The citizen app's service worker: the page's shell is cached so the app starts without a network;
   API calls (private data) always go to the network and are never cached. */
"use strict";

var CACHE = "gridline-app-v1";
var SHELL = ["/app/", "/app/static/mobile.css", "/app/static/app.js", "/app/manifest.webmanifest",
  "/app/static/icon-192.png", "/app/static/icon-512.png"];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.addAll(SHELL); }).then(function () {
    return self.skipWaiting();
  }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) { return name !== CACHE; }).map(function (name) {
      return caches.delete(name);
    }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin || url.pathname.indexOf("/api/") === 0) {
    return;
  }
  // Network first (a fresh page and language), the cached shell when offline.
  event.respondWith(fetch(event.request).then(function (response) {
    if (response.ok && SHELL.indexOf(url.pathname) !== -1 && !url.search) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { cache.put(event.request, copy); });
    }
    return response;
  }).catch(function () {
    return caches.match(event.request, { ignoreSearch: true }).then(function (hit) {
      return hit || caches.match("/app/");
    });
  }));
});
