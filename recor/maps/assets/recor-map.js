/* recor map runtime: decodes the compact layers of a recor map and draws them with Leaflet.
 * The page is built by folium: its script creates the Leaflet map, then calls
 * recor.addLayer(map, layer) for each layer and recor.finish(map, spec) once; layers and spec
 * arrive as JSON in <script type="application/json"> elements. Every value taken from the
 * data reaches the page through textContent, never as HTML. */
(function () {
  "use strict";

  var ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  var DIGIT = new Int8Array(128).fill(-1);
  for (var a = 0; a < ALPHABET.length; a++) DIGIT[ALPHABET.charCodeAt(a)] = a;
  var QUANTUM = 1e-5;
  /* folium's control_scale adds L.control.scale(): make it metric only. */
  L.Control.Scale.mergeOptions({ imperial: false });
  L.Control.Zoom.mergeOptions({ zoomInTitle: "Zoom avant", zoomOutTitle: "Zoom arrière" });

  function decodeInts(text) {
    var out = new Float64Array(text.length), n = 0, value = 0, scale = 1;
    for (var i = 0; i < text.length; i++) {
      var d = DIGIT[text.charCodeAt(i)];
      if (d < 0) throw new Error("recor: bad letter in encoded stream at " + i);
      if (d >= 32) { value += (d - 32) * scale; scale *= 32; }
      else { out[n++] = value + d * scale; value = 0; scale = 1; }
    }
    return out.subarray(0, n);
  }

  function unzigzag(z) { return z % 2 ? -(z + 1) / 2 : z / 2; }

  function decodeCoords(text) {
    var raw = decodeInts(text), out = new Float64Array(raw.length), lat = 0, lng = 0;
    for (var i = 0; i + 1 < raw.length; i += 2) {
      lat += unzigzag(raw[i]); lng += unzigzag(raw[i + 1]);
      out[i] = lat * QUANTUM; out[i + 1] = lng * QUANTUM;
    }
    return out;
  }

  /* Features as nested arrays of [lat, lng]: feature -> items -> sequences -> vertices. */
  function decodeGeometries(geom) {
    var xy = decodeCoords(geom.c), features = new Array(geom.n), i, v = 0;
    if (geom.k === "p") {
      for (i = 0; i < geom.n; i++, v += 2) features[i] = [xy[v], xy[v + 1]];
      return features;
    }
    var s = decodeInts(geom.s), c = 0;
    for (i = 0; i < geom.n; i++) {
      var items = new Array(s[c++]);
      for (var j = 0; j < items.length; j++) {
        var seqs = new Array(s[c++]);
        for (var k = 0; k < seqs.length; k++) {
          var len = s[c++], seq = new Array(len);
          for (var m = 0; m < len; m++, v += 2) seq[m] = [xy[v], xy[v + 1]];
          seqs[k] = seq;
        }
        items[j] = seqs;
      }
      features[i] = items;
    }
    return features;
  }

  function pad(number, width) {
    var text = String(number);
    while (text.length < width) text = "0" + text;
    return text;
  }

  function decodeColumn(col, n) {
    var out = new Array(n), i;
    if (col.p) return col.p;
    if (col.d) {
      if (!col.i) return out.fill(col.d[0]);
      var idx = decodeInts(col.i);
      for (i = 0; i < n; i++) out[i] = col.d[idx[i]];
      return out;
    }
    var ti = decodeInts(col.ti), deltas = decodeInts(col.v), number = 0;
    for (i = 0; i < n; i++) {
      number += unzigzag(deltas[i]);
      var t = col.t[ti[i]];
      out[i] = t[1] < 0 ? t[0] : t[0] + pad(number, t[1]);
    }
    return out;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function formatValue(value, missing) {
    if (value === null || value === undefined || value === "") return missing || "—";
    if (typeof value === "number") return value.toLocaleString("fr-FR");
    return String(value);
  }

  function popupContent(layer, index) {
    var box = el("div", "recor-popup");
    var title = layer.popup.title ? layer.columns[layer.popup.title][index] : layer.name;
    box.appendChild(el("h4", null, formatValue(title)));
    var table = el("table");
    layer.popup.fields.forEach(function (field) {
      var row = el("tr");
      row.appendChild(el("th", null, field[1]));
      row.appendChild(el("td", null, formatValue(layer.columns[field[0]][index], field[2])));
      table.appendChild(row);
    });
    box.appendChild(table);
    return box;
  }

  function symbolIcon(style) {
    var size = style.size || 12;
    var node = el("div", "recor-symbol recor-" + style.shape);
    node.style.width = size + "px";
    node.style.height = size + "px";
    node.style.background = style.fillColor || style.color;
    node.style.borderColor = style.color;
    return L.divIcon({ html: node, className: "recor-icon", iconSize: [size, size] });
  }

  function makeFeature(layer, geometry, style, renderer) {
    if (layer.kind === "point") {
      if (style.shape && style.shape !== "circle") {
        return L.marker(geometry, {
          icon: symbolIcon(style), keyboard: false, zIndexOffset: style.zIndexOffset || 0,
        });
      }
      return L.circleMarker(geometry, L.extend({ renderer: renderer }, style));
    }
    var opts = L.extend({ renderer: renderer, interactive: layer.interactive !== false }, style);
    if (layer.kind === "polygon") return L.polygon(geometry, opts);
    var lines = [];
    geometry.forEach(function (item) { lines.push(item[0]); });
    return L.polyline(lines.length === 1 ? lines[0] : lines, opts);
  }

  /* Place names: drawn only when their zoom is reached and they are in view (at most
   * MAX_LABELS at once, the largest first), so a regional view never holds 1,800 labels. */
  var MAX_LABELS = 250;
  function labelLayer(map, layer, geometries) {
    var group = L.layerGroup(), names = layer.columns.name, zooms = layer.columns.label_zoom;
    var weights = layer.columns.population || [];
    var order = names.map(function (_, i) { return i; });
    order.sort(function (a, b) { return zooms[a] - zooms[b] || (weights[b] || 0) - (weights[a] || 0); });
    function redraw() {
      group.clearLayers();
      if (!map.hasLayer(group)) return;
      var zoom = map.getZoom(), view = map.getBounds().pad(0.1), shown = 0;
      for (var k = 0; k < order.length && shown < MAX_LABELS; k++) {
        var i = order[k];
        if (zooms[i] > zoom) break;
        if (!view.contains(geometries[i])) continue;
        var text = el("span", "recor-label-text" + (zooms[i] <= 7 ? " recor-label-major" : ""), names[i]);
        group.addLayer(L.marker(geometries[i], {
          icon: L.divIcon({ html: text, className: "recor-label", iconSize: null }),
          interactive: false, keyboard: false,
        }));
        shown++;
      }
      layer.shown = shown;
    }
    map.on("moveend zoomend", redraw);
    group.on("add", function () { setTimeout(redraw, 0); });
    layer.redraw = redraw;
    return group;
  }

  function buildLayer(map, layer, renderer) {
    var geometries = decodeGeometries(layer.geom), n = layer.geom.n;
    layer.columns = {};
    Object.keys(layer.cols).forEach(function (name) {
      layer.columns[name] = decodeColumn(layer.cols[name], n);
    });
    if (layer.kind === "label") {
      layer.group = labelLayer(map, layer, geometries);
      layer.features = [];
      layer.latlngs = geometries;
      return layer.group;
    }
    var classes = layer.columns._c;
    var group = L.featureGroup();
    var features = new Array(n);
    for (var i = 0; i < n; i++) {
      var style = layer.classes[classes ? classes[i] : 0];
      var feature = makeFeature(layer, geometries[i], style, renderer);
      feature.recorIndex = i;
      features[i] = feature;
      group.addLayer(feature);
    }
    if (layer.popup && layer.interactive !== false) {
      group.bindPopup(function (target) { return popupContent(layer, target.recorIndex); },
        { maxWidth: 360 });
    }
    layer.group = group;
    layer.features = features;
    layer.latlngs = geometries;
    return group;
  }

  /* A legend swatch: lines as a small SVG stroke (with the layer's dash pattern), shapes
   * as styled boxes. */
  var SVG = "http://www.w3.org/2000/svg";
  function swatchOf(item) {
    if (item.shape && item.shape !== "line") {
      var box = el("span", "recor-swatch recor-" + item.shape);
      box.style.background = item.fillColor || item.color;
      box.style.borderColor = item.color;
      return box;
    }
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "recor-swatch-line");
    svg.setAttribute("width", "34");
    svg.setAttribute("height", "12");
    var line = document.createElementNS(SVG, "line");
    line.setAttribute("x1", "1"); line.setAttribute("x2", "33");
    line.setAttribute("y1", "6"); line.setAttribute("y2", "6");
    line.setAttribute("stroke", item.color);
    line.setAttribute("stroke-width", String(Math.min(item.weight || 3, 10)));
    if (item.dashArray) line.setAttribute("stroke-dasharray", item.dashArray);
    svg.appendChild(line);
    return svg;
  }

  function legendControl(spec) {
    var control = L.control({ position: "bottomright" });
    control.onAdd = function () {
      var box = el("details", "recor-box recor-legend");
      box.open = true;
      box.appendChild(el("summary", null, "Légende"));
      spec.legend.forEach(function (section) {
        box.appendChild(el("h5", null, section.title));
        section.items.forEach(function (item) {
          var row = el("div", "recor-legend-row");
          row.appendChild(swatchOf(item));
          row.appendChild(el("span", null, item.label));
          box.appendChild(row);
        });
      });
      L.DomEvent.disableClickPropagation(box);
      return box;
    };
    return control;
  }

  function boxControl(position, title, lines, open) {
    var control = L.control({ position: position });
    control.onAdd = function () {
      var box = el("details", "recor-box");
      box.open = !!open;
      box.appendChild(el("summary", null, title));
      lines.forEach(function (line) {
        var row = el("div", "recor-prov-row");
        row.appendChild(el("b", null, line[0] + " : "));
        row.appendChild(el("span", null, line[1]));
        box.appendChild(row);
      });
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    };
    return control;
  }

  /* CSV of a table (French conventions: ";" separator, decimal comma), as a data: link, so
   * the download needs no request. */
  function csvOf(table, rows) {
    function cell(value) {
      if (value === null || value === undefined) return "";
      var text = typeof value === "number" ? String(value).replace(".", ",") : String(value);
      return /[";\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
    }
    var lines = [table.columns.map(cell).join(";")];
    rows.forEach(function (row) { lines.push(row.map(cell).join(";")); });
    return "\ufeff" + lines.join("\r\n") + "\r\n";
  }

  function tableView(table) {
    var box = el("div", "recor-table-view"), state = { sort: -1, asc: true, filter: "" };
    var tools = el("div", "recor-table-tools");
    var filter = el("input");
    filter.type = "search";
    filter.placeholder = "Filtrer…";
    filter.setAttribute("aria-label", "Filtrer le tableau " + table.title);
    var link = el("a", "recor-csv", "Télécharger le CSV");
    link.setAttribute("download", table.csv || "tableau.csv");
    tools.appendChild(filter);
    tools.appendChild(link);
    box.appendChild(tools);
    var grid = el("table"), head = el("tr"), body = el("tbody");
    table.columns.forEach(function (name, index) {
      var th = el("th", null, name);
      th.setAttribute("role", "button");
      th.title = "Trier";
      th.addEventListener("click", function () {
        state.asc = state.sort === index ? !state.asc : true;
        state.sort = index;
        render();
      });
      head.appendChild(th);
    });
    var thead = el("thead");
    thead.appendChild(head);
    grid.appendChild(thead);
    grid.appendChild(body);
    box.appendChild(grid);
    function visible() {
      var query = fold(state.filter.trim()), rows = table.rows.slice();
      if (query) {
        rows = rows.filter(function (row) {
          return row.some(function (v) { return v !== null && fold(v).indexOf(query) >= 0; });
        });
      }
      if (state.sort >= 0) {
        var k = state.sort, sign = state.asc ? 1 : -1;
        rows.sort(function (a, b) {
          var x = a[k], y = b[k];
          if (x === null || x === undefined) return 1;
          if (y === null || y === undefined) return -1;
          if (typeof x === "number" && typeof y === "number") return sign * (x - y);
          return sign * String(x).localeCompare(String(y), "fr");
        });
      }
      return rows;
    }
    function render() {
      var rows = visible();
      body.textContent = "";
      rows.forEach(function (values) {
        var row = el("tr");
        values.forEach(function (value) { row.appendChild(el("td", null, formatValue(value, table.missing))); });
        body.appendChild(row);
      });
      Array.prototype.forEach.call(head.children, function (th, index) {
        th.setAttribute("aria-sort", index !== state.sort ? "none" : state.asc ? "ascending" : "descending");
      });
      link.href = "data:text/csv;charset=utf-8," + encodeURIComponent(csvOf(table, rows));
      box.setAttribute("data-rows", String(rows.length));
    }
    filter.addEventListener("input", function () { state.filter = filter.value; render(); });
    render();
    return box;
  }

  function tableControl(tables) {
    var control = L.control({ position: "topleft" });
    control.onAdd = function () {
      var box = el("details", "recor-box recor-table");
      box.open = true;
      box.appendChild(el("summary", null, tables.length > 1 ? "Tableaux par territoire" : tables[0].title));
      var tabs = el("div", "recor-tabs"), views = [];
      tables.forEach(function (table, index) {
        var tab = el("button", "recor-tab", table.title);
        tab.type = "button";
        var view = tableView(table);
        view.hidden = index > 0;
        tab.setAttribute("aria-pressed", String(index === 0));
        tab.addEventListener("click", function () {
          views.forEach(function (v, i) { v.hidden = i !== index; });
          Array.prototype.forEach.call(tabs.children, function (t, i) { t.setAttribute("aria-pressed", String(i === index)); });
        });
        if (tables.length > 1) tabs.appendChild(tab);
        views.push(view);
      });
      box.appendChild(tabs);
      views.forEach(function (view) { box.appendChild(view); });
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    };
    return control;
  }

  function fold(text) {
    return String(text).normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  /* One search over communes, EPCI and sites, ranked: exact name or code first, then
   * names starting with the query, then a word starting with it, then containing it; ties
   * go to the larger population, then communes before EPCI before sites. */
  function searchEntries(spec, layersById) {
    var entries = [];
    spec.search.sources.forEach(function (source, rank) {
      var layer = layersById[source.layer];
      if (!layer) return;
      var title = layer.columns[source.title], n = layer.geom.n;
      for (var i = 0; i < n; i++) {
        if (!title[i]) continue;
        var keys = source.keys.map(function (k) { return layer.columns[k][i]; })
          .filter(function (v) { return v !== null && v !== undefined && v !== ""; })
          .map(fold);
        var detail = source.detail ? layer.columns[source.detail][i] : null;
        var weight = source.weight ? layer.columns[source.weight][i] : null;
        entries.push({ layer: layer, index: i, keys: keys, text: title[i], rank: rank,
          detail: source.kind + (detail ? " · " + detail : ""), weight: weight || 0 });
      }
    });
    return entries;
  }

  function score(entry, query) {
    var best = 9;
    entry.keys.forEach(function (key) {
      if (key === query) best = Math.min(best, 0);
      else if (key.indexOf(query) === 0) best = Math.min(best, 1);
      else if ((" " + key.replace(/[-'’()]/g, " ")).indexOf(" " + query) >= 0) best = Math.min(best, 2);
      else if (key.indexOf(query) >= 0) best = Math.min(best, 3);
    });
    return best;
  }

  function rankEntries(entries, query, limit) {
    var found = [];
    entries.forEach(function (entry) {
      var s = score(entry, query);
      if (s < 9) found.push({ entry: entry, score: s });
    });
    found.sort(function (a, b) {
      return a.score - b.score || b.entry.weight - a.entry.weight || a.entry.rank - b.entry.rank ||
        String(a.entry.text).localeCompare(String(b.entry.text), "fr");
    });
    return found.slice(0, limit).map(function (f) { return f.entry; });
  }

  function searchControl(map, spec, layersById, sync) {
    var entries = searchEntries(spec, layersById);
    var control = L.control({ position: "topright" });
    control.onAdd = function () {
      var box = el("div", "recor-box recor-search");
      var input = el("input");
      input.type = "search";
      input.placeholder = spec.search.label;
      input.setAttribute("aria-label", spec.search.label);
      var results = el("div", "recor-results");
      box.appendChild(input);
      box.appendChild(results);
      input.addEventListener("input", function () {
        results.textContent = "";
        var query = fold(input.value.trim());
        if (query.length < 2) return;
        rankEntries(entries, query, 10).forEach(function (entry) {
          var button = el("button", "recor-result");
          button.type = "button";
          button.appendChild(el("span", "recor-result-name", entry.text));
          button.appendChild(el("span", "recor-result-detail", entry.detail));
          button.addEventListener("click", goTo.bind(null, entry));
          results.appendChild(button);
        });
        if (!results.firstChild) results.appendChild(el("div", "recor-none", "Aucun résultat"));
      });
      function goTo(entry) {
        var layer = entry.layer, feature = layer.features[entry.index], where;
        if (layer.kind === "point" || layer.kind === "label") {
          where = L.latLng(layer.latlngs[entry.index]);
          map.setView(where, Math.max(map.getZoom(), layer.minZoom || 13), { animate: false });
        } else {
          where = feature.getBounds().getCenter();
          map.fitBounds(feature.getBounds(), { animate: false, maxZoom: 13 });
        }
        sync();
        if (!map.hasLayer(layer.group)) map.addLayer(layer.group);
        if (feature && layer.popup) feature.fire("click", { latlng: where }, true);
      }
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    };
    return control;
  }

  /* Layers with a minimum zoom (e.g. 150,000 chambers) are drawn only when zoomed in. */
  function zoomGate(map, layers) {
    var wanted = {}, syncing = false;
    layers.forEach(function (layer) { wanted[layer.id] = layer.show !== false; });
    function sync() {
      syncing = true;
      layers.forEach(function (layer) {
        var visible = wanted[layer.id] && (!layer.minZoom || map.getZoom() >= layer.minZoom);
        if (visible && !map.hasLayer(layer.group)) map.addLayer(layer.group);
        if (!visible && map.hasLayer(layer.group)) map.removeLayer(layer.group);
      });
      syncing = false;
    }
    function track(on) {
      return function (event) {
        if (syncing) return;
        layers.forEach(function (layer) { if (layer.group === event.layer) wanted[layer.id] = on; });
        sync();
      };
    }
    map.on("overlayadd", track(true));
    map.on("overlayremove", track(false));
    map.on("zoomend", sync);
    return sync;
  }

  /* Per-map state: one canvas renderer for every layer, the layers in page order. */
  function state(map) {
    if (!map.recor) {
      map.recor = {
        started: performance.now(), layers: [],
        renderer: L.canvas({ padding: 0.3, tolerance: 4 }),
      };
    }
    return map.recor;
  }

  function addLayer(map, layer) {
    var own = state(map);
    buildLayer(map, layer, own.renderer);
    own.layers.push(layer);
    return layer.group;
  }

  function finish(map, spec) {
    var own = state(map), layers = own.layers;
    document.title = spec.title;
    map.attributionControl.setPrefix("Leaflet");
    var header = el("div", "recor-title");
    header.appendChild(el("h1", null, spec.title));
    if (spec.subtitle) header.appendChild(el("p", null, spec.subtitle));
    document.body.appendChild(header);

    var layersById = {}, counts = {};
    var control = L.control.layers(null, {}, { collapsed: false, position: "topright" });
    layers.forEach(function (layer) {
      layersById[layer.id] = layer;
      counts[layer.id] = layer.geom.n;
      var label = layer.name + " (" + layer.geom.n.toLocaleString("fr-FR") + ")";
      if (layer.minZoom) label += " – visible au zoom " + layer.minZoom + " et plus";
      var span = document.createElement("span");
      span.textContent = label;
      control.addOverlay(layer.group, span.outerHTML);
    });
    var sync = zoomGate(map, layers);
    sync();
    control.addTo(map);
    if (spec.search) searchControl(map, spec, layersById, sync).addTo(map);
    if (spec.table) tableControl(Array.isArray(spec.table) ? spec.table : [spec.table]).addTo(map);
    if (spec.legend && spec.legend.length) legendControl(spec).addTo(map);
    boxControl("bottomleft", "Provenance des données", spec.provenance, false).addTo(map);
    var north = el("div", "recor-north");
    north.appendChild(el("span", null, "↑"));
    north.appendChild(document.createTextNode("N"));
    north.setAttribute("aria-label", "Nord");
    document.body.appendChild(north);
    /* printing opens every folded box (legend, provenance, tables) so the page says it all */
    function unfold() {
      Array.prototype.forEach.call(document.querySelectorAll("details.recor-box"), function (d) {
        d.open = true;
      });
      map.invalidateSize();
    }
    window.addEventListener("beforeprint", unfold);
    if (window.matchMedia) {
      var printing = window.matchMedia("print");
      if (printing.addEventListener) {
        printing.addEventListener("change", function (e) { if (e.matches) unfold(); });
      }
    }

    window.recorMap = {
      map: map, counts: counts, layers: layersById, ready: false,
      search: spec.search ? function (query) {
        return rankEntries(searchEntries(spec, layersById), fold(query), 10).map(function (e) {
          return { text: e.text, detail: e.detail, layer: e.layer.id };
        });
      } : null,
      onMap: function () {
        var out = {};
        layers.forEach(function (layer) {
          var n = 0;
          if (map.hasLayer(layer.group)) {
            layer.group.eachLayer(function (f) { if (f._map) n++; });
          }
          out[layer.id] = n;
        });
        return out;
      },
    };
    requestAnimationFrame(function () {
      requestAnimationFrame(function () {
        window.recorMap.ready = true;
        window.recorMap.buildMs = performance.now() - own.started;
        document.body.setAttribute("data-recor-ready", "1");
      });
    });
  }

  window.recor = { addLayer: addLayer, finish: finish };
})();
