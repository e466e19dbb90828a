// Statistics charts: fetches the page's JSON and draws each [data-chart] with ECharts.
// Each chart element gets data-rendered="1" once ECharts has finished drawing it.
(function () {
  "use strict";
  var root = document.getElementById("charts");
  if (!root || !window.echarts) { return; }
  var red = "#a93226", blue = "#1f5fa8", green = "#2e7d32", grey = "#8a949e";
  var font = {fontFamily: "Noto Sans CJK SC, PingFang SC, Microsoft YaHei, sans-serif"};

  function bars(categories, series, horizontal) {
    var cat = {type: "category", data: categories, axisLabel: {interval: 0, rotate: horizontal ? 0 : 30}};
    var val = {type: "value"};
    return {
      textStyle: font, tooltip: {trigger: "axis"}, legend: {top: 0},
      grid: {left: 60, right: 20, top: 30, bottom: 60},
      xAxis: horizontal ? val : cat, yAxis: horizontal ? cat : val,
      series: series.map(function (s) { return {name: s.name, type: "bar", data: s.data, itemStyle: {color: s.color}}; })
    };
  }

  var options = {
    tickets_per_day: function (d) {
      return {textStyle: font, tooltip: {trigger: "axis"}, grid: {left: 40, right: 20, top: 20, bottom: 40},
        xAxis: {type: "category", data: d.days}, yAxis: {type: "value", minInterval: 1},
        series: [{name: "报事数", type: "line", smooth: true, data: d.counts, areaStyle: {opacity: 0.15}, itemStyle: {color: red}}]};
    },
    tickets_per_category: function (d) {
      return {textStyle: font, tooltip: {trigger: "item"}, legend: {type: "scroll", orient: "vertical", right: 0, top: 10},
        series: [{name: "类别", type: "pie", radius: ["35%", "65%"], center: ["38%", "52%"], data: d}]};
    },
    resolve_hours: function (d) {
      return bars(d.departments, [{name: "中位数", data: d.median, color: blue}, {name: "90%分位", data: d.p90, color: red}]);
    },
    ratings: function (d) { return bars(d.stars, [{name: "评价数", data: d.counts, color: green}]); },
    bookings: function (d) {
      return bars(d.services, [{name: "已约", data: d.filled, color: blue}, {name: "名额", data: d.capacity, color: grey}]);
    },
    points: function (d) {
      return {textStyle: font, tooltip: {trigger: "axis"}, legend: {top: 0}, grid: {left: 50, right: 20, top: 30, bottom: 40},
        xAxis: {type: "category", data: d.days}, yAxis: {type: "value"},
        series: [{name: "发放", type: "line", data: d.earned, itemStyle: {color: green}},
                 {name: "兑换", type: "line", data: d.redeemed, itemStyle: {color: red}}]};
    }
  };

  fetch(root.getAttribute("data-src"), {credentials: "same-origin"}).then(function (r) { return r.json(); })
    .then(function (data) {
      var charts = [];
      root.querySelectorAll("[data-chart]").forEach(function (el) {
        var key = el.getAttribute("data-chart");
        var chart = echarts.init(el, null, {renderer: "canvas"});
        chart.on("finished", function () { el.setAttribute("data-rendered", "1"); });
        chart.setOption(options[key](data[key]));
        charts.push(chart);
      });
      window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
      root.setAttribute("data-loaded", "1");
    });
}());
