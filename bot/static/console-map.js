// The console map: communities' outlines (GeoJSON, registerMap) on a plain base, tickets by
// status and stations by kind (open now: filled; closed: hollow) as scatter points; a click
// opens the record. With a tile URL ({z}/{x}/{y}, Web Mercator) raster tiles are laid under
// the transparent chart and follow its zoom and pan. Usage:
//   LinliMap.draw(container, data, {dark: false}) -> {chart, update(data)}
// The chart element gets data-rendered="1" once ECharts has finished drawing it.
(function () {
  "use strict";
  var STATUS_COLORS = {submitted: "#c0392b", dispatched: "#e67e22", in_progress: "#1f5fa8",
    resolved: "#2e7d32", closed: "#7f8c8d", rejected: "#95a5a6", duplicate: "#b0bec5"};
  var KIND_STYLE = {centre: {symbol: "diamond", color: "#6a1b9a"}, energy: {symbol: "triangle", color: "#00838f"}};
  var font = {fontFamily: "Noto Sans CJK SC, PingFang SC, Microsoft YaHei, sans-serif"};
  var R = Math.PI / 180;
  var mercator = {  // Web Mercator, so raster tiles line up
    project: function (p) { return [p[0] * R, -Math.log(Math.tan(Math.PI / 4 + p[1] * R / 2))]; },
    unproject: function (p) { return [p[0] / R, (2 * Math.atan(Math.exp(-p[1])) - Math.PI / 2) / R]; }
  };
  var mapCount = 0;

  function esc(text) {
    return String(text == null ? "" : text).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  function series(data, dark) {
    var out = [];
    data.statuses.forEach(function (s) {
      var points = data.tickets.filter(function (t) { return t.status === s[0]; });
      if (!points.length) { return; }
      out.push({name: "工单·" + s[1], type: "scatter", coordinateSystem: "geo", symbolSize: 11, z: 4,
        itemStyle: {color: STATUS_COLORS[s[0]] || "#555", borderColor: dark ? "#0b1a2e" : "#fff", borderWidth: 1},
        data: points.map(function (t) { return {name: t.id, value: t.value, record: t, kindOf: "ticket"}; })});
    });
    data.kinds.forEach(function (k) {
      var style = KIND_STYLE[k[0]] || {symbol: "circle", color: "#555"};
      [true, false].forEach(function (open) {
        var points = data.stations.filter(function (s) { return s.kind === k[0] && s.open === open; });
        if (!points.length) { return; }
        out.push({name: k[1] + (open ? "·开放中" : "·未开放"), type: "scatter", coordinateSystem: "geo",
          symbol: style.symbol, symbolSize: 13, z: 3,
          itemStyle: open ? {color: style.color, borderColor: "#fff", borderWidth: 1}
            : {color: dark ? "#0b1a2e" : "#fff", borderColor: style.color, borderWidth: 2},
          data: points.map(function (s) { return {name: s.name, value: s.value, record: s, kindOf: "station"}; })});
      });
    });
    return out;
  }

  function tooltip(params) {
    var d = params.data;
    if (!d || !d.record) { return params.name ? esc(params.name) : ""; }
    var r = d.record;
    if (d.kindOf === "ticket") {
      return "<b>" + esc(r.id) + "</b><br>" + esc(r.category) + " · " + esc(r.label) +
        (r.overdue ? " · <b>已超时</b>" : "") + "<br>" + esc(r.community) + " · " + esc(r.created);
    }
    return "<b>" + esc(r.name) + "</b><br>" + esc(r.kind_name) + " · " + (r.open ? "现在开放" : "现在未开放") +
      "<br>" + esc(r.community);
  }

  function option(mapName, data, dark) {
    return {
      textStyle: font, backgroundColor: "transparent", animation: false,
      tooltip: {trigger: "item", formatter: tooltip},
      legend: {type: "scroll", bottom: 4, left: 8, right: 8, textStyle: {color: dark ? "#dfe8f5" : "#222"}},
      geo: {
        map: mapName, projection: mercator, roam: true, scaleLimit: {min: 0.5, max: 12},
        top: 16, bottom: 48, left: 16, right: 16,
        label: {show: true, color: dark ? "#9fb6d4" : "#555", fontSize: 12},
        itemStyle: data.tile_url ? {areaColor: "rgba(255,255,255,0.12)", borderColor: "#a93226", borderWidth: 2}
          : {areaColor: dark ? "#13294b" : "#eef2f6", borderColor: dark ? "#4a78b0" : "#8a949e", borderWidth: 1.5},
        emphasis: {label: {show: true}, itemStyle: {areaColor: dark ? "#1d3b66" : "#dde6ef"}},
        select: {disabled: true},
        // The rectangle the server adds when points lie beyond the outlines: invisible.
        regions: [{name: "_bounds", silent: true, label: {show: false},
          itemStyle: {areaColor: "rgba(0,0,0,0)", borderWidth: 0}, emphasis: {disabled: true}}]
      },
      series: series(data, dark)
    };
  }

  function tileUrl(template, z, x, y) {
    return template.replace("{z}", z).replace("{x}", x).replace("{y}", y).replace("{s}", String((x + y) % 4));
  }

  function layTiles(layer, chart, template) {
    var w = chart.getWidth(), h = chart.getHeight();
    var a = chart.convertFromPixel({geoIndex: 0}, [0, 0]), b = chart.convertFromPixel({geoIndex: 0}, [w, h]);
    if (!a || !b || !isFinite(a[0]) || !isFinite(b[0])) { return; }
    var spanPx = w / Math.abs(b[0] - a[0]) * 360;  // pixels for the whole world at this view
    var z = Math.max(0, Math.min(19, Math.round(Math.log(spanPx / 256) / Math.LN2)));
    var n = Math.pow(2, z);
    function tx(lng) { return Math.floor((lng + 180) / 360 * n); }
    function ty(lat) { var s = Math.sin(lat * R); return Math.floor((0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * n); }
    function lng(x) { return x / n * 360 - 180; }
    function lat(y) { var k = Math.PI - 2 * Math.PI * y / n; return Math.atan(Math.sinh(k)) / R; }
    var x0 = tx(Math.min(a[0], b[0])), x1 = tx(Math.max(a[0], b[0]));
    var y0 = ty(Math.max(a[1], b[1])), y1 = ty(Math.min(a[1], b[1]));
    var frag = document.createDocumentFragment();
    for (var x = x0; x <= x1 && x - x0 < 16; x++) {
      for (var y = y0; y <= y1 && y - y0 < 16; y++) {
        var p = chart.convertToPixel({geoIndex: 0}, [lng(x), lat(y)]);
        var q = chart.convertToPixel({geoIndex: 0}, [lng(x + 1), lat(y + 1)]);
        var img = document.createElement("img");
        img.alt = ""; img.decoding = "async"; img.src = tileUrl(template, z, x, y);
        img.style.cssText = "position:absolute;left:" + p[0] + "px;top:" + p[1] + "px;width:" + (q[0] - p[0] + 0.5) +
          "px;height:" + (q[1] - p[1] + 0.5) + "px";
        frag.appendChild(img);
      }
    }
    layer.textContent = "";
    layer.appendChild(frag);
  }

  function draw(container, data, opts) {
    opts = opts || {};
    var dark = !!opts.dark;
    container.textContent = "";
    container.style.position = "relative";
    var layer = document.createElement("div");
    layer.className = "map-tiles";
    layer.setAttribute("aria-hidden", "true");
    layer.style.cssText = "position:absolute;inset:0;overflow:hidden";
    var el = document.createElement("div");
    el.className = "map-canvas";
    el.style.cssText = "position:absolute;inset:0";
    container.appendChild(layer);
    container.appendChild(el);
    var chart = echarts.init(el, null, {renderer: "canvas"});
    var name = null, tiles = null, pending = false;

    function relayTiles() {
      if (!tiles || pending) { return; }
      pending = true;
      window.requestAnimationFrame(function () { pending = false; layTiles(layer, chart, tiles); });
    }

    function update(next) {
      data = next;
      name = "linli-communities-" + (++mapCount);
      echarts.registerMap(name, data.outlines);
      tiles = data.tile_url || null;
      container.setAttribute("data-points", String(data.tickets.length + data.stations.length));
      chart.setOption(option(name, data, dark), {notMerge: true});
      if (!tiles) { layer.textContent = ""; } else { relayTiles(); }
    }

    chart.on("finished", function () { container.setAttribute("data-rendered", "1"); });
    chart.on("georoam", relayTiles);
    chart.on("click", function (params) {
      if (params.data && params.data.record && params.data.record.url) { window.location.href = params.data.record.url; }
    });
    window.addEventListener("resize", function () { chart.resize(); relayTiles(); });
    update(data);
    return {chart: chart, update: update};
  }

  window.LinliMap = {draw: draw, colors: STATUS_COLORS};

  // The map page: <div id="map" data-src="/console/map.json?days=30">; a text list for
  // keyboard and screen-reader users in #map-list.
  var root = document.getElementById("map");
  if (!root || !window.echarts) { return; }
  fetch(root.getAttribute("data-src"), {credentials: "same-origin"}).then(function (r) { return r.json(); })
    .then(function (data) {
      draw(root, data, {});
      var list = document.getElementById("map-list");
      if (list) {
        var rows = data.tickets.map(function (t) {
          return "<li><a href=\"" + esc(t.url) + "\">" + esc(t.id) + "</a> " + esc(t.category) + " · " + esc(t.label) +
            (t.overdue ? " · 已超时" : "") + " · " + esc(t.community) + "</li>";
        }).concat(data.stations.map(function (s) {
          return "<li><a href=\"" + esc(s.url) + "\">" + esc(s.name) + "</a> " + esc(s.kind_name) + " · " +
            (s.open ? "现在开放" : "现在未开放") + " · " + esc(s.community) + "</li>";
        }));
        list.innerHTML = rows.join("");
      }
      var summary = document.getElementById("map-summary");
      if (summary) {
        summary.textContent = "地图上有 " + data.tickets.length + " 件工单、" + data.stations.length + " 个站点" +
          (data.unlocated_open ? "；另有 " + data.unlocated_open + " 件未结工单没有坐标，不在地图上" : "") + "。";
      }
      root.setAttribute("data-loaded", "1");
    });
}());
