// Gridline maps, drawn with Leaflet 1.9.4 (vendored in vendor/leaflet/, BSD-2-Clause) rather than a
// map of our own: it is small, well kept, and served with the app, so the maps work with no internet.
// Boundaries, grid cells and cases are vectors from our own endpoints; raster tiles are drawn
// underneath only when routing.map_tile_url is configured.
//
// The widget (for any console page, e.g. the case page, to set a case's location):
//
//   <link rel="stylesheet" href="/console/static/vendor/leaflet/leaflet.css">
//   <link rel="stylesheet" href="/console/static/map.css">
//   <div id="where"></div>                      <!-- 320 px high unless the page says otherwise -->
//   <script src="/console/static/vendor/leaflet/leaflet.js"></script>
//   <script src="/console/static/map.js"></script>
//
//   const where = GridlineMap.mount(document.getElementById("where"), {
//     center: [116.6392, 40.3225],     // [lon, lat] to open on; default: the point
//     point: [116.6392, 40.3225],      // [lon, lat] of the case, or null
//     cellCode: "110116001001001",     // the case's grid cell, outlined in orange (optional)
//     pickable: true,                  // a click moves the point there and calls onPick
//     onPick: (lon, lat, cellCode) => { /* cellCode: the drawn cell under the click, or null */ },
//     zoom: 15,                        // optional; also cellsUrl (default /console/api/map/cells), tileUrl
//   });
//   where.setPoint(lon, lat); where.cellCode(); where.map (the Leaflet map); where.refresh(); where.destroy();
//
// The widget draws the grid cells of the visible area (GET /console/api/map/cells?bbox=...). The cell
// it reports for a click is a hint for the form; the server still places the point with routing.geo.
// Call refresh() when the widget's element was hidden at mount and becomes visible.
//
// The map page (/console/map, 一图呈现) runs by itself when the page has #map-page.
(function () {
  "use strict";
  const L = window.L;
  const CELLS_URL = "/console/api/map/cells";
  // Where the page opens before the boundaries arrive (the demo district); then it fits them.
  const DISTRICT_VIEW = { center: [40.62, 116.62], zoom: 9 };
  const STATUS_COLOURS = {
    received: "#64748b",
    verifying: "#2563eb",
    dispatched: "#7c3aed",
    accepted: "#d97706",
    handled: "#0d9488",
    checked: "#16a34a",
  };
  const OVERDUE_COLOUR = "#dc2626";
  const TOWN_FILLS = ["#dbeafe", "#dcfce7", "#fef3c7", "#fce7f3", "#e0e7ff", "#ccfbf1", "#ffedd5", "#ede9fe"];
  // Below these zoom levels there would be too many lines to read: communities from 11, cells from 13.
  const COMMUNITY_ZOOM = 11;
  const CELL_ZOOM = 13;
  const CELL_STYLE = { color: "#0f766e", weight: 0.8, fill: false, opacity: 0.8 };
  const CELL_CHOSEN = { color: "#ea580c", weight: 3, fill: true, fillColor: "#fb923c", fillOpacity: 0.15, opacity: 1 };

  const latLng = (lonLat) => L.latLng(lonLat[1], lonLat[0]);
  // 6 decimals of a degree: about 0.1 m, finer than any phone's fix.
  const round6 = (value) => Math.round(value * 1e6) / 1e6;
  const clamp = (value, low, high) => Math.min(high, Math.max(low, value));

  async function fetchJson(url, signal) {
    const response = await fetch(url, { credentials: "same-origin", signal });
    if (!response.ok) { throw new Error(url + ": HTTP " + response.status); }
    return response.json();
  }

  // Ray casting over GeoJSON rings (lon/lat): enough to tell which drawn cell a click fell in.
  function inRing(lon, lat, ring) {
    let inside = false;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i];
      const [xj, yj] = ring[j];
      if ((yi > lat) !== (yj > lat) && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) { inside = !inside; }
    }
    return inside;
  }
  const inPolygon = (lon, lat, rings) =>
    inRing(lon, lat, rings[0]) && !rings.slice(1).some((hole) => inRing(lon, lat, hole));
  function contains(geometry, lon, lat) {
    if (geometry.type === "Polygon") { return inPolygon(lon, lat, geometry.coordinates); }
    if (geometry.type === "MultiPolygon") { return geometry.coordinates.some((p) => inPolygon(lon, lat, p)); }
    return false;
  }

  // Grid cells of the visible area, read again after every pan or zoom; only the latest answer is drawn.
  function cellLayer(map, url, options) {
    let chosen = options.chosen || null;
    let request = null;
    const layer = L.geoJSON(null, Object.assign(options.pane ? { pane: options.pane } : {}, {
      interactive: false,  // clicks go through to the map (the widget picks points there)
      style: (feature) => Object.assign(
        { className: "gl-cell gl-cell-" + feature.properties.code },
        feature.properties.code === chosen ? CELL_CHOSEN : CELL_STYLE,
      ),
    }));
    const load = async () => {
      if (request) { request.abort(); }
      if (options.visible && !options.visible()) {
        layer.clearLayers();
        if (options.onLoad) { options.onLoad(null); }
        return;
      }
      request = new AbortController();
      const bounds = map.getBounds();
      const bbox = [
        clamp(bounds.getWest(), -180, 180), clamp(bounds.getSouth(), -90, 90),
        clamp(bounds.getEast(), -180, 180), clamp(bounds.getNorth(), -90, 90),
      ].map((v) => v.toFixed(5)).join(",");
      try {
        const data = await fetchJson(url + "?bbox=" + bbox, request.signal);
        layer.clearLayers();
        layer.addData(data);
        if (options.onLoad) { options.onLoad(data); }
      } catch (err) {
        if (err.name !== "AbortError" && options.onError) { options.onError(err); }
      }
    };
    map.on("moveend", load);
    return {
      layer,
      load,
      codeAt(lon, lat) {
        const hit = layer.getLayers().find((cell) => contains(cell.feature.geometry, lon, lat));
        return hit ? hit.feature.properties.code : null;
      },
      choose(code) { chosen = code; layer.resetStyle(); },
      chosen: () => chosen,
    };
  }

  function mount(element, options) {
    const opts = Object.assign({ point: null, pickable: false, zoom: 15, cellsUrl: CELLS_URL, tileUrl: "" }, options);
    const start = opts.center || opts.point;
    if (!start) { throw new Error("GridlineMap.mount: give center or point as [lon, lat]"); }
    element.classList.add("gl-widget");
    const map = L.map(element, { center: latLng(start), zoom: opts.zoom });
    if (opts.tileUrl) { L.tileLayer(opts.tileUrl, { maxZoom: 19 }).addTo(map); }
    const cells = cellLayer(map, opts.cellsUrl, { chosen: opts.cellCode || null });
    cells.layer.addTo(map);
    const marker = L.circleMarker([0, 0], {
      radius: 7, color: "#ffffff", weight: 2, fillColor: OVERDUE_COLOUR, fillOpacity: 1,
      className: "gl-point", interactive: false,
    });
    const setPoint = (lon, lat) => {
      marker.setLatLng(latLng([lon, lat]));
      if (!map.hasLayer(marker)) { marker.addTo(map); }
      if (!map.getBounds().contains(marker.getLatLng())) { map.panTo(marker.getLatLng()); }
    };
    if (opts.point) { setPoint(opts.point[0], opts.point[1]); }
    if (opts.pickable) {
      element.classList.add("gl-pickable");
      map.on("click", (event) => {
        const where = event.latlng.wrap();
        const lon = round6(where.lng);
        const lat = round6(where.lat);
        setPoint(lon, lat);
        cells.choose(cells.codeAt(lon, lat));
        if (opts.onPick) { opts.onPick(lon, lat, cells.chosen()); }
      });
    }
    cells.load();
    return {
      map,
      setPoint,
      cellCode: () => cells.chosen(),
      refresh: () => { map.invalidateSize(); cells.load(); },
      destroy: () => map.remove(),
    };
  }

  // --- the map page (一图呈现) ------------------------------------------------------------------

  // Neighbouring towns get different fills: greedy colouring over towns whose extents overlap.
  function townFills(layers) {
    const fills = new Map();
    for (const layer of layers) {
      const bounds = layer.getBounds();
      const taken = new Set(layers.filter((o) => fills.has(o) && o.getBounds().intersects(bounds)).map((o) => fills.get(o)));
      const free = TOWN_FILLS.find((c) => !taken.has(c));
      fills.set(layer, free || TOWN_FILLS[fills.size % TOWN_FILLS.length]);
    }
    return fills;
  }

  function legend(labels) {
    const control = L.control({ position: "bottomright" });
    control.onAdd = () => {
      const box = L.DomUtil.create("div", "gl-legend");
      box.id = "map-legend";
      const title = L.DomUtil.create("strong", "", box);
      title.textContent = labels.legend;
      const entry = (colour, text, extra) => {
        const row = L.DomUtil.create("div", "gl-legend-row", box);
        const swatch = L.DomUtil.create("span", "gl-swatch" + (extra || ""), row);
        swatch.style.background = colour;
        row.append(text);
      };
      for (const [status, text] of labels.status) { entry(STATUS_COLOURS[status], text); }
      entry(OVERDUE_COLOUR, labels.overdue, " gl-swatch-overdue");
      return box;
    };
    return control;
  }

  function hint() {
    const control = L.control({ position: "bottomleft" });
    control.onAdd = () => { const box = L.DomUtil.create("div", "gl-hint"); box.id = "map-hint"; return box; };
    control.say = (text) => {
      const box = control.getContainer();
      box.textContent = text || "";
      box.hidden = !text;
    };
    return control;
  }

  function page(root) {
    const config = JSON.parse(document.getElementById("map-config").textContent);
    const labels = config.labels;
    const statusNames = new Map(labels.status);
    const notice = document.getElementById("map-notice");
    const say = (text) => { notice.textContent = text || ""; notice.hidden = !text; };
    const failed = (err) => { console.error(err); say(labels.failed); };
    const areaName = (p) => (config.lang === "en" && p.name_en) || p.name_zh;

    const map = L.map(root.querySelector("#map"), { zoomSnap: 0.5 }).setView(DISTRICT_VIEW.center, DISTRICT_VIEW.zoom);
    if (config.tileUrl) { L.tileLayer(config.tileUrl, { maxZoom: 19 }).addTo(map); }
    // Panes stack the layers: areas, then cells, then cases on top (Leaflet gives each pane its own SVG).
    for (const [pane, z] of [["gl-communities", 410], ["gl-cells", 420], ["gl-district", 430], ["gl-cases", 450]]) {
      map.createPane(pane).style.zIndex = z;
    }

    const towns = L.geoJSON(null, { interactive: false, style: { color: "#1e3a5f", weight: 1.2, fillOpacity: 0.55 } });
    const townLabels = L.layerGroup();
    const townsGroup = L.layerGroup([towns, townLabels]).addTo(map);
    const district = L.geoJSON(null, {
      pane: "gl-district", interactive: false, style: { color: "#1e3a5f", weight: 3, fill: false },
    }).addTo(map);
    const communities = L.geoJSON(null, {
      pane: "gl-communities", interactive: false,
      style: { color: "#475569", weight: 0.8, dashArray: "3 3", fill: false },
    });
    const communitiesGroup = L.layerGroup().addTo(map);
    const status = hint().addTo(map);
    const cells = cellLayer(map, config.urls.cells, {
      pane: "gl-cells",
      visible: () => map.getZoom() >= CELL_ZOOM && map.hasLayer(cells.layer),
      onLoad: (data) => status.say(
        !data ? labels.cellsHint : data.truncated ? labels.cellsTruncated.replace("{limit}", data.limit) : "",
      ),
      onError: failed,
    });
    cells.layer.addTo(map);
    cells.load();
    const cases = L.featureGroup().addTo(map);
    L.control.layers(null, {
      [labels.towns]: townsGroup,
      [labels.communities]: communitiesGroup,
      [labels.cells]: cells.layer,
      [labels.cases]: cases,
    }).addTo(map);
    legend(labels).addTo(map);

    // A town's name is shown when the town is wide enough on screen to hold it.
    const placeLabels = () => {
      townLabels.clearLayers();
      for (const town of towns.getLayers()) {
        const props = town.feature.properties;
        const bounds = town.getBounds();
        const width = map.latLngToContainerPoint(bounds.getNorthEast()).x - map.latLngToContainerPoint(bounds.getSouthWest()).x;
        const name = areaName(props);
        if (width < name.length * (config.lang === "en" ? 5 : 12)) { continue; }
        townLabels.addLayer(L.tooltip({ permanent: true, direction: "center", className: "gl-town-label" })
          .setLatLng(latLng(props.label)).setContent(name));
      }
    };
    let communitiesLoaded = false;
    const showCommunities = async () => {
      const wanted = map.getZoom() >= COMMUNITY_ZOOM;
      if (wanted && !communitiesLoaded) {
        communitiesLoaded = true;
        try { communities.addData(await fetchJson(config.urls.areas + "?level=community")); } catch (err) { failed(err); }
      }
      if (wanted) { communitiesGroup.addLayer(communities); } else { communitiesGroup.removeLayer(communities); }
    };
    map.on("zoomend", () => { placeLabels(); showCommunities(); });
    map.on("overlayadd", (event) => { if (event.layer === cells.layer) { cells.load(); } });

    const loadAreas = async () => {
      try {
        const [townData, districtData] = await Promise.all([
          fetchJson(config.urls.areas + "?level=town"),
          fetchJson(config.urls.areas + "?level=district"),
        ]);
        towns.addData(townData);
        district.addData(districtData);
        const fills = townFills(towns.getLayers());
        for (const town of towns.getLayers()) {
          town.setStyle({ fillColor: fills.get(town) });
          town.getElement()?.setAttribute("data-code", town.feature.properties.code);
        }
        // Not animated: Leaflet ignores any zoom asked for while an animation runs, and a user (or a
        // test) may already be zooming when the boundaries arrive.
        if (towns.getLayers().length) { map.fitBounds(towns.getBounds(), { padding: [10, 10], animate: false }); }
        placeLabels();
        root.dataset.areasLoaded = "1";  // tests wait for this
      } catch (err) { failed(err); }
    };

    const caseUrl = (number) => config.urls.case && config.urls.case.replace("NUMBER", encodeURIComponent(number));
    const popup = (c) => {
      const box = L.DomUtil.create("div", "gl-popup");
      const head = L.DomUtil.create("div", "", box);
      const number = L.DomUtil.create("strong", "gl-popup-number", head);
      number.textContent = c.number;
      const state = L.DomUtil.create("span", "status", head);
      state.textContent = statusNames.get(c.status) || c.status;
      if (c.overdue) { L.DomUtil.create("span", "status gl-overdue-tag", head).textContent = labels.overdue; }
      const meta = L.DomUtil.create("div", "gl-popup-meta", box);
      meta.textContent = [config.categories[c.category] || c.category, c.channel].filter(Boolean).join(" · ");
      if (c.summary) { L.DomUtil.create("p", "", box).textContent = c.summary; }
      const url = caseUrl(c.number);
      if (url) {
        const link = L.DomUtil.create("a", "gl-popup-link", box);
        link.href = url;
        link.textContent = labels.open;
      }
      return box;
    };
    const filters = root.querySelector("#map-filters");
    const count = root.querySelector("#map-count");
    let casesRequest = null;
    const loadCases = async () => {
      if (casesRequest) { casesRequest.abort(); }
      casesRequest = new AbortController();
      const query = new URLSearchParams();
      for (const select of filters.querySelectorAll("select")) {
        if (select.value) { query.append(select.name, select.value); }
      }
      let data;
      try {
        data = await fetchJson(config.urls.cases + "?" + query, casesRequest.signal);
      } catch (err) {
        if (err.name !== "AbortError") { failed(err); }
        return;
      }
      cases.clearLayers();
      for (const c of data.cases) {
        const dot = L.circleMarker([c.lat, c.lon], {
          pane: "gl-cases",
          radius: c.overdue ? 7 : 6,
          color: c.overdue ? "#7f1d1d" : "#ffffff",
          weight: c.overdue ? 2.5 : 1.5,
          fillColor: c.overdue ? OVERDUE_COLOUR : STATUS_COLOURS[c.status] || "#334155",
          fillOpacity: 0.95,
          className: "gl-case gl-case-" + c.status + (c.overdue ? " gl-overdue" : ""),
        });
        // The number on the SVG element: tests and assistive tools can find a case's dot.
        dot.on("add", () => { dot.getElement().setAttribute("data-number", c.number); });
        dot.bindPopup(() => popup(c));
        dot.bindTooltip(c.number, { direction: "top", offset: [0, -6] });
        cases.addLayer(dot);
      }
      count.textContent = labels.shown.replace("{count}", data.count);
      root.dataset.casesLoaded = String(data.count);  // tests wait for this
      say(data.truncated ? labels.casesTruncated.replace("{limit}", data.limit) : "");
    };
    filters.addEventListener("change", loadCases);
    filters.addEventListener("submit", (event) => event.preventDefault());

    loadAreas().then(loadCases);
    return { map, reloadCases: loadCases };
  }

  window.GridlineMap = { mount, STATUS_COLOURS, OVERDUE_COLOUR };
  const root = document.getElementById("map-page");
  if (root) { window.GridlineMap.page = page(root); }
})();
