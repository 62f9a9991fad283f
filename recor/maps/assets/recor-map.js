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
  /* Markers (the commune names; site symbols are drawn on the canvas) placed by left/top,
   * as Leaflet does without 3D transforms: a translate3d makes each marker a compositing
   * layer of its own, a 2D translate a paint chunk of its own, each costing the compositor
   * at every frame. Hidden during a zoom animation rather than jumping to their places. */
  L.Map.mergeOptions({ markerZoomAnimation: false });
  L.Marker.include({
    _setPos: function (pos) {
      [this._icon, this._shadow].forEach(function (node) {
        if (!node) return;
        node._leaflet_pos = pos;
        node.style.left = pos.x + "px";
        node.style.top = pos.y + "px";
      });
      this._zIndex = pos.y + this.options.zIndexOffset;
      this._resetZIndex();
    },
  });

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

  /* A site symbol (square, diamond, triangle, disc: the legend's shapes, size px wide)
   * drawn once into a small canvas. */
  var symbolStamps = new Map();
  function symbolStamp(style) {
    var size = style.size || 12, key = [style.shape, size, style.color, style.fillColor].join("|");
    if (symbolStamps.has(key)) return symbolStamps.get(key);
    var ratio = L.Browser.retina ? 2 : 1, half = Math.ceil(size / 2) + 2;
    var canvas = document.createElement("canvas");
    canvas.width = canvas.height = 2 * half * ratio;
    var g = canvas.getContext("2d"), border = style.shape === "disc" ? 3 : 2;
    g.scale(ratio, ratio);
    g.translate(half, half);
    g.fillStyle = style.fillColor || style.color;
    g.strokeStyle = style.color;
    g.lineWidth = border;
    if (style.shape === "triangle") {
      g.beginPath();
      g.moveTo(0, -size / 2); g.lineTo(size / 2, size / 2); g.lineTo(-size / 2, size / 2);
      g.fill();
    } else if (style.shape === "disc") {
      g.beginPath();
      g.arc(0, 0, size / 2, 0, Math.PI * 2);
      g.fill();
      g.beginPath();
      g.arc(0, 0, (size - border) / 2, 0, Math.PI * 2);
      g.stroke();
    } else {
      if (style.shape === "diamond") { g.rotate(Math.PI / 4); g.scale(0.8, 0.8); }
      g.fillRect(-size / 2, -size / 2, size, size);
      g.strokeRect(-(size - border) / 2, -(size - border) / 2, size - border, size - border);
    }
    var stamp = { canvas: canvas, half: half };
    symbolStamps.set(key, stamp);
    return stamp;
  }

  /* Site symbols on the shared canvas (one stamp each), not as DOM markers: 900 markers
   * cost the page some 60 ms at every zoom to repaint. Clicked as circle markers. */
  var SymbolMarker = L.CircleMarker.extend({
    initialize: function (latlng, style, options) {
      L.CircleMarker.prototype.initialize.call(this, latlng, L.extend({}, options, {
        radius: (style.size || 12) / 2, stroke: false, fill: false,
      }));
      this._stampOf = symbolStamp(style);
      this.zIndexOffset = style.zIndexOffset || 0;
    },
    _updatePath: function () {
      var renderer = this._renderer, stamp = this._stampOf;
      if (!renderer._drawing || this._empty()) return;
      renderer._ctx.globalAlpha = 1;
      renderer._ctx.drawImage(stamp.canvas, Math.round(this._point.x) - stamp.half,
        Math.round(this._point.y) - stamp.half, 2 * stamp.half, 2 * stamp.half);
    },
  });

  function makeFeature(layer, geometry, style, renderer) {
    if (layer.kind === "point") {
      if (style.shape && style.shape !== "circle") {
        return new SymbolMarker(geometry, style, { renderer: renderer });
      }
      return L.circleMarker(geometry, L.extend({ renderer: renderer }, style));
    }
    var opts = L.extend({ renderer: renderer, interactive: layer.interactive !== false }, withCaps(style));
    if (layer.kind === "polygon") return L.polygon(geometry, opts);
    var lines = [];
    geometry.forEach(function (item) { lines.push(item[0]); });
    return L.polyline(lines.length === 1 ? lines[0] : lines, opts);
  }

  /* Place names: drawn only when their zoom is reached and they are in view (at most
   * MAX_LABELS at once, the largest first), so a regional view never holds 1,800 labels.
   * A name still wanted after a move keeps its marker (Leaflet moves it): a pan creates
   * only the names coming into view. Redrawn on moveend only (a zoom ends with one too). */
  var MAX_LABELS = 250;
  function labelLayer(map, layer, geometries) {
    var group = L.layerGroup(), names = layer.columns.name, zooms = layer.columns.label_zoom;
    var weights = layer.columns.population || [];
    var order = names.map(function (_, i) { return i; });
    order.sort(function (a, b) { return zooms[a] - zooms[b] || (weights[b] || 0) - (weights[a] || 0); });
    var markers = new Map();
    function marker(i) {
      var text = el("span", "recor-label-text" + (zooms[i] <= 7 ? " recor-label-major" : ""), names[i]);
      return L.marker(geometries[i], {
        icon: L.divIcon({ html: text, className: "recor-label", iconSize: null }),
        interactive: false, keyboard: false,
      });
    }
    function redraw() {
      if (!map.hasLayer(group)) {
        group.clearLayers();
        markers.clear();
        return;
      }
      var zoom = map.getZoom(), view = map.getBounds().pad(0.1), wanted = new Set();
      var south = view.getSouth(), north = view.getNorth(), west = view.getWest(), east = view.getEast();
      for (var k = 0; k < order.length && wanted.size < MAX_LABELS; k++) {
        var i = order[k], at = geometries[i];
        if (zooms[i] > zoom) break;
        if (at[0] >= south && at[0] <= north && at[1] >= west && at[1] <= east) wanted.add(i);
      }
      markers.forEach(function (m, i) {
        if (!wanted.has(i)) { group.removeLayer(m); markers.delete(i); }
      });
      wanted.forEach(function (i) {
        if (markers.has(i)) return;
        var m = marker(i);
        markers.set(i, m);
        group.addLayer(m);
      });
      layer.shown = wanted.size;
    }
    map.on("moveend", redraw);
    group.on("add", function () { setTimeout(redraw, 0); });
    layer.redraw = redraw;
    return group;
  }

  /* Bulk layers (more features than a page can hold as Leaflet objects: 200,000 segments,
   * 150,000 chambers): one Leaflet path drawn on the shared canvas from typed arrays.
   * Lines are culled to the view and thinned to what a pixel shows (a vertex within a
   * pixel of the last one drawn is skipped); points below the layer's minZoom are counted
   * per grid cell of CLUSTER_PX pixels (a disc with the count; a click zooms in), from
   * minZoom on drawn one by one. Popups are the same as those of small layers. */
  var CLUSTER_PX = 64, TINY_PX = 3, VECTOR_MAX = 4000;
  /* the cells of TINY_PX already drawn, one buffer reused by every layer and redraw */
  var seenCells = null;

  /* A CSS colour (with the style's opacity) as one RGBA pixel in memory order. */
  var colourProbe = null, pixelColours = new Map();
  function pixelColour(style) {
    var key = (style.color || "") + "|" + style.opacity;
    if (!pixelColours.has(key)) pixelColours.set(key, probeColour(style));
    return pixelColours.get(key);
  }
  /* (read back from a canvas: a read costs a few milliseconds, hence kept per colour) */
  function probeColour(style) {
    colourProbe = colourProbe || document.createElement("canvas").getContext("2d");
    colourProbe.clearRect(0, 0, 1, 1);
    colourProbe.fillStyle = style.color || "#3388ff";
    colourProbe.fillRect(0, 0, 1, 1);
    var rgba = colourProbe.getImageData(0, 0, 1, 1).data;
    var alpha = Math.round(255 * (style.opacity === undefined ? 1 : style.opacity));
    return new Uint32Array(new Uint8ClampedArray([rgba[0], rgba[1], rgba[2], alpha]).buffer)[0];
  }
  var DEG = Math.PI / 180, MAX_LAT = 85.0511287798;

  /* Web Mercator pixel coordinates at zoom 0 (Leaflet's EPSG:3857 at scale 256). */
  function worldX(lng) { return 256 * (0.5 + lng / 360); }
  function worldY(lat) {
    var s = Math.sin(Math.max(Math.min(lat, MAX_LAT), -MAX_LAT) * DEG);
    return 256 * (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI));
  }

  /* Typed arrays of a layer: world x/y per vertex; per sequence its first vertex; per
   * feature its first sequence; per feature its box. */
  function bulkData(geom, kind) {
    var latlng = decodeCoords(geom.c), nv = latlng.length / 2, n = geom.n, i, v;
    var x = new Float64Array(nv), y = new Float64Array(nv);
    for (v = 0; v < nv; v++) { y[v] = worldY(latlng[2 * v]); x[v] = worldX(latlng[2 * v + 1]); }
    var featSeq = new Int32Array(n + 1), seqStart;
    if (geom.k === "p") {
      seqStart = new Int32Array(n + 1);
      for (i = 0; i <= n; i++) { seqStart[i] = i; featSeq[i] = i; }
    } else {
      var s = decodeInts(geom.s), c = 0, starts = [], at = 0;
      for (i = 0; i < n; i++) {
        featSeq[i] = starts.length;
        var items = s[c++];
        for (var j = 0; j < items; j++) {
          var seqs = s[c++];
          for (var k = 0; k < seqs; k++) { starts.push(at); at += s[c++]; }
        }
      }
      featSeq[n] = starts.length;
      starts.push(at);
      seqStart = Int32Array.from(starts);
    }
    var box = new Float64Array(4 * n);
    for (i = 0; i < n; i++) {
      var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (v = seqStart[featSeq[i]]; v < seqStart[featSeq[i + 1]]; v++) {
        if (x[v] < x0) x0 = x[v]; if (x[v] > x1) x1 = x[v];
        if (y[v] < y0) y0 = y[v]; if (y[v] > y1) y1 = y[v];
      }
      box[4 * i] = x0; box[4 * i + 1] = y0; box[4 * i + 2] = x1; box[4 * i + 3] = y1;
    }
    /* polygons only: a network line simplified so would show its curves as corners */
    var sig = kind === "polygon" ? significance(x, y, seqStart) : null;
    return { n: n, x: x, y: y, seqStart: seqStart, featSeq: featSeq, box: box, sig: sig };
  }

  /* Douglas-Peucker significance of each vertex (world units, zoom 0): the vertices kept
   * by Douglas-Peucker at a tolerance t are those of significance t or more (a vertex
   * counts no more than the one that split its piece). A zoom draws the borders moving by
   * a pixel or more, as Leaflet simplifies its own polygons, without a pass per zoom. */
  function significance(x, y, seqStart) {
    var sig = new Float32Array(x.length), stack = [];
    for (var q = 0; q + 1 < seqStart.length; q++) {
      var first = seqStart[q], last = seqStart[q + 1] - 1;
      if (last < first) continue;
      sig[first] = Infinity; sig[last] = Infinity;
      if (last - first > 1) stack.push(first, last, Infinity);
      while (stack.length) {
        var cap = stack.pop(), b = stack.pop(), a = stack.pop(), far = -1, at = a + 1;
        for (var v = a + 1; v < b; v++) {
          var dist = segmentDistance(x[v], y[v], x[a], y[a], x[b], y[b]);
          if (dist > far) { far = dist; at = v; }
        }
        var s = Math.min(far, cap);
        sig[at] = s;
        if (at - a > 1) stack.push(a, at, s);
        if (b - at > 1) stack.push(at, b, s);
      }
    }
    return sig;
  }

  /* Whether a polygon style fills (an invisible fill is not drawn). */
  function filled(style) {
    return style.fill !== false && (style.fillOpacity === undefined || style.fillOpacity > 0);
  }

  function dashOf(style) {
    return style.dashArray ? String(style.dashArray).split(/[ ,]+/).map(Number) : [];
  }

  /* Dashes end square, as the legend's SVG swatches draw them: a round cap on every dash
   * also costs the canvas twice the time of the dashes themselves. */
  function withCaps(style) {
    return style.dashArray && !style.lineCap ? L.extend({ lineCap: "butt" }, style) : style;
  }

  var BulkLayer = L.Path.extend({
    initialize: function (layer, data, options) {
      L.setOptions(this, options);
      this._layer = layer;
      this._data = data;
      this._hit = null;
      var classes = layer.columns._c, byClass = layer.classes.map(function () { return []; });
      for (var i = 0; i < data.n; i++) byClass[classes ? classes[i] : 0].push(i);
      this._byClass = byClass.map(function (list) { return Int32Array.from(list); });
      this.drawn = 0;
      this.clusters = [];
    },
    _project: function () {},
    _update: function () {
      if (this._map) this._pxBounds = this._renderer._bounds;
    },
    /* The view in world pixels at zoom 0, and the scale and origin to layer points. */
    _frame: function () {
      var map = this._map, scale = 256 * Math.pow(2, map.getZoom()) / 256;
      var origin = map.getPixelOrigin(), b = this._renderer._bounds;
      return {
        scale: scale, ox: origin.x, oy: origin.y,
        x0: (b.min.x + origin.x) / scale, y0: (b.min.y + origin.y) / scale,
        x1: (b.max.x + origin.x) / scale, y1: (b.max.y + origin.y) / scale,
      };
    },
    _inView: function (f, i, margin) {
      var box = this._data.box;
      return box[4 * i + 2] >= f.x0 - margin && box[4 * i] <= f.x1 + margin &&
        box[4 * i + 3] >= f.y0 - margin && box[4 * i + 1] <= f.y1 + margin;
    },
    _aggregated: function () {
      return this._layer.kind === "point" && this._layer.minZoom &&
        this._map.getZoom() < this._layer.minZoom;
    },
    _updatePath: function () {
      var renderer = this._renderer;
      if (!renderer._drawing || !this._map) return;
      var ctx = renderer._ctx, f = this._frame();
      ctx.save();
      if (this._layer.kind === "point") {
        if (this._aggregated()) this._drawClusters(ctx, f); else this._drawPoints(ctx, f);
      } else {
        this._drawLines(ctx, f);
      }
      ctx.restore();
      this._layer.drawnAt = performance.now();
    },
    _stroke: function (ctx, style, fill) {
      if (fill && filled(style)) {
        ctx.globalAlpha = style.fillOpacity === undefined ? 0.2 : style.fillOpacity;
        ctx.fillStyle = style.fillColor || style.color || "#3388ff";
        ctx.fill("evenodd");
      }
      if (style.stroke !== false) {
        ctx.globalAlpha = style.opacity === undefined ? 1 : style.opacity;
        ctx.lineWidth = style.weight === undefined ? 3 : style.weight;
        ctx.strokeStyle = style.color || "#3388ff";
        var dash = dashOf(style);
        ctx.setLineDash(dash);
        ctx.lineCap = dash.length ? "butt" : "round";
        ctx.lineJoin = "round";
        ctx.stroke();
      }
    },
    _countInView: function (f) {
      var n = 0;
      for (var i = 0; i < this._data.n; i++) if (this._inView(f, i, 0)) n++;
      return n;
    },
    /* Dense lines (more than VECTOR_MAX in view: the regional view of 200,000 segments
     * covers every pixel several times) are rasterised here, pixel by pixel, into one
     * image: stroking each of them would cost the browser seconds. */
    _rasterLines: function (ctx, f, count) {
      var d = this._data, x = d.x, y = d.y, self = this;
      /* where lines are denser still (the regional view), cells of 2 px: a quarter of the
       * pixels to fill, for lines that cover every pixel anyway */
      var cell = count > 4 * VECTOR_MAX ? 2 : 1;
      var b = this._renderer._bounds;
      var w = Math.ceil((b.max.x - b.min.x) / cell), h = Math.ceil((b.max.y - b.min.y) / cell);
      var canvas = this._raster || (this._raster = document.createElement("canvas"));
      var image = this._image;
      if (!image || image.width !== w || image.height !== h) {
        canvas.width = w; canvas.height = h;
        image = this._image = canvas.getContext("2d").createImageData(w, h);
      }
      var pixels = new Uint32Array(image.data.buffer), drawn = 0;
      pixels.fill(0);
      var ox = f.ox + b.min.x, oy = f.oy + b.min.y, scale = f.scale / cell;
      ox /= cell; oy /= cell;
      this._byClass.forEach(function (members, c) {
        var style = self._layer.classes[c], colour = pixelColour(style);
        var width = Math.max(1, Math.min(3, Math.round((style.weight || 3) / 1.5 / cell)));
        var half = (width - 1) >> 1;
        function plot(px, py) {
          var x0 = Math.round(px) - half, y0 = Math.round(py) - half;
          if (x0 >= 0 && y0 >= 0 && x0 + width <= w && y0 + width <= h) {
            for (var r = 0, at = y0 * w + x0; r < width; r++, at += w) {
              pixels[at] = colour;
              if (width > 1) pixels[at + 1] = colour;
              if (width > 2) pixels[at + 2] = colour;
            }
            return;
          }
          for (var yy = Math.max(0, y0); yy < Math.min(h, y0 + width); yy++) {
            for (var xx = Math.max(0, x0); xx < Math.min(w, x0 + width); xx++) pixels[yy * w + xx] = colour;
          }
        }
        for (var m = 0; m < members.length; m++) {
          var i = members[m];
          if (!self._inView(f, i, 0)) continue;
          drawn++;
          for (var q = d.featSeq[i]; q < d.featSeq[i + 1]; q++) {
            var v = d.seqStart[q], end = d.seqStart[q + 1];
            var px = x[v] * scale - ox, py = y[v] * scale - oy;
            var fx = ((px + 0.5) | 0) - half, fy = ((py + 0.5) | 0) - half;
            if (width === 1 && fx >= 0 && fy >= 0 && fx < w && fy < h) pixels[fy * w + fx] = colour;
            else plot(px, py);
            for (v++; v < end; v++) {
              var nx = x[v] * scale - ox, ny = y[v] * scale - oy;
              var steps = Math.ceil(Math.max(Math.abs(nx - px), Math.abs(ny - py)));
              var sx = (nx - px) / steps, sy = (ny - py) / steps, cx = px, cy = py;
              for (var k = 1; k <= steps; k++) {
                cx += sx; cy += sy;
                var ix = ((cx + 0.5) | 0) - half, iy = ((cy + 0.5) | 0) - half;
                if (ix >= 0 && iy >= 0 && ix + width <= w && iy + width <= h) {
                  var at = iy * w + ix;
                  pixels[at] = colour;
                  if (width > 1) {
                    pixels[at + 1] = colour; pixels[at + w] = colour; pixels[at + w + 1] = colour;
                    if (width > 2) {
                      pixels[at + 2] = colour; pixels[at + w + 2] = colour;
                      pixels[at + 2 * w] = colour; pixels[at + 2 * w + 1] = colour;
                      pixels[at + 2 * w + 2] = colour;
                    }
                  }
                } else plot(cx, cy);
              }
              px = nx; py = ny;
            }
          }
        }
      });
      canvas.getContext("2d").putImageData(image, 0, 0);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(canvas, 0, 0, w, h, b.min.x, b.min.y, w * cell, h * cell);
      this.drawn = drawn;
      this.rastered = true;
      this.clusters = [];
    },
    _drawLines: function (ctx, f) {
      var count = this._layer.kind === "line" ? this._countInView(f) : 0;
      if (count > VECTOR_MAX) {
        this._rasterLines(ctx, f, count);
        return;
      }
      this.rastered = false;
      var d = this._data, x = d.x, y = d.y, drawn = 0, self = this, box = d.box;
      var polygon = this._layer.kind === "polygon";
      /* a feature within TINY_PX pixels is drawn once per cell of that size: at the
       * regional view 150,000 short branches would otherwise be stroked one by one */
      var min = this._renderer._bounds.min, size = this._renderer._bounds.getSize();
      var gw = Math.ceil(size.x / TINY_PX) + 1, gh = Math.ceil(size.y / TINY_PX) + 1;
      if (!seenCells || seenCells.length < gw * gh) seenCells = new Uint8Array(gw * gh);
      var seen = seenCells.subarray(0, gw * gh);
      seen.fill(0);
      var view = this._renderer._bounds, sig = d.sig, tolerance = 1 / f.scale;
      this._byClass.forEach(function (members, c) {
        var style = self._layer.classes[c];
        /* a stroke alone leaves out the pieces of lines beyond the view (zoomed in, a
         * dashed border would be dashed over its whole length); a fill needs every ring */
        var clip = !(polygon && filled(style)), reach = (style.weight === undefined ? 3 : style.weight) + 2;
        var vx0 = view.min.x - reach, vy0 = view.min.y - reach;
        var vx1 = view.max.x + reach, vy1 = view.max.y + reach;
        ctx.beginPath();
        for (var m = 0; m < members.length; m++) {
          var i = members[m];
          if (!self._inView(f, i, 0)) continue;
          if ((box[4 * i + 2] - box[4 * i]) * f.scale < TINY_PX &&
            (box[4 * i + 3] - box[4 * i + 1]) * f.scale < TINY_PX) {
            var gx = Math.floor((box[4 * i] * f.scale - f.ox - min.x) / TINY_PX);
            var gy = Math.floor((box[4 * i + 1] * f.scale - f.oy - min.y) / TINY_PX);
            var cell = Math.max(0, Math.min(gh - 1, gy)) * gw + Math.max(0, Math.min(gw - 1, gx));
            if (seen[cell]) continue;
            seen[cell] = 1;
          }
          drawn++;
          for (var q = d.featSeq[i]; q < d.featSeq[i + 1]; q++) {
            var v = d.seqStart[q], end = d.seqStart[q + 1];
            var px = x[v] * f.scale - f.ox, py = y[v] * f.scale - f.oy, sx = px, sy = py;
            var side = (px < vx0 ? 1 : px > vx1 ? 2 : 0) | (py < vy0 ? 4 : py > vy1 ? 8 : 0);
            var down = false;
            /* v === end: a ring closed by a line (closePath on a path of 100,000 rings is
             * quadratic) */
            for (v++; v <= end; v++) {
              var nx = sx, ny = sy;
              if (v < end) {
                if (sig && sig[v] < tolerance) continue;
                nx = x[v] * f.scale - f.ox; ny = y[v] * f.scale - f.oy;
                if (!sig && v < end - 1 && Math.abs(nx - px) < 1 && Math.abs(ny - py) < 1) continue;
              } else if (!polygon) break;
              var next = (nx < vx0 ? 1 : nx > vx1 ? 2 : 0) | (ny < vy0 ? 4 : ny > vy1 ? 8 : 0);
              if (clip && (side & next)) down = false;
              else {
                if (!down) { ctx.moveTo(px, py); down = true; }
                ctx.lineTo(nx, ny);
              }
              px = nx; py = ny; side = next;
            }
          }
        }
        self._stroke(ctx, style, polygon);
      });
      this.drawn = drawn;
      this.clusters = [];
    },
    _radius: function (style) { return style.radius === undefined ? 10 : style.radius; },
    /* (small discs by the thousand: one path is cheaper than as many stamps) */
    _drawPoints: function (ctx, f) {
      var d = this._data, drawn = 0, self = this;
      this._byClass.forEach(function (members, c) {
        var style = self._layer.classes[c], r = self._radius(style);
        ctx.beginPath();
        for (var m = 0; m < members.length; m++) {
          var i = members[m];
          if (!self._inView(f, i, (r + 2) / f.scale)) continue;
          var px = d.x[i] * f.scale - f.ox, py = d.y[i] * f.scale - f.oy;
          ctx.moveTo(px + r, py);
          ctx.arc(px, py, r, 0, Math.PI * 2);
          drawn++;
        }
        self._stroke(ctx, style, true);
      });
      this.drawn = drawn;
      this.clusters = [];
    },
    /* A disc drawn once into a small canvas, then stamped where it goes: one canvas path
     * of 800 cluster discs (radius 9 to 25 px), filled and stroked, costs Skia some 20 ms,
     * 800 stamps a few. Returns the stamping function (context, x, y); stamps land on
     * whole pixels. */
    _stamp: function (key, radius, paint) {
      var stamps = this._stamps || (this._stamps = new Map()), stamp = stamps.get(key);
      if (!stamp) {
        var ratio = L.Browser.retina ? 2 : 1, half = Math.ceil(radius + 4);
        var canvas = document.createElement("canvas");
        canvas.width = canvas.height = 2 * half * ratio;
        var g = canvas.getContext("2d");
        g.scale(ratio, ratio);
        g.beginPath();
        g.arc(half, half, radius, 0, Math.PI * 2);
        paint(g);
        stamp = function (ctx, x, y) {
          ctx.drawImage(canvas, Math.round(x) - half, Math.round(y) - half, 2 * half, 2 * half);
        };
        stamps.set(key, stamp);
      }
      return stamp;
    },
    /* Counts per cell of CLUSTER_PX pixels aligned on the world grid (stable when
     * panning), the cells near the view. A cell of one site draws the site itself. */
    _cells: function (f) {
      var size = CLUSTER_PX / f.scale;
      return this._cellsAt(this._map.getZoom()).filter(function (c) {
        return c.x1 >= f.x0 - size && c.x0 <= f.x1 + size && c.y1 >= f.y0 - size && c.y0 <= f.y1 + size;
      });
    },
    /* Every cell of a zoom, kept: the points are counted once into the cells of the
     * deepest zoom clustered, and each zoom above merges the cells of the one below (a
     * cell's four quarters), so a new zoom costs a few thousand cells, not 150,000 sites. */
    _cellsAt: function (zoom) {
      var deepest = this._layer.minZoom - 1, levels = this._levels || (this._levels = {});
      if (zoom !== Math.round(zoom) || zoom < 0 || zoom > deepest) {
        if (!this._odd || this._odd.zoom !== zoom) this._odd = { zoom: zoom, cells: this._countCells(zoom) };
        return this._odd.cells;
      }
      if (!levels[zoom]) {
        levels[zoom] = zoom === deepest ? this._countCells(zoom) : mergeCells(this._cellsAt(zoom + 1), zoom);
      }
      return levels[zoom];
    },
    _countCells: function (zoom) {
      var d = this._data, size = CLUSTER_PX / Math.pow(2, zoom), byKey = new Map(), all = [];
      for (var i = 0; i < d.n; i++) {
        var cx = Math.floor(d.x[i] / size), cy = Math.floor(d.y[i] / size);
        var key = cx * 4194304 + cy, cell = byKey.get(key);
        if (cell === undefined) {
          cell = { cx: cx, cy: cy, count: 0, sx: 0, sy: 0, first: i };
          byKey.set(key, cell);
          all.push(cell);
        }
        cell.count++; cell.sx += d.x[i]; cell.sy += d.y[i];
      }
      return placeCells(all, size);
    },
    _drawClusters: function (ctx, f) {
      var cells = this._cells(f), style = this._layer.classes[0], single = 0;
      var map = this._map, self = this, r = this._radius(style);
      var disc = this._stamp("p0", r, function (g) { self._stroke(g, style, true); });
      ctx.globalAlpha = 1;
      cells.forEach(function (cell) {
        if (cell.count !== 1) return;
        disc(ctx, cell.x * f.scale - f.ox, cell.y * f.scale - f.oy);
        single++;
      });
      cells.forEach(function (cell) {
        if (cell.count === 1) return;
        cell.radius = 9 + 3 * Math.log10(cell.count);
        /* radii to a quarter of a pixel: a few dozen stamps for every count */
        var radius = Math.round(cell.radius * 4) / 4;
        self._stamp("c" + radius, radius, function (g) {
          g.globalAlpha = 0.85;
          g.fillStyle = style.color || "#3388ff";
          g.fill();
          g.globalAlpha = 1;
          g.lineWidth = 2;
          g.strokeStyle = "#ffffff";
          g.stroke();
        })(ctx, cell.x * f.scale - f.ox, cell.y * f.scale - f.oy);
      });
      ctx.font = "bold 11px 'DejaVu Sans', Arial, sans-serif";
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillStyle = "#ffffff";
      var number = new Intl.NumberFormat("fr-FR");
      cells.forEach(function (cell) {
        if (cell.count === 1) return;
        ctx.fillText(number.format(cell.count), cell.x * f.scale - f.ox, cell.y * f.scale - f.oy);
      });
      this.drawn = single;
      this.clusters = cells.map(function (cell) {
        var sw = map.unproject([cell.x0 * 256, cell.y1 * 256], 8);
        var ne = map.unproject([cell.x1 * 256, cell.y0 * 256], 8);
        var centre = map.unproject([cell.x * 256, cell.y * 256], 8);
        return {
          count: cell.count, first: cell.first, lat: centre.lat, lng: centre.lng,
          radius: cell.radius || self._radius(style),
          bounds: [[sw.lat, sw.lng], [ne.lat, ne.lng]],
        };
      });
    },
    /* Hit test (layer point): the nearest feature or cluster under the mouse. */
    _containsPoint: function (p) {
      var f = this._frame(), d = this._data, tol = this._renderer.options.tolerance || 0;
      var wx = (p.x + f.ox) / f.scale, wy = (p.y + f.oy) / f.scale;
      this._hit = null;
      if (this._layer.kind === "point" && this._aggregated()) {
        for (var c = 0; c < this.clusters.length; c++) {
          var cluster = this.clusters[c], at = this._map.project([cluster.lat, cluster.lng], 8);
          var dx = at.x / 256 - wx, dy = at.y / 256 - wy;
          if (Math.sqrt(dx * dx + dy * dy) * f.scale <= cluster.radius + tol) {
            this._hit = cluster.count === 1 ? { index: cluster.first } : { cluster: cluster };
            return true;
          }
        }
        return false;
      }
      var best = Infinity, bestIndex = -1, i;
      if (this._layer.kind === "point") {
        for (i = 0; i < d.n; i++) {
          var style = this._layer.classes[this._layer.columns._c ? this._layer.columns._c[i] : 0];
          var ex = (d.x[i] - wx) * f.scale, ey = (d.y[i] - wy) * f.scale;
          var dist = Math.sqrt(ex * ex + ey * ey);
          if (dist <= this._radius(style) + tol && dist < best) { best = dist; bestIndex = i; }
        }
      } else if (this._layer.kind === "polygon") {
        for (i = 0; i < d.n; i++) {
          var pb = d.box;
          if (pb[4 * i] > wx || pb[4 * i + 2] < wx || pb[4 * i + 1] > wy || pb[4 * i + 3] < wy) continue;
          if (this._insidePolygon(i, wx, wy)) bestIndex = i;
        }
      } else {
        var reach = (tol + 4) / f.scale;
        for (i = 0; i < d.n; i++) {
          var b = d.box;
          if (b[4 * i] > wx + reach || b[4 * i + 2] < wx - reach ||
            b[4 * i + 1] > wy + reach || b[4 * i + 3] < wy - reach) continue;
          for (var q = d.featSeq[i]; q < d.featSeq[i + 1]; q++) {
            for (var v = d.seqStart[q]; v + 1 < d.seqStart[q + 1]; v++) {
              var dd = segmentDistance(wx, wy, d.x[v], d.y[v], d.x[v + 1], d.y[v + 1]) * f.scale;
              if (dd < best) { best = dd; bestIndex = i; }
            }
          }
        }
        var weight = 0;
        this._layer.classes.forEach(function (s) { weight = Math.max(weight, s.weight || 3); });
        if (best > tol + weight / 2) bestIndex = -1;
      }
      if (bestIndex < 0) return false;
      this._hit = { index: bestIndex };
      return true;
    },
    /* Even-odd rule over every ring of the feature (holes included). */
    _insidePolygon: function (i, px, py) {
      var d = this._data, inside = false;
      for (var q = d.featSeq[i]; q < d.featSeq[i + 1]; q++) {
        var first = d.seqStart[q], end = d.seqStart[q + 1];
        for (var v = first, u = end - 1; v < end; u = v++) {
          if ((d.y[v] > py) !== (d.y[u] > py) &&
            px < (d.x[u] - d.x[v]) * (py - d.y[v]) / (d.y[u] - d.y[v]) + d.x[v]) inside = !inside;
        }
      }
      return inside;
    },
    /* Where a feature is: a point, or the middle of the middle piece of a line. */
    latLngOf: function (index) {
      var d = this._data, first = d.seqStart[d.featSeq[index]];
      var last = d.seqStart[d.featSeq[index] + 1] - 1, v = Math.floor((first + last) / 2);
      var w = Math.min(v + 1, last);
      return this._map.unproject([(d.x[v] + d.x[w]) * 128, (d.y[v] + d.y[w]) * 128], 8);
    },
    boundsOf: function (index) {
      var b = this._data.box, map = this._map;
      return L.latLngBounds(
        map.unproject([b[4 * index] * 256, b[4 * index + 3] * 256], 8),
        map.unproject([b[4 * index + 2] * 256, b[4 * index + 1] * 256], 8));
    },
    openPopupOf: function (index, latlng) {
      if (!this._layer.popup || !this._map) return;
      L.popup({ maxWidth: 360 }).setLatLng(latlng || this.latLngOf(index))
        .setContent(popupContent(this._layer, index)).openOn(this._map);
    },
  });

  /* The cells of a zoom from those of the zoom below (each cell of size s holds the four
   * cells of size s / 2 at twice its grid coordinates: the same counts as counting). */
  function mergeCells(cells, zoom) {
    var byKey = new Map(), all = [];
    for (var k = 0; k < cells.length; k++) {
      var c = cells[k], cx = Math.floor(c.cx / 2), cy = Math.floor(c.cy / 2);
      var key = cx * 4194304 + cy, cell = byKey.get(key);
      if (cell === undefined) {
        cell = { cx: cx, cy: cy, count: 0, sx: 0, sy: 0, first: c.first };
        byKey.set(key, cell);
        all.push(cell);
      }
      cell.count += c.count; cell.sx += c.sx; cell.sy += c.sy;
      if (c.first < cell.first) cell.first = c.first;
    }
    return placeCells(all, CLUSTER_PX / Math.pow(2, zoom));
  }

  function placeCells(cells, size) {
    cells.forEach(function (c) {
      c.x = c.sx / c.count; c.y = c.sy / c.count;
      c.x0 = c.cx * size; c.y0 = c.cy * size; c.x1 = c.x0 + size; c.y1 = c.y0 + size;
    });
    return cells;
  }

  function segmentDistance(px, py, ax, ay, bx, by) {
    var dx = bx - ax, dy = by - ay, len = dx * dx + dy * dy, t = 0;
    if (len > 0) t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len));
    var ex = ax + t * dx - px, ey = ay + t * dy - py;
    return Math.sqrt(ex * ex + ey * ey);
  }

  function buildBulkLayer(map, layer, renderer) {
    var data = bulkData(layer.geom, layer.kind), n = layer.geom.n;
    layer.columns = {};
    Object.keys(layer.cols).forEach(function (name) {
      layer.columns[name] = decodeColumn(layer.cols[name], n);
    });
    var bulk = new BulkLayer(layer, data, {
      renderer: renderer,
      interactive: layer.interactive !== false && (!!layer.popup || !!layer.minZoom),
    });
    bulk.on("click", function (event) {
      var hit = bulk._hit;
      if (!hit) return;
      if (hit.cluster) {
        map.fitBounds(hit.cluster.bounds, { maxZoom: layer.minZoom, animate: false });
      } else {
        bulk.openPopupOf(hit.index, layer.kind === "point" ? bulk.latLngOf(hit.index) : event.latlng);
      }
    });
    layer.bulkLayer = bulk;
    layer.group = bulk;
    layer.latlngs = null;
    /* features[i] as small layers have them, made on demand (where it is, click opens
     * its popup): search and tests reach a feature the same way on every layer */
    layer.features = new Proxy({}, {
      get: function (_, key) {
        var i = Number(key);
        if (key === "length") return n;
        if (!(i >= 0 && i < n)) return undefined;
        return {
          getLatLng: layer.kind === "point" ? function () { return bulk.latLngOf(i); } : undefined,
          getBounds: function () { return bulk.boundsOf(i); },
          fire: function (type, event) { if (type === "click") bulk.openPopupOf(i, event && event.latlng); },
        };
      },
    });
    return bulk;
  }

  function buildLayer(map, layer, renderer) {
    if (layer.bulk) return buildBulkLayer(map, layer, renderer);
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
        var layer = entry.layer, where;
        if (layer.bulkLayer) {
          if (!map.hasLayer(layer.group)) map.addLayer(layer.group);
          if (layer.kind === "point") {
            where = layer.bulkLayer.latLngOf(entry.index);
            map.setView(where, Math.max(map.getZoom(), layer.minZoom || 13), { animate: false });
          } else {
            var box = layer.bulkLayer.boundsOf(entry.index);
            map.fitBounds(box, { animate: false, maxZoom: 13 });
            where = layer.kind === "polygon" ? box.getCenter() : layer.bulkLayer.latLngOf(entry.index);
          }
          sync();
          layer.bulkLayer.openPopupOf(entry.index, where);
          return;
        }
        var feature = layer.features[entry.index];
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
        var visible = wanted[layer.id] &&
          (layer.bulk || !layer.minZoom || map.getZoom() >= layer.minZoom);
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
    /* the title heads the top-left corner, so the controls under it never cover it, on
     * screen or in print, however many lines it takes */
    var titleControl = L.control({ position: "topleft" });
    titleControl.onAdd = function () { return header; };
    titleControl.addTo(map);
    header.parentNode.insertBefore(header, header.parentNode.firstChild);

    var layersById = {}, counts = {};
    var control = L.control.layers(null, {}, { collapsed: false, position: "topright" });
    layers.forEach(function (layer) {
      layersById[layer.id] = layer;
      counts[layer.id] = layer.geom.n;
      var label = layer.name + " (" + layer.geom.n.toLocaleString("fr-FR") + ")";
      if (layer.minZoom && layer.bulk) label += " – regroupés sous le zoom " + layer.minZoom;
      else if (layer.minZoom) label += " – visible au zoom " + layer.minZoom + " et plus";
      var span = document.createElement("span");
      span.textContent = label;
      control.addOverlay(layer.group, span.outerHTML);
    });
    var sync = zoomGate(map, layers);
    sync();
    /* site symbols above every line and cluster of the canvas, by their zIndexOffset */
    var symbols = [];
    layers.forEach(function (layer) {
      if (layer.bulk || layer.kind !== "point") return;
      layer.features.forEach(function (f) { if (f instanceof SymbolMarker && f._map) symbols.push(f); });
    });
    symbols.sort(function (a, b) { return a.zIndexOffset - b.zIndexOffset; });
    symbols.forEach(function (f) { f.bringToFront(); });
    control.addTo(map);
    if (spec.search) searchControl(map, spec, layersById, sync).addTo(map);
    if (spec.table) tableControl(Array.isArray(spec.table) ? spec.table : [spec.table]).addTo(map);
    if (spec.legend && spec.legend.length) legendControl(spec).addTo(map);
    boxControl("bottomleft", "Provenance des données", spec.provenance, false).addTo(map);
    var north = el("div", "recor-north");
    north.appendChild(el("span", null, "↑"));
    north.appendChild(document.createTextNode("N"));
    north.setAttribute("aria-label", "Nord");
    /* stacked above the provenance and the scale (a bottom corner grows upwards) */
    var northControl = L.control({ position: "bottomleft" });
    northControl.onAdd = function () { return north; };
    northControl.addTo(map);
    /* the layer list scrolls so that the top-right corner (list, then search) stops above
     * the legend, rather than running under it */
    var layerList = control.getContainer().querySelector(".leaflet-control-layers-list");
    var legendBox = document.querySelector(".recor-legend");
    function fitLayerList() {
      if (!layerList) return;
      var corner = control.getContainer().parentNode.getBoundingClientRect();
      var list = layerList.getBoundingClientRect();
      var bottom = map.getContainer().getBoundingClientRect().bottom - 10;
      if (legendBox) bottom = Math.min(bottom, legendBox.getBoundingClientRect().top - 10);
      var room = Math.floor(bottom - list.top - (corner.bottom - list.bottom));
      layerList.style.maxHeight = Math.max(room, 60) + "px";
      layerList.style.overflowY = "auto";
    }
    fitLayerList();
    map.on("resize", fitLayerList);
    if (legendBox) legendBox.addEventListener("toggle", fitLayerList);
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
          if (layer.bulkLayer) {
            n = map.hasLayer(layer.group) ? layer.bulkLayer.drawn : 0;
          } else if (map.hasLayer(layer.group)) {
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
