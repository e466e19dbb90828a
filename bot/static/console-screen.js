// The street screen: fetches /console/screen.json, fills the counts, today's reports, the
// map and two trend charts, and refreshes itself every data-refresh seconds. The root gets
// data-loaded="N" after the N-th successful refresh; each chart data-rendered="1".
(function () {
  "use strict";
  var root = document.getElementById("screen");
  if (!root || !window.echarts || !window.LinliMap) { return; }
  var font = {fontFamily: "Noto Sans CJK SC, PingFang SC, Microsoft YaHei, sans-serif", color: "#dfe8f5"};
  var axis = {axisLine: {lineStyle: {color: "#4a78b0"}}, axisLabel: {color: "#9fb6d4"},
    splitLine: {lineStyle: {color: "#183a66"}}};
  var map = null, trends = {}, loads = 0;

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text != null) { e.textContent = text; }
    if (cls) { e.className = cls; }
    return e;
  }

  function trendOption(days, lines) {
    return {textStyle: font, animation: false, tooltip: {trigger: "axis"},
      legend: {top: 0, textStyle: {color: "#dfe8f5"}}, grid: {left: 40, right: 16, top: 28, bottom: 28},
      xAxis: Object.assign({type: "category", data: days.map(function (d) { return d.slice(5); })}, axis),
      yAxis: Object.assign({type: "value", minInterval: 1}, axis),
      series: lines.map(function (l) {
        return {name: l.name, type: "line", symbol: "none", data: l.data,
          itemStyle: {color: l.color}, areaStyle: {opacity: 0.12}};
      })};
  }

  function trend(key, option) {
    var box = root.querySelector("[data-trend=" + key + "]");
    if (!trends[key]) {
      trends[key] = echarts.init(box, null, {renderer: "canvas"});
      trends[key].on("finished", function () { box.setAttribute("data-rendered", "1"); });
    }
    trends[key].setOption(option, {notMerge: true});
  }

  function render(d) {
    document.getElementById("s-at").textContent = "数据时间 " + d.at + " · 每 " + root.getAttribute("data-refresh") + " 秒刷新";
    document.getElementById("t-open").textContent = d.totals.open;
    document.getElementById("t-overdue").textContent = d.totals.overdue;
    document.getElementById("t-today").textContent = d.totals.today;
    var body = document.getElementById("s-communities");
    body.textContent = "";
    d.communities.forEach(function (c) {
      var tr = el("tr");
      tr.appendChild(el("td", c.name));
      tr.appendChild(el("td", c.open));
      tr.appendChild(el("td", c.overdue, c.overdue ? "hot" : null));
      tr.appendChild(el("td", c.today));
      body.appendChild(tr);
    });
    var list = document.getElementById("s-today");
    list.textContent = "";
    if (!d.today_reports.length) { list.appendChild(el("li", "今天还没有报事")); }
    d.today_reports.forEach(function (r) {
      var li = el("li");
      li.appendChild(el("span", r.time, "time"));
      var a = el("a", r.id);
      a.href = r.url;
      li.appendChild(a);
      li.appendChild(el("span", r.community + " · " + r.category + " · " + r.status));
      list.appendChild(li);
    });
    if (!map) { map = LinliMap.draw(document.getElementById("s-map"), d.map, {dark: true}); }
    else { map.update(d.map); }
    trend("tickets", trendOption(d.trend_tickets.days, [
      {name: "新报事", data: d.trend_tickets["new"], color: "#ff7a6b"},
      {name: "办结", data: d.trend_tickets.resolved, color: "#5fd3ff"}]));
    trend("points", trendOption(d.trend_points.days, [
      {name: "发放", data: d.trend_points.earned, color: "#7ee2a8"},
      {name: "兑换", data: d.trend_points.redeemed, color: "#ffc94d"}]));
    loads += 1;
    root.setAttribute("data-loaded", String(loads));
  }

  function refresh() {
    fetch(root.getAttribute("data-src"), {credentials: "same-origin", cache: "no-store"})
      .then(function (r) {
        if (r.redirected || !r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(render)
      .catch(function (e) {  // keep the last figures; say they are stale
        document.getElementById("s-at").textContent = "刷新失败，稍后重试（" + e.message + "）";
      });
  }

  document.getElementById("s-full").addEventListener("click", function () {
    if (document.fullscreenElement) { document.exitFullscreen(); }
    else if (document.documentElement.requestFullscreen) { document.documentElement.requestFullscreen(); }
  });
  window.addEventListener("resize", function () { Object.keys(trends).forEach(function (k) { trends[k].resize(); }); });
  refresh();
  window.setInterval(refresh, Math.max(10, Number(root.getAttribute("data-refresh")) || 60) * 1000);
}());
