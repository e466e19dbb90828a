// Web chat: sends what the resident types (or a menu button's payload) to /chat/send
// and shows the replies. The identity is the server's signed cookie; the token header
// proves the request comes from this page.
(function () {
  "use strict";
  var main = document.querySelector(".phone");
  var token = main.getAttribute("data-token");
  var log = document.getElementById("log");
  var form = document.getElementById("composer");
  var input = document.getElementById("message");
  var status = document.getElementById("status");
  var busy = false;

  function add(who, text, buttons) {
    var li = document.createElement("li");
    li.className = "msg " + who;
    var bubble = document.createElement("div");
    bubble.className = "bubble";
    bubble.textContent = text;
    li.appendChild(bubble);
    if (buttons && buttons.length) {
      var row = document.createElement("div");
      row.className = "buttons";
      buttons.forEach(function (b) {
        var btn = document.createElement("button");
        btn.type = "button";
        btn.textContent = b.title;
        btn.setAttribute("data-payload", b.payload);
        btn.addEventListener("click", function () { send(b.payload, b.title); });
        row.appendChild(btn);
      });
      li.appendChild(row);
    }
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
  }

  function send(text, shown) {
    if (busy || !text.trim()) { return; }
    busy = true;
    main.setAttribute("data-busy", "1");
    if (shown !== null) { add("me", shown || text); }
    status.textContent = "";
    fetch("/chat/send", {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-Chat-Token": token},
      body: JSON.stringify({message: text})
    }).then(function (resp) {
      return resp.json().then(function (body) { return {ok: resp.ok, body: body}; });
    }).then(function (r) {
      if (!r.ok) {
        status.textContent = (r.body && r.body.error && r.body.error.message) || "发送失败，请稍后再试";
        return;
      }
      r.body.forEach(function (m) { add("bot", m.text, m.buttons); });
    }).catch(function () {
      status.textContent = "网络不通，请稍后再试";
    }).then(function () {
      busy = false;
      main.setAttribute("data-busy", "0");
      main.setAttribute("data-replies", String(log.querySelectorAll(".msg.bot").length));
      input.focus();
    });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value;
    input.value = "";
    send(text);
  });
  send("你好", null);
}());
